#!/usr/bin/env python3
"""PyTorch DistributedDataParallel beside `mpirun -np N tapegrad bench`: the stacked-RNN
workload of tools/bench/reference/torch_rnn.py trained data-parallel over N processes.

    /usr/bin/python3 tools/bench/bench_dist_torch.py --ranks 2 --hidden 256,256 --seq 50 \\
        --features 32 --samples 2048 --batch 64 --epochs 3 --threads 1

--ranks N starts N worker processes of this script on this machine (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT in their environment, as torch's launcher sets them; that launcher,
python3 -m torch.distributed.run, fails on Debian's torch 1.13 under Python 3.11) and
returns the first failing exit status. One rank trains the plain model, no DDP, as
`tapegrad bench` does without mpirun. The other flags are torch_rnn.py's (its model, Keras
init, data, Adam and MSE are imported from it, so the two cannot drift), plus
--bucket-cap-mb (DDP's, default 25). The reference's folder is $REF_DIR, else
reference/ beside this file.

Protocol: torch_rnn.py's (warm-up epoch, weights restored, fresh Adam, shuffle RNG re-seeded
with seed + 1, whole epochs timed), every rank drawing the same shuffles; rank r of N trains
rows [r*b/N, (r+1)*b/N) of each global batch of b rows (the split of tapegrad's fit and
bench), its loss weighted by its share so that DDP's mean over the ranks is the gradient of
the global batch's mean loss. Rank 0 prints torch_rnn.py's JSON line with "impl":
"torch-ddp" and the data-parallel fields of `tapegrad bench`: "ranks", "samples_per_s", and
"comm_ms_per_step" / "exposed_ms_per_step" / "exposed_comm_share" estimated from DDP's own
sampled timers (avg_backward_comm_time minus avg_backward_compute_comm_overlap_time, per
step; null where this torch does not record them). They are DDP's estimate, not measured
the way tapegrad's DataParallel measures its wait.
"""
import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
ref_dir = os.environ.get("REF_DIR", os.path.join(here, "reference"))
extra = argparse.ArgumentParser(add_help=False)
extra.add_argument("--bucket-cap-mb", type=float, default=25.0)
extra.add_argument("--ranks", type=int, default=1)
ddp_args, reference_argv = extra.parse_known_args()


def launch(ranks):
    """Runs this script on `ranks` worker processes; the first non-zero exit status, or 0."""
    import socket
    import subprocess
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workers = []
    for rank in range(ranks):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(ranks), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port))
        workers.append(subprocess.Popen([sys.executable] + sys.argv, env=env))
    codes = [w.wait() for w in workers]
    return next((c for c in codes if c != 0), 0)


if "RANK" not in os.environ:
    sys.exit(launch(ddp_args.ranks))
# torch_rnn.py reads its flags and sets the thread pools when imported.
sys.argv = [sys.argv[0]] + reference_argv
sys.path.insert(0, ref_dir)
import torch_rnn  # noqa: E402
from torch_rnn import args, torch, nn  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))


def share_of(rows):
    """Rows [begin, end) of a batch of `rows` rows that this rank trains on."""
    return rows * RANK // WORLD, rows * (RANK + 1) // WORLD


def run_epoch(model, opt, loss_fn, X, y, batch):
    """One epoch; this rank's term of the sample-weighted mean batch loss."""
    n = X.shape[0]
    perm = torch.randperm(n)
    total = 0.0
    for s in range(0, n, batch):
        idx = perm[s:s + batch]
        begin, end = share_of(idx.numel())
        if begin == end:
            sys.exit("bench_dist_torch.py: a batch of %d rows leaves rank %d nothing; DDP "
                     "needs every rank in backward" % (idx.numel(), RANK))
        mine = idx[begin:end]
        weight = (end - begin) / idx.numel()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(X[mine]), y[mine])
        # DDP averages over the ranks; weight * WORLD makes that the global batch's mean.
        scaled = loss if weight * WORLD == 1.0 else loss * (weight * WORLD)
        scaled.backward()
        opt.step()
        total += loss.item() * weight * idx.numel()
    return total / n


def ddp_estimate(model):
    """DDP's sampled timers: (comm ms per step, exposed ms per step) or (None, None)."""
    try:
        data = model._get_ddp_logging_data()
        comm = data["avg_backward_comm_time"] * 1e-6  # ns -> ms
        overlap = data["avg_backward_compute_comm_overlap_time"] * 1e-6
    except (AttributeError, KeyError, RuntimeError):
        return None, None
    return comm, max(comm - overlap, 0.0)


def main():
    base_rss = torch_rnn.rss_mb()
    if WORLD > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(args.seed)
    X = torch.rand(args.samples, args.seq, args.features)
    y = torch.rand(args.samples, 1)
    net = torch_rnn.Net(args.cell, args.features, args.hidden)
    net.keras_init()
    model = net
    if WORLD > 1:
        model = DistributedDataParallel(net, bucket_cap_mb=ddp_args.bucket_cap_mb)
        model._set_ddp_runtime_logging_sample_rate(1)  # time every step, not every 100th
    params = [p for p in net.parameters() if p.requires_grad]
    init_state = [p.detach().clone() for p in params]
    loss_fn = nn.MSELoss()

    def make_opt():
        return torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    run_epoch(model, make_opt(), loss_fn, X, y, args.batch)  # warm-up
    with torch.no_grad():
        for p, s in zip(params, init_state):
            p.copy_(s)
    opt = make_opt()
    torch.manual_seed(args.seed + 1)

    times, loss = [], float("nan")
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        loss = run_epoch(model, opt, loss_fn, X, y, args.batch)
        times.append(time.perf_counter() - t0)
    comm_ms, exposed_ms = ddp_estimate(model) if WORLD > 1 else (0.0, 0.0)
    if WORLD > 1:
        total = torch.tensor([loss], dtype=torch.float64)
        dist.all_reduce(total)
        loss = total.item()
    if RANK == 0:
        median = statistics.median(times) if times else 0.0
        steps = -(-args.samples // args.batch)
        share = None if exposed_ms is None else exposed_ms * steps * 1e-3 / median
        print(json.dumps({
            "impl": "torch-ddp", "cell": args.cell, "hidden": args.hidden, "seq": args.seq,
            "features": args.features, "samples": args.samples, "batch": args.batch,
            "epochs": args.epochs, "threads": args.threads, "blas_threads": args.blas_threads,
            "seed": args.seed,
            "params": sum(p.numel() for p in params),
            "epoch_ms_median": round(median * 1e3, 3),
            "epoch_ms_min": round(min(times) * 1e3, 3) if times else 0.0,
            "train_s_total": round(sum(times), 4),
            "final_loss": loss,
            "peak_rss_mb": torch_rnn.rss_mb(), "base_rss_mb": base_rss,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "blas": torch_rnn.blas_config(),
            "ranks": WORLD,
            "samples_per_s": round(args.samples / median, 1) if median else 0.0,
            "bucket_cap_mb": ddp_args.bucket_cap_mb,
            "comm_ms_per_step": comm_ms, "exposed_ms_per_step": exposed_ms,
            "exposed_comm_share": share,
        }), flush=True)
    if WORLD > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
