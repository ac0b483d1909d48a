"""After Seed 000: regularization on few, noisy moons, where a wide network overfits.

Seed 000's moons are easy; here a 2-100-100-1 ReLU network learns from only 100 noisy points
(make_moons noise 0.35) and is tested on 900. Trained without regularization, it fits every
training point and its boundary bends around single points; its test predictions are confident
and often wrong, so their cross-entropy is high. The same network with an L2 penalty on its
kernels (``kernel_regularizer=L2(0.003)``: 0.003 * sum(W ** 2) added to the loss) or with dropout
(``Dropout(0.5)`` after each hidden layer) is trained alike (Adam, lr 3e-3, batch 32, 400 epochs,
the same initial weights). The script prints, for each, the training and test accuracy, the test
cross-entropy *without* the penalty (the ``val_loss`` that fit logs includes it, as in Keras) and
the sum of the squared kernel weights, and writes each decision boundary.

    python examples/regularization_moons.py            # 400 epochs, plots in runs/regularization_moons
    python examples/regularization_moons.py --quick    # 60 epochs
"""
import argparse
import os

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Dense, Dropout
from glassnet.regularizers import L2

SETTINGS = {"none": {}, "l2": {"l2": 0.003}, "dropout": {"dropout": 0.5}}


def network(l2=None, dropout=None, seed=0):
    """2-100-100-1, ReLU hidden layers; an L2 penalty on every kernel or dropout after each hidden layer."""
    penalty = L2(l2) if l2 else None
    layers = []
    for i in range(2):
        layers.append(Dense(100, activation="relu", kernel_regularizer=penalty, input_dim=2 if i == 0 else None))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(1, activation="sigmoid", kernel_regularizer=penalty))
    model = gn.Sequential(layers, seed=seed)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(learning_rate=3e-3),
                  metrics=["accuracy"])
    return model


def main(quick=False, out=None):
    """Train the three networks (400 epochs; ``quick``: 60); returns {setting: results}."""
    out = out or os.path.join("runs", "regularization_moons")
    os.makedirs(out, exist_ok=True)
    (X, y), (X_test, y_test) = datasets.moons(n_samples=1000, noise=0.35, test_size=0.9, seed=3)
    epochs = 60 if quick else 400
    cross_entropy = gn.losses.BinaryCrossentropy()       # the data term alone, without the penalty
    results = {}
    print(f"{len(X)} training and {len(X_test)} test points, {epochs} epochs\n")
    print(f"{'setting':>8}  {'train acc':>9}  {'test acc':>8}  {'test CE':>7}  {'sum W^2':>7}")
    for name, setting in SETTINGS.items():
        model = network(**setting)
        history = model.fit(X, y, epochs=epochs, batch_size=32, validation_data=(X_test, y_test), verbose=0)
        kernels = sum(float(np.sum(layer.params["kernel"] ** 2)) for layer in model.layers
                      if "kernel" in layer.params)
        results[name] = {"train_accuracy": model.evaluate(X, y, return_dict=True)["accuracy"],
                         "test_accuracy": history.history["val_accuracy"][-1],
                         "test_cross_entropy": cross_entropy(model.predict(X_test), y_test),
                         "sum_squared_kernels": kernels}
        r = results[name]
        print(f"{name:>8}  {r['train_accuracy']:9.3f}  {r['test_accuracy']:8.3f}  "
              f"{r['test_cross_entropy']:7.3f}  {r['sum_squared_kernels']:7.1f}")
        plot.decision_boundary(model, X, y, path=os.path.join(out, f"boundary_{name}.png"))
    print(f"\ndecision boundaries (training points) in {out}/boundary_*.png")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 epochs, for a quick look")
    parser.add_argument("--out", help="output folder (default runs/regularization_moons)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
