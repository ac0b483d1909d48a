"""Where the CPU time of one training step goes, glassnet beside PyTorch, for one task of ``tasks.py``.

    python benchmarks/cpu_profile.py [--task mnist_cnn] [--epochs 3] [--out docs/benchmarks_profile.md]

glassnet: the task's model trains (from the initial weights ``run.py`` gives every framework) with
each layer's forward and backward, the loss and the optimizer wrapped in a timer, so the table says
how much of a step each part takes; whatever is left (batching, the loop, the logs) is "the rest".
PyTorch: the same network trains in a fresh process under ``torch.profiler``, whose table gives each
operator's own CPU time (its children's left out). Both also time the same epochs without any
instrument, which is the step time the ratio in ``docs/benchmarks.md`` compares.

The timers cost well under a microsecond a call, so they matter only for tasks of tiny steps.
Run it on a quiet machine, as ``run.py``.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "peers")]

import numpy as np  # noqa: E402

import run  # noqa: E402
from tasks import TASKS, prepare  # noqa: E402


def load(data_path, task):
    """(X, y, X_test, y_test, initial weights) as ``prepare`` wrote them."""
    with np.load(data_path) as data:
        arrays = {k: data[k] for k in data.files}
    return (arrays["X_train"], arrays["y_train"], arrays["X_test"], arrays["y_test"],
            [arrays[f"w{i}"] for i in range(task["n_weights"])])


def median_step(fit, epochs, steps_per_epoch):
    """Seconds per step of the median of ``epochs`` epochs, each timed on its own (``fit(1)``): as
    run.py reports an epoch, so that one slow epoch on a busy machine does not move the figure."""
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        fit(1)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) / steps_per_epoch


_RUNNING = set()        # the keys whose timed call is under way


def timed(table, key, fn):
    """``fn`` with its seconds added to ``table[key]`` at every call. A call made while another
    of the same key runs is not counted again: a layer's ``backward`` calls its own
    ``backward_from_logits``, which the fused loss path calls directly, and both count as its backward."""
    def wrapper(*args, **kwargs):
        if key in _RUNNING:
            return fn(*args, **kwargs)
        _RUNNING.add(key)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            table[key] += time.perf_counter() - start
            _RUNNING.discard(key)
    return wrapper


def profile_glassnet(task, data_path, epochs):
    """{"step": seconds per step without timers, "parts": {part: seconds per step}, "steps": n}."""
    from common import one_hot
    from tasks import build_glassnet, compile_glassnet
    X, y, _, _, weights = load(data_path, task)
    targets = one_hot(y, task["n_classes"]) if task["loss"] == "categorical_crossentropy" else y
    model = build_glassnet(task, seed=task["train_seed"])     # as peers/glassnet_runner.py
    model.set_weights(weights)
    compile_glassnet(model, task)
    bs = task["batch_size"]
    per_epoch = -(-X.shape[0] // bs)
    steps = epochs * per_epoch

    def fit(n):
        model.fit(X, targets, epochs=n, batch_size=bs, verbose=0)
    fit(1)                                   # warm-up: the first epoch is never timed
    plain = median_step(fit, epochs, per_epoch)
    table = collections.defaultdict(float)
    for i, layer in enumerate(model.layers):
        name = f"{i} {layer.name} ({type(layer).__name__})"
        layer.forward = timed(table, f"{name} forward", layer.forward)
        layer.backward = timed(table, f"{name} backward", layer.backward)
        if hasattr(layer, "backward_from_logits"):
            # the fused softmax/sigmoid + cross-entropy path calls this one instead of backward
            layer.backward_from_logits = timed(table, f"{name} backward", layer.backward_from_logits)
    model._optimizer_step = timed(table, "optimizer", model._optimizer_step)
    model.loss.from_logits_and_gradient = timed(table, "loss", model.loss.from_logits_and_gradient)
    # the parts and their total over the same epochs, so that "the rest" is what the parts leave
    start = time.perf_counter()
    fit(epochs)
    total = (time.perf_counter() - start) / steps
    parts = {key: seconds / steps for key, seconds in table.items()}
    return {"step": plain, "instrumented": total, "parts": parts, "steps": steps}


def profile_torch(task, data_path, epochs):
    """{"step": seconds per step without the profiler, "ops": [(name, seconds per step, calls per
    step), ...] by own CPU time}, the same loop as ``peers/torch_runner.py``."""
    import torch
    import torch_runner
    X, y, _, _, weights = load(data_path, task)
    torch.manual_seed(task["train_seed"])
    model = torch_runner.build(task, weights)
    if len(task["input_shape"]) == 3:     # NHWC -> NCHW, once
        X = X.transpose(0, 3, 1, 2)
    X = torch.from_numpy(np.ascontiguousarray(X))
    Y, loss_fn = torch_runner.targets_and_loss(task, y)
    opt = torch_runner.optimizer(task, model)
    n, bs = X.shape[0], task["batch_size"]
    per_epoch = -(-n // bs)
    steps = epochs * per_epoch

    def fit(n_epochs):
        for _ in range(n_epochs):
            perm = torch.randperm(n)
            Xs, Ys = X[perm], Y[perm]
            for i in range(0, n, bs):
                opt.zero_grad(set_to_none=True)
                loss_fn(model(Xs[i:i + bs]), Ys[i:i + bs]).backward()
                opt.step()
    model.train()
    fit(1)
    plain = median_step(fit, epochs, per_epoch)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fit(epochs)
    ops = sorted(((e.key, e.self_cpu_time_total * 1e-6 / steps, e.count / steps) for e in prof.key_averages()),
                 key=lambda op: -op[1])
    return {"step": plain, "ops": ops, "steps": steps, "threads": torch.get_num_threads()}


def us(seconds):
    return f"{seconds * 1e6:.0f}"


def report(name, g, t, machine, epochs):
    lines = [f"# Where a training step's time goes: {name}", "",
             f"Made by `python benchmarks/cpu_profile.py --task {name} --epochs {epochs}` on {machine['date']}, "
             f"commit {machine['commit']}; {machine['cpu']}, {machine['cores']} cores, NumPy {machine['numpy']}, "
             f"{machine['blas']}.", "",
             "Microseconds per training step (one batch), after one warm-up epoch. See "
             "`benchmarks/cpu_profile.py` for how each part is timed.", "",
             f"glassnet: **{us(g['step'])} us** a step without timers ({us(g['instrumented'])} with them).", "",
             "| part | us / step | share |", "|---|---:|---:|"]
    parts = sorted(g["parts"].items(), key=lambda kv: -kv[1])
    for key, seconds in parts:
        lines.append(f"| {key} | {us(seconds)} | {100 * seconds / g['instrumented']:.0f}% |")
    rest = g["instrumented"] - sum(g["parts"].values())
    lines.append(f"| the rest (batches, the loop, logs) | {us(rest)} | {100 * rest / g['instrumented']:.0f}% |")
    lines.append("")
    if t is None:
        lines += ["PyTorch: not installed here, so not profiled.", ""]
    else:
        lines += [f"PyTorch ({t['threads']} threads): **{us(t['step'])} us** a step without the profiler; "
                  f"glassnet / PyTorch = **{g['step'] / t['step']:.2f}**. Its operators by own CPU time "
                  "(the profiler's, which adds its own cost per operator), those above 1% of the step:", "",
                  "| operator | us / step | calls / step |", "|---|---:|---:|"]
        total = sum(seconds for _, seconds, _ in t["ops"])
        for op, seconds, calls in t["ops"]:
            if seconds >= 0.01 * total:
                lines.append(f"| `{op}` | {us(seconds)} | {calls:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="mnist_cnn", choices=sorted(TASKS))
    p.add_argument("--epochs", type=int, default=3, help="epochs timed (after one warm-up epoch)")
    p.add_argument("--out", default=os.path.join(run.ROOT, "docs", "benchmarks_profile.md"))
    p.add_argument("--torch-only", metavar="JSON", help=argparse.SUPPRESS)   # the PyTorch worker's side
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be at least 1")
    if args.torch_only:
        task_path, data_path, out_path = args.torch_only.split(",")
        with open(task_path) as f:
            task = json.load(f)
        with open(out_path, "w") as f:
            json.dump(profile_torch(task, data_path, args.epochs), f)
        return None
    with tempfile.TemporaryDirectory(prefix="glassnet-profile-") as tmp:
        data_path, task_path, torch_out = (os.path.join(tmp, f) for f in ("data.npz", "task.json", "torch.json"))
        task = prepare(args.task, 1.0, data_path)
        with open(task_path, "w") as f:
            json.dump(task, f)
        g = profile_glassnet(task, data_path, args.epochs)
        print(f"glassnet: {us(g['step'])} us/step")
        t = None
        found = run.find_peers(["torch"], keras_python=None)["torch"]
        if "skipped" not in found:
            # a fresh process, as run.py's workers: PyTorch's threads never share one with glassnet's timing
            subprocess.run([found["python"], os.path.abspath(__file__), "--task", args.task, "--epochs",
                            str(args.epochs), "--torch-only", ",".join((task_path, data_path, torch_out))],
                           check=True)
            with open(torch_out) as f:
                t = json.load(f)
            print(f"PyTorch: {us(t['step'])} us/step")
    machine = run.machine_info(matmul_n=256, import_repeats=0)
    text = report(args.task, g, t, machine, args.epochs)
    from glassnet._atomic import write_text_atomically
    write_text_atomically(args.out, text)
    print(f"wrote {args.out}")
    return text


if __name__ == "__main__":
    main()
