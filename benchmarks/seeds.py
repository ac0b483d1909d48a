"""Test accuracy over many seeds: is a gap between glassnet and a peer the framework, or the seed?

    python benchmarks/seeds.py [--tasks mnist1d_mlp] [--peers torch] [--seeds 20] [--same-order]
                               [--out PATH]

``run.py`` trains every framework from one set of initial weights (model seed 0) and one shuffling
seed, so its accuracy column is one draw. On a task that overfits (mnist1d_mlp reaches 100 % training
accuracy and its test accuracy wanders for the last 40 epochs) that draw can differ by several
points between two correct implementations. Here each seed s gives glassnet's initial weights from
model seed s, which every framework starts from, and s is each framework's shuffling seed; the report
is the accuracy per seed, the means, and the mean of the paired differences with its 95 % interval
(t distribution). Runs in this process: accuracy, not time, is the question.

``--same-order`` (PyTorch only) adds a second comparison in which both frameworks see the same
batches in the same order: each epoch's permutation comes from ``numpy.random.default_rng(s)``,
which glassnet's ``fit`` draws from and the PyTorch loop uses in place of ``torch.randperm``. What
is left to differ is the arithmetic (summation order, rounding) and whatever it grows into over the
epochs, so a gap that survives this is the framework's, and one that vanishes was the shuffle's.
"""
import argparse
import datetime
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))

import run  # noqa: E402
from tasks import TASKS, build_glassnet, load_data, runner_spec  # noqa: E402

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96)
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042]


def accuracies(task_name, peer, seeds, same_order=False):
    """``{framework: [test accuracy % per seed]}`` for glassnet and ``peer``; ``same_order``: both
    see seed s's batches in the same order (see the module docstring)."""
    import importlib
    X, y, Xt, yt = load_data(TASKS[task_name]["data"])
    spec = runner_spec(task_name, y, yt)
    runners = {name: importlib.import_module(f"{name}_runner") for name in ("glassnet", peer)}
    result = {name: [] for name in runners}
    for seed in range(seeds):
        weights = build_glassnet(spec, seed=seed).get_weights()
        for name, runner in runners.items():
            task = dict(spec, train_seed=seed, order_seed=seed if same_order else None)
            out = runner.run(task, X, y, Xt, yt, weights)
            result[name].append(out["test_accuracy"])
        print(f"{task_name} seed {seed}: " + ", ".join(f"{n} {v[-1]:.1f}" for n, v in result.items()),
              flush=True)
    return result


def report(task_name, peer, result, same_order=False):
    """Markdown lines: per-seed table and the paired difference with its 95 % interval."""
    ours, theirs = result["glassnet"], result[peer]
    diffs = [a - b for a, b in zip(ours, theirs)]
    n = len(diffs)
    mean = statistics.fmean(diffs)
    t = _T95[n - 2] if n - 2 < len(_T95) else 1.96          # n - 1 degrees of freedom
    half = t * statistics.stdev(diffs) / math.sqrt(n)
    order = ", the same batch order in both" if same_order else ""
    lines = [f"### {task_name}: glassnet vs {peer}, {n} seeds{order}", "",
             "| seed | " + " | ".join(str(s) for s in range(n)) + " | mean | std |",
             "|---|" + "---:|" * (n + 2)]
    for name, values in (("glassnet", ours), (peer, theirs)):
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in values)
                     + f" | **{statistics.fmean(values):.2f}** | {statistics.stdev(values):.2f} |")
    widest = max(range(n), key=lambda s: abs(diffs[s]))
    lines += ["", f"Paired difference glassnet - {peer}: {mean:+.2f} points, 95 % interval "
                  f"[{mean - half:+.2f}, {mean + half:+.2f}]; the widest single seed {widest}: "
                  f"{diffs[widest]:+.1f} points.", ""]
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="mnist1d_mlp")
    p.add_argument("--peers", default="torch", help="one or more of torch, keras, sklearn")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--same-order", action="store_true",
                   help="also compare with the same batches in the same order in both (PyTorch only)")
    p.add_argument("--out", help="also write the report to this markdown file")
    args = p.parse_args(argv)
    if args.seeds < 2:
        p.error(f"--seeds: expected at least 2, got {args.seeds}")
    if args.same_order and args.peers != "torch":
        p.error(f"--same-order: only the PyTorch loop takes glassnet's order; expected --peers torch, "
                f"got {args.peers!r}")
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    lines = ["# Test accuracy over seeds", "",
             f"Made by `python benchmarks/seeds.py {argv_text}` on "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {run._git_commit()}; "
             f"{run.cpu_model()}. See `benchmarks/seeds.py` for the method.", ""]
    for task_name in args.tasks.split(","):
        for peer in args.peers.split(","):
            for same_order in (False, True) if args.same_order else (False,):
                result = accuracies(task_name, peer, args.seeds, same_order)
                lines += report(task_name, peer, result, same_order)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
