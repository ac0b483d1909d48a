"""Where the GPU time of glassnet's training step goes: each layer's forward and backward, the loss and
the optimizer, timed with a device synchronisation around each (so that parts do not overlap), then a
cProfile of the same fit without them (the host's view).

    python benchmarks/gpu_profile.py DIR RUN[,RUN...]     # DIR as benchmarks/gpu.py --prepare wrote it

The synchronisations slow the step down (the total is printed); the parts' shares are what to read.
"""
import collections
import cProfile
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
FOLDER, RUNS = sys.argv[1], sys.argv[2]
sys.path[:0] = [os.path.join(ROOT, "src"), HERE, os.path.join(HERE, "peers")]
import cupy  # noqa: E402
import glassnet as gn  # noqa: E402
import gpu  # noqa: E402
from common import one_hot  # noqa: E402
from tasks import build_glassnet, compile_glassnet  # noqa: E402


def sync():
    cupy.cuda.Device().synchronize()


def timed(table, key, fn):
    def wrapper(*a, **k):
        sync(); t = time.perf_counter()
        r = fn(*a, **k)
        sync(); table[key] += time.perf_counter() - t
        return r
    return wrapper


for name in RUNS.split(","):
    spec, X, y, Xt, yt, weights = gpu._load(FOLDER, name)
    gn.set_backend("cupy")
    model = build_glassnet(spec, seed=0)
    model.set_weights(weights)
    compile_glassnet(model, spec)
    targets = one_hot(y, spec["n_classes"])
    model.fit(X, targets, epochs=1, batch_size=spec["batch_size"], verbose=0)     # warm-up, kernels compiled
    table = collections.defaultdict(float)
    for i, layer in enumerate(model.layers):
        layer.forward = timed(table, f"{i} {type(layer).__name__} forward", layer.forward)
        layer.backward = timed(table, f"{i} {type(layer).__name__} backward", layer.backward)
        if hasattr(layer, "backward_from_logits"):
            layer.backward_from_logits = timed(table, f"{i} {type(layer).__name__} backward_from_logits", layer.backward_from_logits)
    model._optimizer_step = timed(table, "optimizer", model._optimizer_step)
    model.loss.from_logits_and_gradient = timed(table, "loss", model.loss.from_logits_and_gradient)
    epochs = 3
    sync(); t = time.perf_counter()
    model.fit(X, targets, epochs=epochs, batch_size=spec["batch_size"], verbose=0)
    sync(); total = (time.perf_counter() - t) / epochs
    print(f"== {name}: {total * 1e3:.1f} ms/epoch with syncs")
    for key, value in sorted(table.items(), key=lambda kv: -kv[1]):
        print(f"  {value / epochs * 1e3:8.2f} ms  {key}")
    # the same step with cProfile (host view)
    model2 = build_glassnet(spec, seed=0); model2.set_weights(weights); compile_glassnet(model2, spec)
    model2.fit(X, targets, epochs=1, batch_size=spec["batch_size"], verbose=0)
    pr = cProfile.Profile(); pr.enable()
    model2.fit(X, targets, epochs=2, batch_size=spec["batch_size"], verbose=0)
    sync(); pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(14)
