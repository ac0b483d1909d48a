"""The NumPy floor under the dense tasks of issue 5: how fast can one training step possibly be?

    python benchmarks/floor.py [--tasks xor,moons,digits,mnist_sgd1,mnist_wide,mnist1d_mlp] [--out PATH]

For each dense task, one training step on a batch of the task's size, timed in four layers of work,
on the BLAS threads that ``fit`` uses for the task (``glassnet.blas``):

- **matmuls**: only the step's matrix products, into buffers made beforehand: forward ``x @ W``;
  backward ``x.T @ dz``, ``ones @ dz`` (the bias) and ``dz @ W.T`` (not for the first layer, whose
  input gradient nobody needs). No NumPy implementation of the network can skip them. Each goes
  through the faster of NumPy's two routes, as glassnet's ``Dense`` picks it: ``np.dot`` for
  products under 2^17 multiply-adds (less call overhead; its C function, as ``Dense`` calls it,
  without the Python wrapper: ``glassnet._numpy_c``), ``np.matmul`` for bigger ones.
- **+ exp**: plus one ``np.exp`` per element of every sigmoid and softmax output, in place (the
  cheapest transcendental NumPy has: ``tanh`` is slower).
- **+ optimizer**: plus glassnet's optimizer update of all parameters (Adam: 12 in-place passes,
  the fewest NumPy's ufuncs allow; SGD: 2).
- **glassnet**: ``Sequential._train_step``, the step ``fit`` runs.

Each is the fastest of several blocks of many calls, the four taking turns (a floor, not a
typical time). Then PyTorch and
glassnet each train the task in a fresh ``run.py`` worker for a few epochs, and the target turns into
the step time it allows: target x PyTorch's seconds per epoch / steps per epoch. Where the floor is
above that, no NumPy code on this machine can meet the target. The report goes to
``docs/benchmarks_floor.md``.
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import run  # noqa: E402
from tasks import TASKS, build_glassnet, compile_glassnet, load_data, prepare  # noqa: E402
from glassnet import _numpy_c  # noqa: E402  (np.dot and np.einsum as Dense calls them)
from glassnet.layers.dense import _DOT_MAX_MACS  # noqa: E402  (Dense's own np.dot / matmul rule)

DENSE_TASKS = [name for name, spec in TASKS.items() if all(l["type"] == "dense" for l in spec["layers"])]
DEFAULT_TASKS = DENSE_TASKS


def best_seconds(fns, calls, rounds=9):
    """{name: seconds per call} for the functions in ``fns`` ({name: fn}): in each of ``rounds``
    rounds every function runs a block of ``calls`` calls in turn, and each keeps its fastest
    block. Taking turns spreads the machine's drift evenly over all of them."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, math.inf)
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return best


def batches(spec, n_classes):
    """The task's full-size training batches in order, targets shaped as glassnet's runner gives
    them: the timed step walks through them as fit does. (Training on one batch over and over
    drives the gradients towards zero, into float32's subnormal range, where arithmetic is far
    slower: a floor measured that way would be wrong.)"""
    X, y, _, _ = load_data(spec["data"])
    X = X.astype(np.float32)
    Y = (np.eye(n_classes, dtype=np.float32)[y] if spec["loss"] == "categorical_crossentropy"
         else y.reshape(-1, 1).astype(np.float32))
    bs = spec["batch_size"]
    return [(X[i:i + bs], Y[i:i + bs]) for i in range(0, X.shape[0] - bs + 1, bs)]


def floor_steps(spec, model):
    """Three functions doing the step's unavoidable work, each adding to the one before:
    (matmuls, matmuls + exp, matmuls + exp + optimizer)."""
    rng = np.random.default_rng(0)
    n = spec["batch_size"]
    sizes = [spec["input_shape"][0]] + [layer["units"] for layer in spec["layers"]]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        def buf(*shape):
            return rng.standard_normal(shape).astype(np.float32) * 0.1
        layers.append(dict(x=buf(n, fan_in), W=buf(fan_in, fan_out), z=buf(n, fan_out),
                           dz=buf(n, fan_out), dW=buf(fan_in, fan_out), db=buf(fan_out),
                           dx=buf(n, fan_in) if i > 0 else None,
                           exp=spec["layers"][i]["activation"] in ("sigmoid", "softmax"),
                           product=_numpy_c.dot if n * fan_in * fan_out < _DOT_MAX_MACS else np.matmul))
    ones = np.ones(n, dtype=np.float32)

    def matmuls():
        for L in layers:
            L["product"](L["x"], L["W"], out=L["z"])
        for L in reversed(layers):
            if n == 1:      # an outer product: einsum, as Dense computes it (BLAS is 5x slower)
                _numpy_c.einsum("ki,kj->ij", L["x"], L["dz"], out=L["dW"])
            else:
                L["product"](L["x"].T, L["dz"], out=L["dW"])
            _numpy_c.dot(ones, L["dz"], out=L["db"])
            if L["dx"] is not None:
                L["product"](L["dz"], L["W"].T, out=L["dx"])

    def with_exp():
        matmuls()
        for L in layers:
            if L["exp"]:       # z is recomputed by every call's matmuls, so it never overflows
                np.exp(L["z"], out=L["z"])

    # the optimizer on its own flat copy of the parameters, so the model's own are not touched
    from glassnet import optimizers
    optimizer = optimizers.from_config(model.optimizer.get_config())
    params = np.zeros(model.count_params(), dtype=np.float32)
    grads = rng.standard_normal(params.size).astype(np.float32) * 1e-3
    triples = [("params", params, grads)]

    def with_optimizer():
        with_exp()
        optimizer.apply(triples)

    return matmuls, with_exp, with_optimizer


