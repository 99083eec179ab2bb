#!/usr/bin/python3
"""tools/export/load_torch.py against PyTorch: for each cell, a model trained by
`tapegrad train --data`, exported with `tapegrad export --to torch`, is built and run by
PyTorch through the loader, and its predictions of every window of the series equal what
`tapegrad predict` writes (relative difference below 1e-5).

    test_load_torch.py TAPEGRAD LOAD_TORCH_PY SERIES_CSV

Exits 77 (ctest's SKIP_RETURN_CODE) when torch or numpy cannot be imported.
"""
import csv
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

TOLERANCE = 1e-5


def run(*args):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def rows(text):
    return [(float(r["target"]), float(r["prediction"])) for r in csv.DictReader(text.splitlines())]


def main():
    for module in ("torch", "numpy"):
        if importlib.util.find_spec(module) is None:
            print(f"skipped: {module} is not importable by {sys.executable}")
            sys.exit(77)
    tapegrad, loader, series = sys.argv[1:4]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for cell in ("rnn", "lstm", "gru"):
            out = tmp / cell
            run(tapegrad, "train", "--cell", cell, "--units", "8,4", "--epochs", "2",
                "--verbose", "0", "--data", series, "--window", "6", "--out-dir", out)
            weights = out / "model.safetensors"
            run(tapegrad, "predict", "--weights", weights, "--data", series,
                "-o", out / "pred.csv")
            run(tapegrad, "export", weights, "--to", "torch", "-o", out / "torch.safetensors")
            expected = rows((out / "pred.csv").read_text())
            actual = rows(run(sys.executable, loader, out / "torch.safetensors", "--data", series))
            if len(actual) != len(expected):
                sys.exit(f"{cell}: {len(actual)} torch predictions, tapegrad predict wrote "
                         f"{len(expected)}")
            for i, ((target, want), (torch_target, got)) in enumerate(zip(expected, actual)):
                if target != torch_target:
                    sys.exit(f"{cell}: window {i}: target {torch_target}, predict's {target}")
                difference = abs(got - want) / max(abs(want), 1e-12)
                if difference > TOLERANCE:
                    sys.exit(f"{cell}: window {i}: torch predicts {got}, tapegrad {want}")
                worst = max(worst, difference)
            print(f"{cell}: {len(actual)} windows, torch and tapegrad agree")
    print(f"largest relative difference {worst:.2e} (tolerance {TOLERANCE:g})")


if __name__ == "__main__":
    main()
