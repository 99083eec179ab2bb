#!/usr/bin/env python3
"""The user's SimpleRNN-like cell of tools/bench/bench_custom_cell.cpp in PyTorch, as a user writes
it there: a torch.nn.Module with Parameters and a Python loop over time,
    for t in range(T): h = torch.tanh(x[:, t] @ W + h @ U + b)
Same configs (A: 64,32 stacked, T10, F1, 100 samples, bs 32, 100 epochs; B: units 128, T50,
F32, 512 samples, bs 64, 10 epochs) and protocol (one untimed warm-up epoch, weights and
optimizer reset, Adam(1e-3, 0.9, 0.999, eps 1e-7), MSE, every epoch timed whole), one thread.
Prints one JSON line per config: the median over `--runs` runs of the median epoch in ms.
    /usr/bin/python3 tools/bench/bench_custom_cell.py [--config A|B|both] [--runs 5]
"""
import argparse
import json
import os
import statistics
import time

# OpenBLAS reads its thread count when loaded: pin it before importing torch.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)

CONFIGS = {
    "A": dict(units=[64, 32], seq=10, features=1, samples=100, batch=32, epochs=100),
    "B": dict(units=[128], seq=50, features=32, samples=512, batch=64, epochs=10),
}


class UserCellLayer(nn.Module):
    """h_t = tanh(x_t W + h_{t-1} U + b), Keras's initialization."""

    def __init__(self, features, units, return_sequences):
        super().__init__()
        self.W = nn.Parameter(nn.init.xavier_uniform_(torch.empty(features, units)))
        self.U = nn.Parameter(nn.init.orthogonal_(torch.empty(units, units)))
        self.b = nn.Parameter(torch.zeros(units))
        self.return_sequences = return_sequences

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.U.shape[0])
        outputs = []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ self.W + h @ self.U + self.b)
            outputs.append(h)
        return torch.stack(outputs, 1) if self.return_sequences else h


class Net(nn.Module):
    def __init__(self, features, units):
        super().__init__()
        sizes = [features] + units
        self.layers = nn.ModuleList(
            UserCellLayer(sizes[i], sizes[i + 1], i + 1 < len(units)) for i in range(len(units)))
        self.dense = nn.Linear(units[-1], 1)
        with torch.no_grad():
            nn.init.xavier_uniform_(self.dense.weight)
            self.dense.bias.zero_()

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.dense(x)


def run_epoch(model, opt, X, y, batch):
    n = X.shape[0]
    perm = torch.randperm(n)
    total = 0.0
    for s in range(0, n, batch):
        idx = perm[s:s + batch]
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(X[idx]), y[idx])
        loss.backward()
        opt.step()
        total += loss.item() * idx.numel()
    return total / n


def median_epoch_ms(c, seed):
    torch.manual_seed(seed)
    X = torch.rand(c["samples"], c["seq"], c["features"])
    y = torch.rand(c["samples"], 1)
    model = Net(c["features"], c["units"])
    params = list(model.parameters())
    initial = [p.detach().clone() for p in params]

    def make_opt():
        return torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    run_epoch(model, make_opt(), X, y, c["batch"])  # warm-up
    with torch.no_grad():
        for p, p0 in zip(params, initial):
            p.copy_(p0)
    opt = make_opt()
    torch.manual_seed(seed + 1)
    times, loss = [], float("nan")
    for _ in range(c["epochs"]):
        t0 = time.perf_counter()
        loss = run_epoch(model, opt, X, y, c["batch"])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, loss


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=["A", "B", "both"], default="both")
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    for name, c in CONFIGS.items():
        if a.config not in (name, "both"):
            continue
        results = [median_epoch_ms(c, r) for r in range(a.runs)]
        print(json.dumps({
            "config": name, "impl": "torch-py loop", **c, "runs": a.runs,
            "epoch_ms": round(statistics.median(ms for ms, _ in results), 3),
            "final_loss": results[-1][1], "torch": torch.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
