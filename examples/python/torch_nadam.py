#!/usr/bin/env python3
"""A small torch model trained with ``gradus.torch.NAdam``: an MLP classifying the
two-moons-like spirals below, with a torch lr scheduler driving gradus' optimizer and
a checkpoint saved and restored mid-run.

    pip install ./crates/gradus-python torch
    python examples/python/torch_nadam.py
"""

import io

import torch

import gradus.torch

torch.manual_seed(0)
n = 512
t = torch.rand(n) * 3 * torch.pi
label = torch.randint(0, 2, (n,))
r = t / (3 * torch.pi)
x = torch.stack([r * torch.cos(t + label * torch.pi), r * torch.sin(t + label * torch.pi)], 1)
x += 0.02 * torch.randn_like(x)

model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
opt = gradus.torch.NAdam(model.parameters(), lr=1e-2, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=400)

for step in range(400):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), label)
    loss.backward()
    opt.step()
    sched.step()
    if step == 200:
        # A checkpoint round trip in the middle of the run, as with any torch optimizer.
        buf = io.BytesIO()
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
        buf.seek(0)
        ckpt = torch.load(buf)
        opt.load_state_dict(ckpt["opt"])
    if step % 100 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}  lr {opt.param_groups[0]['lr']:.5f}")

accuracy = (model(x).argmax(1) == label).float().mean().item()
print(f"final loss {loss.item():.4f}, training accuracy {accuracy:.1%}")
