"""The benchmark harness (benchmarks/run.py) end to end on two tiny tasks: tables, JSON, machine info.

This tests the harness, not speed: no timing is asserted. PyTorch joins when it is installed.
"""
import importlib.util
import json
import os
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                reason="the moons task needs the datasets extra (scikit-learn)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def run_module(monkeypatch):
    """benchmarks/run.py imported in-process; sys.path and sys.modules restored afterwards."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))
    before = set(sys.modules)
    import run
    yield run
    for name in set(sys.modules) - before:
        if name in ("run", "tasks", "sklearn_runner", "floor", "seeds", "common", "glassnet_runner",
                    "torch_runner", "cpu_profile"):
            del sys.modules[name]


def test_run_writes_tables_for_xor_and_moons(run_module, tmp_path):
    out, js = tmp_path / "bench.md", tmp_path / "bench.json"
    peers = "torch" if HAS_TORCH else ""
    report = run_module.main(["--tasks", "xor,moons", "--peers", peers, "--epochs-scale", "0.001",
                              "--out", str(out), "--json", str(js), "--import-repeats", "1",
                              "--matmul-size", "128"])
    assert report["markdown"] == out.read_text()

    text = out.read_text()
    for heading in ("## Machine", "## Results", "## Targets (issue 5)", "## Method"):
        assert heading in text
    assert "GFLOP/s" in text and "`import glassnet`" in text
    assert "A tiny run" in text
    assert "| xor | glassnet | 5 |" in text            # 5000 epochs * 0.001
    assert "| moons | glassnet | 2 |" in text          # at least 2 epochs: the first is not timed
    if HAS_TORCH:
        assert "| xor | PyTorch | 5 |" in text and "| moons | PyTorch | 2 |" in text
        assert "moons: peak RSS glassnet < half of PyTorch's" in text

    data = json.loads(js.read_text())
    for task, epochs in (("xor", 5), ("moons", 2)):
        g = data["results"][task]["glassnet"]
        assert g["epochs"] == epochs and g["seconds_per_epoch"] > 0
        assert 0 <= g["test_accuracy"] <= 100 and g["peak_rss_mib"] > 0
        assert len(data["runs"][task]["glassnet"][0]["epoch_seconds"]) == epochs
    assert data["machine"]["matmul_gflops"] > 0

    # --from-json writes the same report again from the saved measurements, running nothing
    again = tmp_path / "again.md"
    rewritten = run_module.main(["--from-json", str(js), "--out", str(again)])
    assert again.read_text() == text == rewritten["markdown"]


def test_a_missing_peer_is_skipped_with_a_note(run_module, tmp_path, monkeypatch):
    run = run_module
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name, *args: None)   # nothing installed
    found = run.find_peers(["torch", "keras", "sklearn"], keras_python=str(tmp_path / "no-such-python"))
    assert found["glassnet"] == {"python": sys.executable}
    for peer in ("torch", "keras", "sklearn"):
        assert "not installed" in found[peer]["skipped"]
    fake = tmp_path / "python"
    fake.write_text("")
    assert run.find_peers(["keras"], keras_python=str(fake))["keras"] == {"python": str(fake)}
    rows = run.results_table({"xor": {"glassnet": {"skipped": "x"}, "keras": {"skipped": "not installed"}}},
                             ["glassnet", "keras"])
    assert "| xor | Keras | | | | | | | not installed |" in rows


def test_the_table_shows_the_spread_of_the_repeats(run_module):
    run = run_module
    row = {"seconds_per_epoch": 0.0021, "seconds_per_epoch_repeats": [0.0021, 0.0018, 0.0030],
           "epochs": 200, "test_accuracy": 98.0, "peak_rss_mib": 36.0}
    rows = run.results_table({"moons": {"glassnet": row, "torch": dict(row, seconds_per_epoch=0.0105,
                                                                         seconds_per_epoch_repeats=[0.0105])}},
                             ["glassnet", "torch"])
    assert "| moons | glassnet | 200 | 2.1 ms | 1.8-3 ms |  | 98.0 | 36 |  |" in rows
    assert "| moons | PyTorch | 200 | 10.5 ms | - | 0.20 | 98.0 | 36 |  |" in rows
    assert run.fmt_spread([1.5e-5, 2.5e-5]) == "15-25 µs" and run.fmt_spread([0.9, 1.2]) == "0.9-1.2 s"


def test_sklearn_runs_only_the_tasks_it_can_express(run_module):
    run = run_module
    assert "squared_error" in run.sklearn_unsupported(dict(run.TASKS["xor"]))
    assert "dense layers only" in run.sklearn_unsupported(dict(run.TASKS["mnist_cnn"]))
    for task in ("moons", "digits", "mnist_sgd1", "mnist_wide", "mnist1d_mlp"):
        assert run.sklearn_unsupported(dict(run.TASKS[task])) is None


def test_flops_of_the_blas_bound_task(run_module):
    # 784-512-512-10 on N samples: forward 2N(784*512 + 512*512 + 512*10), backward twice that,
    # less the first layer's input gradient 2N*784*512
    run, n = run_module, 4000
    forward = 2 * n * (784 * 512 + 512 * 512 + 512 * 10)
    assert run.dense_flops_per_epoch(run.TASKS["mnist_wide"], n) == 3 * forward - 2 * n * 784 * 512
    assert run.dense_flops_per_epoch(run.TASKS["mnist_cnn"], n) is None


@pytest.mark.parametrize("with_torch", [True, False])
def test_floor_reports_each_layer_of_work(run_module, tmp_path, monkeypatch, with_torch):
    import floor
    if with_torch and not HAS_TORCH:
        pytest.skip("PyTorch is not installed")
    if not with_torch:      # as on a machine without PyTorch: no time to compare the floor with
        monkeypatch.setattr(floor.run, "find_peers", lambda requested, keras_python: {
            "glassnet": {"python": sys.executable}, "torch": {"skipped": "not installed"}})
    out = tmp_path / "floor.md"
    rows, text = floor.main(["--tasks", "xor", "--calls", "3", "--epochs-scale", "0.0004",
                             "--out", str(out)])
    assert out.read_text() == text
    r = rows["xor"]
    assert min(r["matmuls"], r["exp"], r["optimizer"], r["glassnet_step"]) > 0
    assert r["n_train"] == 4 and r["epochs"] == 2 and r["glassnet"] > 0
    assert (r["torch"] is not None) == with_torch
    row = next(line for line in text.splitlines() if line.startswith("| xor | 4, 1 |"))
    assert row.endswith("| 0.2 | - | - |") != with_torch       # allowed and floor/allowed need PyTorch
    assert "floor / allowed" in text


@pytest.mark.parametrize("with_torch", [True, False])
def test_cpu_profile_splits_the_step_into_its_parts(run_module, tmp_path, monkeypatch, with_torch):
    import cpu_profile
    if with_torch and not HAS_TORCH:
        pytest.skip("PyTorch is not installed")
    if not with_torch:
        monkeypatch.setattr(cpu_profile.run, "find_peers", lambda requested, keras_python: {
            "glassnet": {"python": sys.executable}, "torch": {"skipped": "not installed"}})
    out = tmp_path / "profile.md"
    text = cpu_profile.main(["--task", "moons", "--epochs", "1", "--out", str(out)])
    assert out.read_text() == text
    # every layer's forward and backward, the loss and the optimizer have a row of their own
    for part in ("0 dense (Dense) forward", "4 dense_4 (Dense) backward", "| optimizer |", "| loss |",
                 "the rest (batches, the loop, logs)"):
        assert part in text
    assert ("glassnet / PyTorch = **" in text) == with_torch
    assert ("PyTorch: not installed here" in text) != with_torch


def test_seeds_report_gives_the_paired_interval(run_module):
    import seeds
    lines = seeds.report("xor", "torch", {"glassnet": [91.0, 92.0, 93.0], "torch": [90.0, 90.0, 90.0]})
    text = "\n".join(lines)
    assert "| glassnet | 91.0 | 92.0 | 93.0 | **92.00** | 1.00 |" in text
    # differences 1, 2, 3: mean 2, std 1, t(2 dof) = 4.303 -> half-width 4.303 / sqrt(3) = 2.484
    assert "+2.00 points, 95 % interval [-0.48, +4.48]; the widest single seed 2: +3.0 points" in text


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_seeds_trains_each_seed_in_both_frameworks(run_module, tmp_path):
    import seeds
    out = tmp_path / "seeds.md"
    seeds.main(["--tasks", "xor", "--peers", "torch", "--seeds", "2", "--out", str(out)])
    text = out.read_text()
    assert "### xor: glassnet vs torch, 2 seeds" in text
    for name in ("glassnet", "torch"):       # two accuracies (of 4 points: 0, 25, ... 100), mean, std
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        values = [float(v.strip("* ")) for v in row.strip("|").split("|")[1:]]
        assert len(values) == 4 and all(v % 25 == 0 for v in values[:2])
    with pytest.raises(SystemExit):
        seeds.main(["--seeds", "1"])


def test_blas_info_names_numpys_own_openblas(run_module, monkeypatch):
    """A process that has loaded SciPy (or PyTorch) holds several OpenBLAS builds; the report names
    NumPy's, whatever order threadpoolctl lists them in."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    scipys = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30", "num_threads": 2,
              "threading_layer": "pthreads", "architecture": "SkylakeX",
              "filepath": os.path.join("site-packages", "scipy.libs", "libscipy_openblas.so")}
    numpys = dict(scipys, version="0.3.31", filepath=os.path.join("site-packages", "numpy.libs",
                                                                  "libscipy_openblas64_.so"))
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [scipys, numpys])
    assert run_module.blas_info().startswith("openblas 0.3.31 ")


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_same_order_gives_both_frameworks_the_same_batches(run_module, monkeypatch):
    """With ``order_seed`` the glassnet and PyTorch runners train on the same batch sequence, so
    from the same initial weights they end with the same network up to rounding; with their own
    shuffles they do not."""
    import numpy as np
    from tasks import build_glassnet, load_data, runner_spec
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks", "peers"))
    import glassnet_runner
    import torch_runner
    X, y, Xt, yt = load_data(run_module.TASKS["moons"]["data"])
    spec = runner_spec("moons", y, yt, scale=0.02)           # 4 epochs
    weights = build_glassnet(spec).get_weights()

    def probabilities(runner, task):
        seen = []
        monkeypatch.setattr(runner, "accuracy", lambda out, *args, **kwargs: seen.append(out) or 0.0)
        runner.run(task, X, y, Xt, yt, weights)
        out = np.asarray(seen[0], dtype=np.float64)
        return out if runner is glassnet_runner else 1 / (1 + np.exp(-out))    # PyTorch's are logits

    gaps = {}
    for order_seed in (None, 3):
        task = dict(spec, order_seed=order_seed)
        gaps[order_seed] = np.abs(probabilities(glassnet_runner, task)
                                  - probabilities(torch_runner, task)).max()
    assert gaps[3] < 1e-4 < 1e-2 < gaps[None]
