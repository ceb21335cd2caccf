#!/usr/bin/env python3
"""Data-parallel training with gradus inside PyTorch's own distributed engine: two
processes on this machine (gloo backend), DistributedDataParallel averaging the
gradients, ``gradus.torch.Adam`` stepping each replica, and ZeroRedundancyOptimizer
sharding gradus' optimizer state between the ranks.

    pip install ./crates/gradus-python torch
    python examples/python/ddp_adam.py            # spawns 2 processes
"""

import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.optim import ZeroRedundancyOptimizer

import gradus.torch

WORLD = 2


def worker(rank, init_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    # Each rank keeps the Adam state of half of the parameters.
    opt = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=gradus.torch.Adam, lr=1e-2)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 8, generator=g)
    y = x.sum(1, keepdim=True).sin()
    shard = slice(rank * 128, (rank + 1) * 128)  # each rank sees its half of the data
    for step in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ddp(x[shard]), y[shard])
        loss.backward()
        opt.step()
        if rank == 0 and step % 50 == 0:
            print(f"step {step:3d}  loss on rank 0's shard {loss.item():.4f}")
    opt.consolidate_state_dict(to=0)
    if rank == 0:
        state = opt.state_dict()
        print(f"consolidated optimizer state: {len(state['state'])} tensors")
    dist.destroy_process_group()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(os.path.join(tmp, "init"),), nprocs=WORLD, join=True)
