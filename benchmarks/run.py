"""Benchmark glassnet against PyTorch, Keras and scikit-learn on the tasks of ``tasks.py`` (issue 5).

    python benchmarks/run.py [--tasks xor,moons,...] [--peers torch,keras,sklearn] [--repeats N]
                             [--epochs-scale F] [--out docs/benchmarks.md] [--json results.json]

Every (task, framework, repeat) trains in its own fresh subprocess (``peers/worker.py``) from the same
data and the same initial weights (glassnet's, copied into each peer), so that each framework's peak
RSS is its own and no framework's threads or allocations disturb another's timing. With
``--repeats N`` the frameworks alternate within each task (glassnet first on even repeats, last on
odd ones). Reported per (task, framework): the median seconds per epoch over the epochs after the
first (median over repeats of each repeat's median), glassnet's time over the peer's, the test
accuracy, and the peak RSS. Also: the machine, the float32 matmul peak, the fraction of it glassnet
reaches on the BLAS-bound task, the time of ``import glassnet``, and which of the issue's targets
are met. A peer that is not installed is skipped with a note.

Keras runs in this interpreter when ``keras`` and ``tensorflow`` import here; otherwise in
``--keras-python`` (default: ``.venv-keras/bin/python`` at the repository root, if present).
"""
import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from tasks import TASKS, dense_flops_per_epoch, prepare  # noqa: E402

PEERS = ("torch", "keras", "sklearn")
WORKER = os.path.join(HERE, "peers", "worker.py")
PREFIX = "BENCH_RESULT "
NAMES = {"glassnet": "glassnet", "torch": "PyTorch", "keras": "Keras", "sklearn": "scikit-learn"}
ACCURACY_POINTS = 1.5        # the issue: accuracy within 1.5 points of PyTorch's
IMPORT_TARGET_S = 0.3        # the issue: `import glassnet` under 0.3 s
MEMORY_TASK = "moons"        # the issue: glassnet's peak RSS on moons under half of PyTorch's


# -- the machine ------------------------------------------------------------------------------
def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    """NumPy's BLAS: from threadpoolctl when installed, else from numpy.show_config."""
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        # NumPy's own copy (numpy.libs/, numpy/.dylibs/) before any other a process has loaded:
        # SciPy and PyTorch bring their own OpenBLAS builds
        pools.sort(key=lambda p: os.sep + "numpy" not in str(p.get("filepath", "")))
        if pools:
            p = pools[0]
            return (f"{p.get('internal_api')} {p.get('version')} ({p.get('threading_layer')} threads, "
                    f"{p.get('num_threads')} threads, {p.get('architecture')}) via threadpoolctl")
    except Exception:       # threadpoolctl missing or confused: fall back
        pass
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} via numpy.show_config"
    except Exception:
        return "unknown"


