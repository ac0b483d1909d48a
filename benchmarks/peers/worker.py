"""Run one (task, framework) benchmark in this fresh process and print its result as JSON.

    python benchmarks/peers/worker.py FRAMEWORK TASK.json DATA.npz

``run.py`` starts one worker per (task, framework, repeat), so that each framework's peak RSS is its
own (interpreter + NumPy + the framework's import + data + training) and no framework's threads or
allocator state leak into another's timings. The worker imports only NumPy and the one runner
``peers/<framework>_runner.py``: the Keras worker can run in another interpreter (another venv).

The result is the last stdout line, prefixed with ``BENCH_RESULT ``.
"""
import importlib
import json
import os
import sys
import time

PREFIX = "BENCH_RESULT "


def main(argv):
    framework, task_path, data_path = argv
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import numpy as np
    from common import rss_mib
    with open(task_path) as f:
        task = json.load(f)
    with np.load(data_path) as data:
        arrays = {k: data[k] for k in data.files}
    weights = [arrays[f"w{i}"] for i in range(task["n_weights"])]
    runner = importlib.import_module(f"{framework}_runner")
    t0 = time.perf_counter()
    result = runner.run(task, arrays["X_train"], arrays["y_train"], arrays["X_test"], arrays["y_test"],
                        weights)
    result.update(framework=framework, task=task["name"], epochs=task["epochs"],
                  wall_seconds=time.perf_counter() - t0, peak_rss_mib=rss_mib(),
                  python=sys.version.split()[0], numpy=np.__version__)
    sys.stdout.flush()
    print(PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
