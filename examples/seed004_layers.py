"""Seed 004, "Math of Neural Networks": a network assembled layer by layer, trained one sample at a time.

The tutorial writes an abstract ``Layer`` with forward and backward propagation, a fully connected
layer and an activation layer as *separate* layers, the mean squared error, and a ``Network`` with
``add``, ``use``, ``fit`` and ``predict`` that updates after every sample (per-sample SGD). It then
solves XOR with 2-3-1 tanh and MNIST with 784-100-50-10 tanh. glassnet's ``Sequential`` is that
``Network``: ``add`` the layers, ``compile`` (the tutorial's ``use``), ``fit(batch_size=1)``.

1. XOR: Dense(3) + Activation("tanh") + Dense(1) + Activation("tanh"), mse, lr 0.1, 1,000 epochs.
2. MNIST subset: Dense(100) + tanh + Dense(50) + tanh + Dense(10) + tanh on one-hot targets, mse,
   per-sample SGD at lr 0.1 (the tutorial trains on 1,000 images; here all 4,000 training images).

    python examples/seed004_layers.py            # 1,000 XOR epochs, 5 MNIST epochs of 4,000 steps
    python examples/seed004_layers.py --quick    # 300 XOR epochs, 2 MNIST epochs on 1,000 images
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Activation, Dense


def layer_by_layer(sizes, seed=0):
    """``Dense(n)`` then ``Activation("tanh")`` for each size, added one at a time as in the tutorial."""
    model = gn.Sequential(seed=seed)
    for i, units in enumerate(sizes[1:]):
        model.add(Dense(units, input_dim=sizes[0] if i == 0 else None))
        model.add(Activation("tanh"))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1), metrics=["accuracy"])
    return model


def fit_per_sample(model, X, y, epochs):
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=1, verbose=0)
    return history, time.perf_counter() - start


def xor(epochs, out):
    (X, y), _ = datasets.load("xor")
    model = layer_by_layer([2, 3, 1])
    history, seconds = fit_per_sample(model, X, y, epochs)
    outputs = [round(float(v), 3) for v in model.predict(X)[:, 0]]
    accuracy = model.evaluate(X, y)[1]
    print(f"XOR 2-3-1 tanh, {epochs} epochs x 4 per-sample steps in {seconds:.2f} s: outputs {outputs}, "
          f"accuracy {accuracy:.0%}")
    plot.decision_boundary(model, X, y, path=os.path.join(out, "xor_decision_boundary.png"), resolution=100)
    return {"xor_accuracy": accuracy, "xor_seconds": seconds, "xor_outputs": outputs}


def mnist(epochs, n_train, out):
    (X, y), (X_test, y_test) = datasets.load("mnist")
    X, y = X[:n_train], y[:n_train]            # the split is shuffled: any prefix has every digit
    model = layer_by_layer([784, 100, 50, 10])
    model.summary()
    # mse on tanh outputs wants one-hot targets (the tutorial's to_categorical)
    history, seconds = fit_per_sample(model, X, gn.to_categorical(y, 10), epochs)
    train_acc = float(np.mean(model.predict(X).argmax(axis=1) == y))
    test_acc = float(np.mean(model.predict(X_test).argmax(axis=1) == y_test))
    steps = epochs * len(X)
    print(f"MNIST 784-100-50-10 tanh, {epochs} epochs x {len(X)} per-sample steps in {seconds:.2f} s "
          f"({1e6 * seconds / steps:.0f} us per step): train accuracy {train_acc:.3f}, test {test_acc:.3f}")
    plot.learning_curve(history, path=os.path.join(out, "mnist_learning_curve.png"))
    plot.confusion_matrix(y_test, model.predict(X_test), path=os.path.join(out, "mnist_confusion_matrix.png"))
    return {"mnist_train_accuracy": train_acc, "mnist_test_accuracy": test_acc, "mnist_seconds": seconds,
            "mnist_us_per_step": 1e6 * seconds / steps}


def main(quick=False, out=None):
    """Run both experiments; returns accuracies and timings in a dict."""
    out = out or os.path.join("runs", "seed004_layers")
    os.makedirs(out, exist_ok=True)
    results = xor(300 if quick else 1000, out)
    results.update(mnist(2 if quick else 5, 1000 if quick else 4000, out))
    print(f"plots in {out}")
    return {**results, "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and images, for a quick look")
    parser.add_argument("--out", help="output folder (default runs/seed004_layers)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