def matmul_peak(n=2048, repeats=5):
    """GFLOP/s of the best of ``repeats`` float32 (n, n) @ (n, n) products (2 n^3 FLOPs each)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)                       # warm up the BLAS threads
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


def import_time(repeats=5, cached=True):
    """Seconds of ``import glassnet`` in a fresh interpreter (NumPy's import included), best of N.

    ``cached``: as an installed package imports, from compiled bytecode (pip compiles it at
    install; a checkout writes it on its first import). The bytecode goes to a temporary folder
    (PYTHONPYCACHEPREFIX), filled by one import first. A machine that forbids bytecode
    (PYTHONDONTWRITEBYTECODE, set on some CI hosts) compiles every module at every import instead:
    ``cached=False`` measures that: about 0.2 s more on a 2-core AMD EPYC
    (0.09 s cached, 0.29 s compiling)."""
    code = "import time; t = time.perf_counter(); import glassnet; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    with tempfile.TemporaryDirectory() as cache:
        # the bytecode is looked for under the empty temporary folder only, never in a checkout's
        # own __pycache__ (which would make the uncached import read it and measure the cached one)
        env["PYTHONPYCACHEPREFIX"] = cache
        if not cached:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        times = []
        for i in range(repeats + cached):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
            if out.returncode != 0:
                return None
            if i or not cached:               # the first cached run only compiles
                times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def load_average():
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def machine_busy(machine):
    """True when other work shared the cores: a load above half the cores before the run, or, at the
    end (when the run's own last worker counts, up to all cores for a multi-threaded peer), above
    the cores plus a half."""
    cores = machine.get("cores") or 1
    start, end = machine.get("load_start"), machine.get("load_end")
    return bool((start is not None and start > 0.5 * cores) or (end is not None and end > cores + 0.5))


def machine_info(matmul_n, import_repeats):
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": affinity,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "numpy": np.__version__, "blas": blas_info(),
        "thread_env": threads or "none set (library defaults)",
        "versions": {d: _version(d) for d in ("glassnet", "torch", "keras", "tensorflow",
                                              "tensorflow-cpu", "scikit-learn")},
        "commit": _git_commit(),
        "matmul_n": matmul_n,
        "matmul_gflops": matmul_peak(matmul_n),
        "import_glassnet_s": import_time(import_repeats) if import_repeats else None,
        "import_glassnet_uncached_s": import_time(import_repeats, cached=False) if import_repeats else None,
    }


def _git_commit():
    try:   # read-only: never touches the index
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=ROOT, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# -- peers ------------------------------------------------------------------------------------
def find_peers(requested, keras_python):
    """framework -> {"python": interpreter to run it with} or {"skipped": why not}."""
    found = {"glassnet": {"python": sys.executable}}
    for peer in requested:
        if peer == "keras":
            if importlib.util.find_spec("keras") and importlib.util.find_spec("tensorflow"):
                found[peer] = {"python": sys.executable}
            elif keras_python and os.path.exists(keras_python):
                found[peer] = {"python": os.path.abspath(keras_python)}
            else:
                found[peer] = {"skipped": "not installed (pip install tensorflow-cpu keras, or give "
                                          "--keras-python a venv's python that has them)"}
        else:
            module, dist = {"torch": ("torch", "torch"), "sklearn": ("sklearn", "scikit-learn")}[peer]
            found[peer] = ({"python": sys.executable} if importlib.util.find_spec(module)
                           else {"skipped": f"not installed (pip install {dist})"})
    return found


def sklearn_unsupported(task):
    sys.path.insert(0, os.path.join(HERE, "peers"))
    from sklearn_runner import unsupported
    return unsupported(task)


def run_worker(python, framework, task_path, data_path, timeout):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.run([python, WORKER, framework, task_path, data_path], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def summarise(runs):
    """Combine the repeats of one (task, framework)."""
    if not runs or any("error" in r or "skipped" in r for r in runs):
        bad = next((r for r in runs if "error" in r or "skipped" in r), {})
        return {"error": bad.get("error")} if "error" in bad else {"skipped": bad.get("skipped")}
    per_repeat = [statistics.median(r["epoch_seconds"][1:] or r["epoch_seconds"]) for r in runs]
    first = runs[0]
    return {
        "seconds_per_epoch": statistics.median(per_repeat),
        "seconds_per_epoch_repeats": per_repeat,
        "first_epoch_seconds": statistics.median(r["epoch_seconds"][0] for r in runs),
        "test_accuracy": statistics.median(r["test_accuracy"] for r in runs),
        "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
        "rss_before_training_mib": statistics.median(r["rss_after_import_mib"] for r in runs),
        "epochs": first["epochs"], "versions": first.get("versions"), "threads": first.get("threads"),
        "notes": first.get("notes", ""),
    }


# -- formatting -------------------------------------------------------------------------------
def _unit(s):
    """(name, factor) of the unit a duration of ``s`` seconds is shown in: s, ms or µs."""
    return ("s", 1) if s >= 1 else ("ms", 1e3) if s >= 1e-3 else ("µs", 1e6)


def fmt_time(s):
    if s is None:
        return "-"
    unit, scale = _unit(s)
    return f"{s:.2f} s" if unit == "s" else f"{s * scale:.3g} {unit}"


def _fmt_load(x):
    return "-" if x is None else f"{x:.2f}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}"


def fmt_spread(repeats):
    """The fastest and slowest repeat, "a-b" in the unit of the slower one ("-" for a single run):
    on a shared machine the repeats can differ by more than the gap between two frameworks."""
    if not repeats or len(repeats) < 2:
        return "-"
    low, high = min(repeats), max(repeats)
    unit, scale = _unit(high)
    return f"{low * scale:.3g}-{high * scale:.3g} {unit}"


def results_table(results, frameworks):
    rows = ["| task | framework | epochs | s / epoch (median) | repeats (fastest-slowest) | glassnet / this "
            "| test acc % | peak RSS MiB | notes |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for task, by_fw in results.items():
        base = by_fw.get("glassnet", {}).get("seconds_per_epoch")
        for fw in frameworks:
            r = by_fw.get(fw)
            if r is None:
                continue
            if "seconds_per_epoch" not in r:
                why = r.get("skipped") or f"failed: {r.get('error')}"
                rows.append(f"| {task} | {NAMES[fw]} | | | | | | | {why} |")
                continue
            ratio = base / r["seconds_per_epoch"] if base else None
            rows.append(f"| {task} | {NAMES[fw]} | {r['epochs']} | {fmt_time(r['seconds_per_epoch'])} | "
                        f"{fmt_spread(r.get('seconds_per_epoch_repeats'))} | "
                        f"{'' if fw == 'glassnet' else fmt_ratio(ratio)} | {r['test_accuracy']:.1f} | "
                        f"{r['peak_rss_mib']:.0f} | {r.get('notes') or ''} |")
    return rows


def check_targets(results, machine, tiny=False):
    """[(description, met or None when it cannot be judged, detail)] for the issue's targets.
    A tiny run (cut epochs) does not judge accuracy."""
    checks = []
    for task, by_fw in results.items():
        g, t = by_fw.get("glassnet", {}), by_fw.get("torch", {})
        target = TASKS[task]["target"]
        if "seconds_per_epoch" in g and "seconds_per_epoch" in t:
            ratio = g["seconds_per_epoch"] / t["seconds_per_epoch"]
            checks.append((f"{task}: time glassnet/PyTorch <= {target}", ratio <= target,
                           f"{ratio:.2f} (PyTorch here {fmt_time(t['seconds_per_epoch'])}, in the issue "
                           f"{fmt_time(TASKS[task]['torch_ref_s'])})"))
            diff = g["test_accuracy"] - t["test_accuracy"]
            detail = f"{g['test_accuracy']:.1f} vs {t['test_accuracy']:.1f}"
            checks.append((f"{task}: accuracy within {ACCURACY_POINTS} points of PyTorch",
                           None if tiny else abs(diff) <= ACCURACY_POINTS,
                           detail + (" (tiny run: not judged)" if tiny else "")))
        else:
            checks.append((f"{task}: time glassnet/PyTorch <= {target}", None, "no PyTorch result"))
    imp = machine.get("import_glassnet_s")
    checks.append((f"import glassnet < {IMPORT_TARGET_S} s", None if imp is None else imp < IMPORT_TARGET_S,
                   "-" if imp is None else f"{imp:.3f} s"))
    g = results.get(MEMORY_TASK, {}).get("glassnet", {})
    t = results.get(MEMORY_TASK, {}).get("torch", {})
    if "peak_rss_mib" in g and "peak_rss_mib" in t:
        checks.append((f"{MEMORY_TASK}: peak RSS glassnet < half of PyTorch's",
                       g["peak_rss_mib"] < 0.5 * t["peak_rss_mib"],
                       f"{g['peak_rss_mib']:.0f} vs {t['peak_rss_mib']:.0f} MiB"))
    return checks


def blas_fraction(results, machine):
    """For the BLAS-bound tasks: GFLOP/s each framework reaches and its fraction of the matmul peak."""
    out = {}
    for task, by_fw in results.items():
        spec = TASKS[task]
        if not spec.get("blas_bound"):
            continue
        for fw, r in by_fw.items():
            if "seconds_per_epoch" not in r:
                continue
            flops = dense_flops_per_epoch(spec, r["n_train"])
            gflops = flops / r["seconds_per_epoch"] / 1e9
            out.setdefault(task, {})[fw] = {"flops_per_epoch": flops, "gflops": gflops,
                                            "fraction_of_peak": gflops / machine["matmul_gflops"]}
    return out


def markdown(args, machine, results, frameworks, checks, blas, tiny):
    m = machine
    torch_threads = next((r.get("threads") for by_fw in results.values()
                          for fw, r in by_fw.items() if fw == "torch" and r.get("threads")), None)
    keras_versions = next((r.get("versions") for by_fw in results.values()
                           for fw, r in by_fw.items() if fw == "keras" and r.get("versions")), None)
    keras_threads = next((r.get("threads") for by_fw in results.values()
                          for fw, r in by_fw.items() if fw == "keras" and r.get("threads")), None)
    v = m["versions"]
    if isinstance(keras_threads, dict):
        keras_threads = ", ".join(f"{k} {v or 'default'}" for k, v in keras_threads.items())
    keras_text = (f"keras {keras_versions.get('keras')}, tensorflow {keras_versions.get('tensorflow')} "
                  f"(backend {keras_versions.get('backend')}; threads: {keras_threads})"
                  if keras_versions else
                  (f"keras {v['keras']}, tensorflow {v['tensorflow'] or v['tensorflow-cpu']}"
                   if v["keras"] else "not installed"))
    lines = [
        "# Benchmarks",
        "",
        f"Made by `python benchmarks/run.py {' '.join(args.argv)}` on {m['date']}"
        f"{', commit ' + m['commit'] if m['commit'] else ''}.",
        "",
    ]
    if machine_busy(m):
        loads = [x for x in (m.get("load_start"), m.get("load_end")) if x is not None]
        lines += [f"**The machine was busy (1-minute load average up to {max(loads):.1f} on {m['cores']} "
                  "cores): the timings are not reliable. Multi-threaded libraries suffer most (PyTorch's "
                  "threads spin-wait for each other when the cores are shared). Re-run on a quiet "
                  "machine.**", ""]
    if tiny:
        lines += [f"**A tiny run (`--epochs-scale {args.epochs_scale}`): the epochs are cut, so the "
                  "accuracies are not those of full training and the timings are noisier.**", ""]
    lines += [
        "## Machine",
        "",
        "| | |", "|---|---|",
        f"| CPU | {m['cpu']} |",
        f"| cores | {m['cores']} ({m['cores_usable']} usable by this process) |",
        f"| OS | {m['os']} |",
        f"| NumPy BLAS | {m['blas']} |",
        f"| thread variables | {m['thread_env']} |",
        f"| load average (1 min) before / after the run | {_fmt_load(m.get('load_start'))} / "
        f"{_fmt_load(m.get('load_end'))} (after: the run's own last worker counts too) |",
        f"| float32 matmul peak | {m['matmul_gflops']:.1f} GFLOP/s "
        f"(np.matmul {m['matmul_n']}x{m['matmul_n']}, best of 5) |",
        f"| `import glassnet` | {fmt_time(m['import_glassnet_s'])} (fresh interpreter, NumPy included, "
        f"bytecode cached as an installed package's, best of 5; "
        f"{fmt_time(m.get('import_glassnet_uncached_s'))} where bytecode is forbidden and every "
        f"module compiles at every import) |",
        f"| Python | {m['python']} |",
        f"| NumPy | {m['numpy']} |",
        f"| glassnet | {v['glassnet']} |",
        f"| PyTorch | {v['torch'] or 'not installed'}"
        f"{f' ({torch_threads} threads, its default)' if torch_threads else ''} |",
        f"| Keras / TensorFlow | {keras_text} |",
        f"| scikit-learn | {v['scikit-learn'] or 'not installed'} |",
        "",
        "## Results",
        "",
        f"Repeats: {args.repeats}. \"glassnet / this\" is glassnet's seconds per epoch over this "
        "framework's: below 1, glassnet is faster. \"repeats\" is the fastest and the slowest "
        "repeat's median epoch: where they are far apart, the machine was not quiet for the whole "
        "run. Peak RSS is the whole worker process (interpreter, NumPy, the framework's import, the "
        "data and training).",
        "",
        *results_table(results, frameworks),
        "",
    ]
    if blas:
        lines += ["## The BLAS-bound task", ""]
        for task, by_fw in blas.items():
            for fw, b in by_fw.items():
                lines.append(f"- {task}, {NAMES[fw]}: {b['flops_per_epoch'] / 1e9:.1f} GFLOP per epoch "
                             f"(dense layers, forward and backward) at {b['gflops']:.1f} GFLOP/s = "
                             f"**{100 * b['fraction_of_peak']:.0f}%** of the matmul peak")
        lines.append("")
    lines += ["## Targets (issue 5)", "", "| target | value | met |", "|---|---|---|"]
    for desc, met, detail in checks:
        lines.append(f"| {desc} | {detail} | {'-' if met is None else ('yes' if met else '**no**')} |")
    lines += [
        "",
        "## Method",
        "",
        "- Same data, same architecture, same loss, optimizer, learning rate, batch size and epochs in "
        "every framework; every framework starts from glassnet's initial weights (PyTorch's Linear "
        "weight is glassnet's kernel transposed; Conv2d's is (out, in, kh, kw); Keras and scikit-learn "
        "take glassnet's layout). Float32 everywhere; Adam's epsilon is 1e-7 in all of them.",
        "- Each (task, framework, repeat) runs in a fresh subprocess; time.perf_counter is stamped "
        "before training and at the end of each epoch, so each epoch counts everything the framework "
        "does between epochs. The reported time is the median of the epochs after the first (which "
        "holds warm-up, tracing and compiling), then the median over repeats; frameworks alternate "
        "order between repeats. Threads are each library's default (nothing pinned).",
        "- PyTorch's loop is the idiomatic fast one: tensors made once, `torch.randperm` + one gather "
        "per epoch, slices per batch, `zero_grad(set_to_none=True)`, losses on logits "
        "(`F.cross_entropy`, `binary_cross_entropy_with_logits`), the loss never read back per batch.",
        "- Keras 3 on TensorFlow: `model.fit(..., verbose=0)` with `jit_compile` at its default.",
        "- scikit-learn's MLPClassifier only where the task maps onto it (dense, one hidden activation "
        "among relu/tanh/logistic, log-loss): `alpha=0`, momentum 0, one `partial_fit` per epoch "
        "(which also repeats input validation each epoch). xor (squared error) and mnist_cnn are n/a.",
        "- Test accuracy is one draw: one set of initial weights, one shuffling seed per framework. "
        "Where a network overfits (mnist1d_mlp), it moves by several points from seed to seed; "
        "`python benchmarks/seeds.py` measures that spread and the paired difference between "
        "glassnet and a peer over many seeds (`docs/benchmarks_seeds.md`).",
        "- Peak RSS is each worker process's own high-water mark (VmHWM; `ru_maxrss` is not used on "
        "Linux because it inherits the parent's RSS across the exec): it includes the interpreter and "
        "the library's import, which dominate on the small tasks.",
        "- The matmul peak is the best of 5 float32 products; the BLAS-bound fraction counts "
        "2·N·in·out FLOPs per dense layer forward, twice that backward, minus the first layer's "
        "(unused) input gradient, over the median epoch time.",
        "",
    ]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {', '.join(TASKS)}")
    p.add_argument("--peers", default=",".join(PEERS), help="comma-separated, from torch, keras, sklearn "
                   "(glassnet always runs); an empty string runs glassnet alone")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every task's epochs (>= 2 kept)")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    p.add_argument("--json", default=None, help="also write every measurement to this JSON file")
    p.add_argument("--keras-python", default=os.path.join(ROOT, ".venv-keras", "bin", "python"),
                   help="interpreter for the Keras peer when keras is not importable here")
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--import-repeats", type=int, default=5, help="0 skips the import-time measurement")
    p.add_argument("--worker-timeout", type=float, default=3600.0)
    p.add_argument("--from-json", metavar="PATH", help="run nothing: write the report (--out) again "
                   "from the measurements an earlier run saved with --json, e.g. after a change to "
                   "the report's layout; its date, commit and command line are the earlier run's")
    args = p.parse_args(argv)
    args.argv = list(argv)
    args.tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    args.peers = [x for x in args.peers.split(",") if x]
    unknown = [x for x in args.peers if x not in PEERS]
    if unknown:
        p.error(f"unknown peer(s) {unknown}; choose from {list(PEERS)}")
    if args.repeats < 1 or args.epochs_scale <= 0:
        p.error("--repeats must be >= 1 and --epochs-scale > 0")
    return args


def write_report(run_args, machine, results, out):
    """Derive the targets and the BLAS-bound fraction from a run's measurements and write its
    markdown report to ``out``; ``run_args`` are the run's own (its command line, peers, scale).
    Returns (checks, blas, text)."""
    tiny = run_args.epochs_scale < 1
    checks = check_targets(results, machine, tiny)
    blas = blas_fraction(results, machine)
    text = markdown(run_args, machine, results, ["glassnet", *run_args.peers], checks, blas, tiny)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return checks, blas, text


def rewrite(args):
    """``--from-json``: the report of an earlier run, from what it saved, measured values untouched;
    the targets and the BLAS-bound fraction are derived again from them, as the run did."""
    with open(args.from_json, encoding="utf-8") as f:
        saved = json.load(f)
    machine, results = saved["machine"], saved["results"]
    checks, _, text = write_report(parse_args(saved["args"]), machine, results, args.out)
    print(f"wrote {args.out} from {args.from_json} (the run of {machine['date']})")
    return {"machine": machine, "results": results, "checks": checks, "markdown": text}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.from_json:
        return rewrite(args)
    log = print
    frameworks = ["glassnet", *args.peers]
    load_start = load_average()
    available = find_peers(args.peers, args.keras_python)
    results, raw = {}, {}
    with tempfile.TemporaryDirectory(prefix="glassnet-bench-") as tmp:
        for task in args.tasks:
            data_path = os.path.join(tmp, f"{task}.npz")
            spec = prepare(task, args.epochs_scale, data_path)
            task_path = os.path.join(tmp, f"{task}.json")
            with open(task_path, "w") as f:
                json.dump(spec, f)
            runs = {fw: [] for fw in frameworks}
            for rep in range(args.repeats):
                order = frameworks if rep % 2 == 0 else frameworks[::-1]
                for fw in order:
                    if "skipped" in available[fw]:
                        runs[fw].append(available[fw])
                        continue
                    reason = sklearn_unsupported(spec) if fw == "sklearn" else None
                    if reason:
                        runs[fw].append({"skipped": "n/a: " + reason})
                        continue
                    r = run_worker(available[fw]["python"], fw, task_path, data_path, args.worker_timeout)
                    runs[fw].append(r)
                    if "epoch_seconds" in r:
                        med = statistics.median(r["epoch_seconds"][1:] or r["epoch_seconds"])
                        log(f"{task:12s} {fw:9s} repeat {rep + 1}/{args.repeats}: {fmt_time(med)}/epoch, "
                            f"acc {r['test_accuracy']:.1f}%, peak RSS {r['peak_rss_mib']:.0f} MiB")
                    else:
                        log(f"{task:12s} {fw:9s} repeat {rep + 1}/{args.repeats}: "
                            f"{r.get('skipped') or 'FAILED ' + str(r.get('error'))}")
            results[task] = {fw: summarise(rs) for fw, rs in runs.items()}
            raw[task] = runs
            for r in results[task].values():
                r["n_train"] = spec["n_train"]
    log("measuring the machine (matmul peak, import time)...")
    machine = machine_info(args.matmul_size, args.import_repeats)
    machine.update(load_start=load_start, load_end=load_average())
    checks, blas, text = write_report(args, machine, results, args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": args.argv, "machine": machine, "results": results, "blas_bound": blas,
                       "targets": [{"target": d, "met": m, "value": v} for d, m, v in checks],
                       "runs": raw}, f, indent=1)
    log("")
    log("\n".join(results_table(results, frameworks)))
    log("")
    for desc, met, detail in checks:
        log(f"[{'MET' if met else ('n/a' if met is None else 'NOT MET')}] {desc}: {detail}")
    if machine_busy(machine):
        log(f"WARNING: the machine was busy (load {machine['load_start']:.1f} before, "
            f"{machine['load_end']:.1f} after): timings are unreliable")
    log(f"\nwrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return {"machine": machine, "results": results, "checks": checks, "markdown": text}


if __name__ == "__main__":
    main()