def measure_floor(name, calls):
    """Seconds per step of the floor's three layers and of glassnet's own step, for one task."""
    from glassnet import blas
    spec = dict(TASKS[name], name=name)
    model = compile_glassnet(build_glassnet(spec), spec)
    n_classes = model.output_shape[-1] if model.output_shape[-1] > 1 else 2
    data = batches(spec, n_classes)
    position = [0]

    def glassnet_step():
        x, y = data[position[0]]
        position[0] = (position[0] + 1) % len(data)
        model._train_step(x, y)
    matmuls, with_exp, with_optimizer = floor_steps(spec, model)
    # the BLAS threads fit picks for this network, for every timing alike
    with blas.for_training(model._largest_matmul_flops(spec["batch_size"])):
        times = best_seconds({"matmuls": matmuls, "exp": with_exp, "optimizer": with_optimizer,
                              "glassnet_step": glassnet_step}, calls)
        return {**times, "blas_threads": blas.get_threads()}


def measure_fits(name, epochs_scale, tmp):
    """glassnet's and PyTorch's median seconds per epoch from one fresh run.py worker each."""
    data_path, task_path = os.path.join(tmp, f"{name}.npz"), os.path.join(tmp, f"{name}.json")
    spec = prepare(name, epochs_scale, data_path)
    with open(task_path, "w") as f:
        json.dump(spec, f)
    found = run.find_peers(["torch"], keras_python=None)
    out = {"n_train": spec["n_train"], "epochs": spec["epochs"]}
    for fw in ("glassnet", "torch"):
        if "skipped" in found[fw]:
            out[fw] = None
            continue
        r = run.run_worker(found[fw]["python"], fw, task_path, data_path, timeout=600)
        out[fw] = statistics.median(r["epoch_seconds"][1:]) if "epoch_seconds" in r else None
    return out


def us(seconds):
    return "-" if seconds is None else f"{seconds * 1e6:.0f}"


def report(rows, machine):
    lines = [
        "# The NumPy floor under the dense tasks",
        "",
        f"Made by `python benchmarks/floor.py` on {machine['date']}, commit {machine['commit']}; "
        f"{machine['cpu']}, {machine['cores']} cores, NumPy {machine['numpy']}, {machine['blas']}.",
        "",
        "Microseconds per training step (one batch of the task's size). The four timings add work "
        "in turn: the step's matrix products only; plus one `exp` per sigmoid/softmax output; plus "
        "the optimizer's in-place update (Adam: 12 passes); then glassnet's real step. Each is the "
        "fastest of 9 blocks of calls, the four taking turns, on the BLAS threads `fit` uses. *allowed* is the step time the target "
        "permits: target x PyTorch's median epoch in this run / steps per epoch. See "
        "`benchmarks/floor.py` for exactly what each column runs.",
        "",
        "| task | batch, steps/epoch | matmuls | + exp | + optimizer | glassnet step | glassnet fit "
        "/ step | PyTorch fit / step | target | allowed | floor / allowed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        steps = math.ceil(r["n_train"] / TASKS[name]["batch_size"])
        per_step = {fw: None if r[fw] is None else r[fw] / steps for fw in ("glassnet", "torch")}
        allowed = None if per_step["torch"] is None else TASKS[name]["target"] * per_step["torch"]
        floor_ratio = "-" if allowed is None else f"{r['optimizer'] / allowed:.2f}"
        lines.append(f"| {name} | {TASKS[name]['batch_size']}, {steps} | {us(r['matmuls'])} | "
                     f"{us(r['exp'])} | {us(r['optimizer'])} | {us(r['glassnet_step'])} | "
                     f"{us(per_step['glassnet'])} | {us(per_step['torch'])} | {TASKS[name]['target']} | "
                     f"{us(allowed)} | {floor_ratio} |")
    lines += [
        "",
        "*floor / allowed* above 1: the unavoidable work alone (\"+ optimizer\") takes longer than the "
        "target allows, so no NumPy implementation on this machine can meet it. The floor is not "
        "reachable either: it leaves out the activations' other element-wise passes, the bias "
        "additions, the loss and every Python call between them. (One caveat: the optimizer column "
        "is glassnet's own update, on the calling thread, in cache-sized pieces. PyTorch spreads "
        "its update over both cores; NumPy's element-wise calls split over two Python threads "
        "were slower, not faster, when tried on a 2-core Intel Xeon (1.28 against 1.11 ms for "
        "mnist_wide's 669k parameters: each call is too short to outweigh the GIL handovers).)",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                   help=f"comma-separated, from {', '.join(DENSE_TASKS)}")
    p.add_argument("--out", default=os.path.join(run.ROOT, "docs", "benchmarks_floor.md"))
    p.add_argument("--calls", type=int, default=300, help="calls per timed block")
    p.add_argument("--epochs-scale", type=float, default=0.2,
                   help="scale of the tasks' epochs for the glassnet and PyTorch fits")
    args = p.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in DENSE_TASKS]
    if unknown:
        p.error(f"unknown or non-dense task(s) {unknown}; choose from {DENSE_TASKS}")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="glassnet-floor-") as tmp:
        for name in tasks:
            calls = max(3, args.calls // 20) if name == "mnist_wide" else args.calls
            rows[name] = {**measure_floor(name, calls), **measure_fits(name, args.epochs_scale, tmp)}
            r = rows[name]
            print(f"{name:12s} matmuls {us(r['matmuls'])} us, +exp {us(r['exp'])}, +optimizer "
                  f"{us(r['optimizer'])}, glassnet step {us(r['glassnet_step'])} us")
    machine = run.machine_info(matmul_n=256, import_repeats=0)
    text = report(rows, machine)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"\nwrote {args.out}")
    return rows, text


if __name__ == "__main__":
    main()
