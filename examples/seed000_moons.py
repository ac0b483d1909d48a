"""Seed 000, "Mysteries of Neural Networks III": a dense network from a list of dicts, on two moons.

The tutorial describes its network as a list of dicts (each layer's ``input_dim``, ``output_dim`` and
``activation``), trains 2-25-50-50-25-1 (ReLU, sigmoid output) with binary cross-entropy and plain
gradient descent, reaches about 95 % test accuracy on make_moons, and finds NumPy "several dozen
times" slower than Keras. This script builds the same network with
``Sequential.from_architecture``, trains it with SGD (lr 0.1, batch 32), writes the learning curve
and the decision boundary, and times the same network, data, initial weights and optimizer in
PyTorch and Keras when they are installed.

    python examples/seed000_moons.py            # 200 epochs, plots in runs/seed000_moons
    python examples/seed000_moons.py --quick    # 30 epochs, a few epochs per framework
"""
import argparse
import contextlib
import os
import time

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.callbacks import LambdaCallback

ARCHITECTURE = [
    {"input_dim": 2, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 1, "activation": "sigmoid"},
]
LEARNING_RATE, BATCH_SIZE = 0.1, 32


def single_threaded():
    """Limit NumPy's BLAS to one thread, as the peers are limited below: on layers this small, extra
    threads only add synchronisation (and on a busy machine they thrash)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                 # scikit-learn brings it; without it BLAS picks its own count
        return contextlib.nullcontext()
    return threadpool_limits(1)


class EpochTimer:
    """Wall-clock seconds of each epoch; the median leaves out the first epoch's warm-up costs."""

    def __init__(self):
        self.times, self._start = [], None

    def begin(self, *_):
        self._start = time.perf_counter()

    def end(self, *_):
        self.times.append(time.perf_counter() - self._start)

    def result(self, framework, train_accuracy, test_accuracy):
        return {"framework": framework, "epochs": len(self.times), "seconds": sum(self.times),
                "ms_per_epoch": 1000 * float(np.median(self.times)),
                "train_accuracy": float(train_accuracy), "test_accuracy": float(test_accuracy)}


def train_glassnet(data, epochs, out):
    """Seed 000's network in glassnet; returns the results and the initial weights (for the peers)."""
    (X, y), (X_test, y_test) = data
    model = gn.Sequential.from_architecture(ARCHITECTURE, seed=0)
    initial_weights = model.get_weights()
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=LEARNING_RATE),
                  metrics=["accuracy"])
    timer = EpochTimer()
    with single_threaded():
        history = model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0,
                            callbacks=[LambdaCallback(on_epoch_begin=timer.begin, on_epoch_end=timer.end)])
    plot.learning_curve(history, path=os.path.join(out, "learning_curve.png"))
    plot.decision_boundary(model, X_test, y_test, path=os.path.join(out, "decision_boundary.png"))
    result = timer.result("glassnet (NumPy)", model.evaluate(X, y)[1], model.evaluate(X_test, y_test)[1])
    return result, initial_weights


def train_torch(data, epochs, weights):
    """The same network, initial weights, shuffled mini-batches and SGD step in PyTorch."""
    try:
        import torch
    except ImportError:
        return {"framework": "PyTorch", "note": "not installed (pip install torch)"}
    (X, y), (X_test, y_test) = data
    layers = []
    for spec in ARCHITECTURE:
        layers.append(torch.nn.Linear(spec["input_dim"], spec["output_dim"]))
        layers.append(torch.nn.ReLU() if spec["activation"] == "relu" else torch.nn.Sigmoid())
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():               # glassnet kernels are (in, out); torch weights (out, in)
        for linear, kernel, bias in zip(net[::2], weights[::2], weights[1::2]):
            linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias))
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.BCELoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))[:, None]
    generator, timer, threads = torch.Generator().manual_seed(0), EpochTimer(), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(epochs):
            timer.begin()
            order = torch.randperm(len(Xt), generator=generator)
            Xs, ys = Xt[order], yt[order]
            for i in range(0, len(Xs), BATCH_SIZE):
                optimizer.zero_grad()
                loss_fn(net(Xs[i:i + BATCH_SIZE]), ys[i:i + BATCH_SIZE]).backward()
                optimizer.step()
            timer.end()
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        accuracy = [float(((net(torch.from_numpy(a))[:, 0] > 0.5).numpy() == b).mean())
                    for a, b in ((X, y), (X_test, y_test))]
    return timer.result(f"PyTorch {torch.__version__.split('+')[0]}", *accuracy)


