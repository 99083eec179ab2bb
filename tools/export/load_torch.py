#!/usr/bin/python3
"""Load a model written by `tapegrad export FILE --to torch -o m.safetensors` into PyTorch.

    python3 tools/export/load_torch.py m.safetensors --data series.csv   # CSV on stdout
    python3 tools/export/load_torch.py m.safetensors                     # the torch model

The file is safetensors: an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw data. Debian has no `safetensors` package,
so it is read here with the standard library and numpy. Its metadata holds tapegrad's model
config (the layers, their sizes and options) and, for a model `tapegrad train --data` wrote,
the scaler and the window; the tensors are a torch state_dict of nn.RNN / LSTM / GRU layers
(batch_first=True) and nn.Linear layers, named "0.weight_ih_l0", "2.weight", ...

With --data, the series is scaled with train's scaler, cut into windows of train's length,
and each window's next value predicted and unscaled: the CSV `tapegrad predict --weights
model.safetensors --data series.csv` writes (sample,target,prediction).
"""
import argparse
import csv
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "F64": np.float64}
ACTIVATIONS = {"linear": nn.Identity, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU,
               "softmax": lambda: nn.Softmax(dim=-1)}
RECURRENT = {"SimpleRNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def read_safetensors(path):
    """(tensors by name as numpy arrays, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]])
        tensors[name] = array.reshape(entry["shape"])
    return tensors, metadata


class Recurrent(nn.Module):
    """A tapegrad recurrent layer (or Bidirectional) as one torch layer: the sequence output
    or the final output, merged over both directions as Keras merges them."""

    def __init__(self, node, bidirectional=False, merge="concat"):
        super().__init__()
        config = node["config"]
        cell = node["children"][0]["config"]
        kind = RECURRENT[node["class_name"]]
        extra = {"nonlinearity": cell["activation"]} if kind is nn.RNN else {}
        self.layer = kind(config["in_features"], config["units"], batch_first=True,
                          bidirectional=bidirectional, **extra)
        self.return_sequences = config["return_sequences"]
        self.go_backwards = config["go_backwards"] and not bidirectional
        self.merge = merge

    def forward(self, x):
        out, state = self.layer(x.flip(1) if self.go_backwards else x)
        if not self.layer.bidirectional:
            return out if self.return_sequences else out[:, -1]
        h = self.layer.hidden_size
        if self.return_sequences:  # torch gives the backward outputs in input order, as Keras
            ahead, behind = out[..., :h], out[..., h:]
        else:
            final = state[0] if isinstance(state, tuple) else state  # (2, B, H)
            ahead, behind = final[0], final[1]
        if self.merge == "concat":
            return torch.cat([ahead, behind], dim=-1)
        return {"sum": ahead + behind, "mul": ahead * behind, "ave": (ahead + behind) / 2}[
            self.merge]


def build_layer(node):
    kind, config = node["class_name"], node.get("config") or {}
    if kind in RECURRENT:
        return Recurrent(node)
    if kind == "Bidirectional":
        forward = next(c for c in node["children"] if c["name"] == "forward_layer")
        if forward["config"]["go_backwards"]:
            sys.exit("load_torch: a Bidirectional whose forward layer reads backwards is not "
                     "supported here")
        return Recurrent(forward, bidirectional=True, merge=config["merge"])
    if kind == "Dense":
        return nn.Sequential(nn.Linear(config["in_features"], config["units"],
                                       bias=config["use_bias"]),
                             ACTIVATIONS[config["activation"]]())
    if kind == "Dropout":
        return nn.Identity()  # inference
    sys.exit(f"load_torch: no torch layer for a tapegrad {kind}")


class Model(nn.Module):
    """The layers of a tapegrad Sequential, named "0", "1", ... as export names them."""

    def __init__(self, top):
        super().__init__()
        children = top["children"] if top["class_name"] == "Sequential" else [top]
        for child in children:
            self.add_module(child.get("name", "0"), build_layer(child))

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x


def torch_state(tensors, model):
    """The file's tensors under the names of `model`'s state_dict (the layers above wrap
    torch's own: "0.weight_ih_l0" is "0.layer.weight_ih_l0", "2.weight" is "2.0.weight")."""
    state = {}
    for name in model.state_dict():
        layer, *inner, parameter = name.split(".")
        state[name] = torch.from_numpy(tensors[f"{layer}.{parameter}"].copy())
    return state


def load(path):
    """The torch model of an exported file, its weights loaded, in eval mode; and the
    file's metadata."""
    tensors, metadata = read_safetensors(path)
    if "model_config" not in metadata:
        sys.exit(f"load_torch: '{path}' holds no model config (write it with tapegrad export)")
    model = Model(json.loads(metadata["model_config"])["model"])
    model.load_state_dict(torch_state(tensors, model))
    dtype = next(iter(tensors.values())).dtype
    return model.to(torch.float64 if dtype == np.float64 else torch.float32).eval(), metadata


def read_column(path, column):
    """The values of one column (a header name or an index, default the last) of a CSV."""
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    header = rows[0]
    try:
        [float(v) for v in header]
        names = None
    except ValueError:
        names, rows = header, rows[1:]
    index = -1 if column is None else (names.index(column) if names and column in names
                                       else int(column))
    return np.array([float(row[index]) for row in rows])


def predict_series(model, metadata, series):
    """(target, prediction) per window, on the series' own scale."""
    lo, hi = float(metadata["data.scaler_min"]), float(metadata["data.scaler_max"])
    window = int(metadata["data.window"])
    scale = 1.0 / (hi - lo if hi > lo else 1.0)
    scaled = (series - lo) * scale
    dtype = next(model.parameters()).dtype
    x = np.stack([scaled[i:i + window] for i in range(len(series) - window)])[..., None]
    with torch.no_grad():
        out = model(torch.from_numpy(x).to(dtype)).double().numpy()[:, 0]
    return series[window:], out / scale + lo


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", help="safetensors file written by tapegrad export --to torch")
    parser.add_argument("--data", help="CSV series to predict (as tapegrad predict --data)")
    parser.add_argument("--column", help="CSV column (name or index); default train's, else "
                        "the last")
    args = parser.parse_args()
    model, metadata = load(args.file)
    if not args.data:
        print(model)
        return
    if "data.window" not in metadata:
        sys.exit(f"load_torch: '{args.file}' has no scaler and window (train it with --data)")
    column = args.column or metadata.get("data.column")
    target, prediction = predict_series(model, metadata, read_column(args.data, column))
    # As tapegrad predict writes them: the shortest text of the model's dtype.
    shown = np.float32 if next(model.parameters()).dtype == torch.float32 else float
    print("sample,target,prediction")
    for i, (t, p) in enumerate(zip(target, prediction)):
        print(f"{i},{t:g},{shown(p)!s}")


if __name__ == "__main__":
    main()
