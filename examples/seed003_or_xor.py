"""Seed 003, "Nothing but NumPy": the OR gate worked by hand, then XOR three ways.

1. OR gate: one sigmoid neuron with the tutorial's weights (0.1, 0.6), bias 0, the squared-error cost
   (1/2 convention) and learning rate 1. ``model.trace`` prints every intermediate of one forward and
   backward pass; the cost goes 0.089 -> 0.084 after one full-batch step. The gradients of the
   first step are dCost/dW = [-0.048, -0.039], dCost/db = -0.037; those of the second step (from
   the updated weights, the tutorial's exercise) are [-0.044, -0.035] and -0.031, as it says.
2. XOR with the same single neuron: no straight line separates the classes, so it stays near 50-75 %.
3. XOR with a feature cross x3 = x1 * x2 (a third input, its weight starting at 0.2): 100 %.
4. XOR with a hidden layer of three sigmoid neurons (2-3-1, Xavier init, lr 1, 5,000 epochs): 100 %.
The decision boundaries of 2-4 and the learning curve of 4 are written as PNGs.

    python examples/seed003_or_xor.py            # 5,000 full-batch epochs per model
    python examples/seed003_or_xor.py --quick    # 3,000
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Dense


def single_neuron(weights, bias=0.0):
    """One sigmoid neuron with the given weights, squared-error cost, full-batch gradient descent, lr 1."""
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=len(weights))], seed=0)
    model.set_weights([np.array(weights, np.float32)[:, None], np.array([bias], np.float32)])
    model.compile(loss="squared_error", optimizer=gn.optimizers.SGD(learning_rate=1.0), metrics=["accuracy"])
    return model


def or_gate_by_hand():
    """Seed 003's worked OR example: one forward/backward pass traced, then one update."""
    (X, y), _ = datasets.load("or")
    model = single_neuron([0.1, 0.6])
    trace = model.trace(X, y)
    print("OR gate, one sigmoid neuron, w = [0.1, 0.6], b = 0 (rows are the four samples):")
    print(trace)
    before = model.evaluate(X, y)[0]
    model.train_on_batch(X, y)                 # one full-batch step at learning rate 1
    after = model.evaluate(X, y)[0]
    first, second = trace[0]["grads"], model.trace(X, y)[0]["grads"]
    print(f"cost {before:.3f} -> {after:.3f} after one step")
    # the tutorial's exercise ("perform backpropagation yourself") starts from the updated weights
    for name, grads in (("first step ", first), ("second step", second)):
        print(f"{name}: dCost/dW = {rounded(grads['kernel'][:, 0])}, dCost/db = {rounded(grads['bias'])[0]}")
    return {"or_cost_before": before, "or_cost_after": after,
            "or_grad_kernel": first["kernel"][:, 0].tolist(), "or_grad_bias": float(first["bias"][0]),
            "or_second_grad_kernel": second["kernel"][:, 0].tolist(),
            "or_second_grad_bias": float(second["bias"][0])}


def rounded(array, decimals=3):
    """Plain floats rounded like the tutorial's figures (float32 values print long otherwise)."""
    return [round(float(v), decimals) for v in np.ravel(array)]


class FeatureCross:
    """Adds x1 * x2 as a third input, so the 3-input model can be asked about 2-D points (plots)."""

    def __init__(self, model):
        self.model = model

    @staticmethod
    def features(X):
        return np.column_stack([X, X[:, 0] * X[:, 1]]).astype(np.float32)

    def predict(self, X):
        return self.model.predict(self.features(X))


def train(model, X, y, epochs):
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=None, verbose=0)
    return history, time.perf_counter() - start


def xor_three_ways(epochs):
    """The single neuron (fails), the feature cross and the 2-3-1 hidden layer (both succeed)."""
    (X, y), _ = datasets.load("xor")
    one = single_neuron([0.1, 0.6])
    _, t_one = train(one, X, y, epochs)
    crossed = single_neuron([0.1, 0.6, 0.2])
    _, t_cross = train(crossed, FeatureCross.features(X), y, epochs)
    hidden = gn.Sequential([Dense(3, activation="sigmoid", kernel_initializer="xavier", input_dim=2),
                            Dense(1, activation="sigmoid", kernel_initializer="xavier")], seed=48)
    hidden.compile(loss="squared_error", optimizer=gn.optimizers.SGD(learning_rate=1.0), metrics=["accuracy"])
    history, t_hidden = train(hidden, X, y, epochs)
    rows = [("one neuron", one, X, t_one), ("feature cross x1*x2", crossed, FeatureCross.features(X), t_cross),
            ("hidden layer 2-3-1", hidden, X, t_hidden)]
    results = {}
    print(f"\nXOR, {epochs} full-batch epochs at learning rate 1, squared-error cost:")
    for (name, model, inputs, seconds), key in zip(rows, ("one_neuron", "feature_cross", "hidden_layer")):
        cost, accuracy = model.evaluate(inputs, y)
        p = model.predict(inputs)[:, 0]
        print(f"  {name:<20} cost {cost:.4f}  accuracy {accuracy:.0%}  outputs {rounded(p)}"
              f"  ({seconds:.2f} s)")
        results.update({f"xor_{key}_accuracy": accuracy, f"xor_{key}_cost": cost, f"xor_{key}_seconds": seconds})
    return results, (X, y), [(one, "one neuron"), (FeatureCross(crossed), "feature cross $x_1 x_2$"),
                             (hidden, "hidden layer 2-3-1")], history


def write_plots(out, data, models, history):
    """XOR decision boundaries side by side (red: 0, green: 1) and the hidden layer's cost curve."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    X, y = data
    fig = Figure(figsize=(15, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (model, title) in zip(fig.subplots(1, 3), models):
        plot.decision_boundary(model, X, y, ax=ax, resolution=150)
        ax.set_title(title)
    paths = [os.path.join(out, "xor_decision_boundaries.png"), os.path.join(out, "xor_learning_curve.png")]
    fig.savefig(paths[0])
    plot.learning_curve(history, path=paths[1], metrics=[])
    return paths


def main(quick=False, out=None):
    """Run seed 003's experiments; returns costs, gradients and accuracies in a dict."""
    out = out or os.path.join("runs", "seed003_or_xor")
    os.makedirs(out, exist_ok=True)
    results = or_gate_by_hand()
    xor_results, data, models, history = xor_three_ways(3000 if quick else 5000)
    results.update(xor_results)
    paths = write_plots(out, data, models, history)
    print("plots: " + ", ".join(paths))
    return {**results, "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 epochs instead of 5,000")
    parser.add_argument("--out", help="output folder (default runs/seed003_or_xor)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