def train_keras(data, epochs, weights):
    """The same network and initial weights in Keras (model.fit, SGD, batch 32), if installed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")      # TensorFlow's start-up chatter
    try:
        import keras
        if keras.backend.backend() == "tensorflow":       # one thread, as for the others
            import tensorflow as tf
            with contextlib.suppress(RuntimeError):         # already initialised: keep its threads
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(1)
    except ImportError:
        return {"framework": "Keras", "note": "not installed (pip install keras tensorflow-cpu)"}
    (X, y), (X_test, y_test) = data
    # fit shuffles each epoch with Keras' own generator: seeded, as PyTorch's order is above, so its
    # accuracies are the same every run (unseeded they varied by up to 0.016 between runs)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,))] + [
        keras.layers.Dense(spec["output_dim"], activation=spec["activation"]) for spec in ARCHITECTURE])
    model.set_weights(weights)                               # the same (in, out) layout as glassnet
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE),
                  metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
        on_epoch_begin=timer.begin, on_epoch_end=timer.end)])
    accuracy = [model.evaluate(a, b, verbose=0)[1] for a, b in ((X, y), (X_test, y_test))]
    return timer.result(f"Keras {keras.__version__} ({keras.backend.backend()})", *accuracy)


def timing_table(rows):
    """Rows of results as a fixed-width table: time per epoch and accuracy per framework."""
    lines = [f"{'framework':<36} {'epochs':>6} {'total s':>8} {'ms/epoch*':>9} {'train acc':>9} {'test acc':>9}"]
    for r in rows:
        if "note" in r:
            lines.append(f"{r['framework']:<36} skipped: {r['note']}")
        else:
            lines.append(f"{r['framework']:<36} {r['epochs']:>6} {r['seconds']:>8.2f} "
                         f"{r['ms_per_epoch']:>9.2f} {r['train_accuracy']:>9.3f} "
                         f"{r['test_accuracy']:>9.3f}")
    lines.append("* median over epochs (the first one pays for warm-up); one thread each")
    return "\n".join(lines)


def main(quick=False, out=None):
    """Train seed 000's network (200 epochs; ``quick``: 30) and time it against the peers.

    Returns ``{"test_accuracy", "train_accuracy", "seconds", "ms_per_epoch", "peers": [...]}``."""
    out = out or os.path.join("runs", "seed000_moons")
    os.makedirs(out, exist_ok=True)
    data = datasets.load("moons")
    epochs = 30 if quick else 200
    ours, weights = train_glassnet(data, epochs, out)
    print(f"glassnet: {epochs} epochs in {ours['seconds']:.2f} s, train accuracy "
          f"{ours['train_accuracy']:.3f}, test accuracy {ours['test_accuracy']:.3f}")
    # the peers' timings need only a few epochs in quick mode; Keras' import alone takes seconds
    peer_epochs = 3 if quick else epochs
    peers = [train_torch(data, peer_epochs, weights),
             train_keras(data, peer_epochs, weights) if not quick else
             {"framework": "Keras", "note": "skipped with --quick"}]
    print(timing_table([ours, *peers]))
    print(f"plots in {out}/learning_curve.png and {out}/decision_boundary.png")
    return {**{k: ours[k] for k in ("test_accuracy", "train_accuracy", "seconds", "ms_per_epoch")},
            "peers": peers, "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for a quick look")
    parser.add_argument("--out", help="output folder (default runs/seed000_moons)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
