"""gradus.torch inside torch.distributed (gloo, 2 processes on localhost): DDP and
ZeroRedundancyOptimizer."""

import os
import tempfile

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

import gradus.torch as gt  # noqa: E402

WORLD = 2
STEPS = 20


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 2)).double()


def batch():
    g = torch.Generator().manual_seed(3)
    return torch.randn(32, 6, generator=g, dtype=torch.float64), torch.randn(32, 2, generator=g, dtype=torch.float64)


def flat(m):
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()])


def ddp_worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        net = torch.nn.parallel.DistributedDataParallel(model())
        opt = gt.Adam(net.parameters(), lr=0.01)
        x, y = batch()
        half = x.shape[0] // WORLD
        xs, ys = x[rank * half:(rank + 1) * half], y[rank * half:(rank + 1) * half]
        for _ in range(STEPS):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(xs), ys).backward()
            opt.step()
        torch.save(flat(net.module), os.path.join(out_dir, f"ddp{rank}.pt"))
    finally:
        dist.destroy_process_group()


def zero_worker(rank, init_file, out_dir):
    from torch.distributed.optim import ZeroRedundancyOptimizer

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        net = model()
        opt = ZeroRedundancyOptimizer(net.parameters(), optimizer_class=gt.Adam, lr=0.01)
        x, y = batch()
        losses = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        opt.consolidate_state_dict(to=0)
        if rank == 0:
            state = opt.state_dict()
            torch.save({"state": state, "params": flat(net), "losses": losses}, os.path.join(out_dir, "zero.pt"))
        dist.barrier()
        # Every rank loads the consolidated state into a fresh ZeRO optimizer and
        # continues; the shards agree with an unsharded run that loads it too.
        state = torch.load(os.path.join(out_dir, "zero.pt"))["state"]
        opt2 = ZeroRedundancyOptimizer(net.parameters(), optimizer_class=gt.Adam, lr=0.01)
        opt2.load_state_dict(state)
        opt2.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt2.step()
        torch.save(flat(net), os.path.join(out_dir, f"zero_resumed{rank}.pt"))
    finally:
        dist.destroy_process_group()


def single_process_adam():
    """gradus' Adam alone on the full batch: what the distributed runs must equal."""
    single = model()
    opt = gt.Adam(single.parameters(), lr=0.01)
    x, y = batch()
    for _ in range(STEPS):
        opt.zero_grad()
        torch.nn.functional.mse_loss(single(x), y).backward()
        opt.step()
    return single, opt


def spawn(worker, tmp_path):
    init_file = tmp_path / "init"
    mp.spawn(worker, args=(str(init_file), str(tmp_path)), nprocs=WORLD, join=True)


def test_ddp_with_gradus_adam_agrees_across_ranks_and_with_one_process(tmp_path):
    spawn(ddp_worker, tmp_path)
    r0, r1 = (torch.load(tmp_path / f"ddp{r}.pt") for r in range(WORLD))
    assert torch.equal(r0, r1)
    single, _ = single_process_adam()
    assert not torch.equal(flat(single), flat(model()))
    torch.testing.assert_close(r0, flat(single), rtol=1e-6, atol=1e-6)


def test_zero_redundancy_optimizer_trains_and_its_consolidated_state_loads(tmp_path):
    spawn(zero_worker, tmp_path)
    saved = torch.load(tmp_path / "zero.pt")
    assert saved["losses"][-1] < saved["losses"][0]
    # ZeRO with gradus' Adam equals gradus' Adam alone on the same (full) batch.
    single, opt = single_process_adam()
    x, y = batch()
    torch.testing.assert_close(saved["params"], flat(single), rtol=1e-12, atol=1e-12)
    # The consolidated state is a complete torch-format state dict for all 4 tensors.
    state = saved["state"]
    assert sorted(state["state"]) == [0, 1, 2, 3]
    assert all(float(s["step"]) == STEPS for s in state["state"].values())
    # Resuming from it on every rank equals one more step of the unsharded run.
    opt.zero_grad()
    torch.nn.functional.mse_loss(single(x), y).backward()
    opt.step()
    for r in range(WORLD):
        torch.testing.assert_close(torch.load(tmp_path / f"zero_resumed{r}.pt"), flat(single), rtol=1e-12, atol=1e-12)
