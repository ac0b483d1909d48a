"""Seed 002, "easy vs hard": scikit-learn's 8x8 digits with 64-128-128-10 (sigmoid, softmax output).

The tutorial trains the same network twice: the "easy" way in Keras (Adadelta, mini-batches of 64,
50 epochs) and the "hard" way in NumPy (full-batch gradient descent, 1,500 epochs). Here both styles
are the same glassnet model with different ``fit`` arguments: full-batch gradient descent at
learning rate 0.5, then mini-batches with Adadelta (lr 1.0, the paper's and PyTorch's default) and
with Adam. Labels stay integers (sparse categorical cross-entropy; one-hot targets with
``categorical_crossentropy`` train the same network).

The tutorial ends with debugging tips; glassnet turns three of them into diagnostics, shown last:
"weights are all NaNs" (``NonFiniteError`` says where and suggests causes), "predicts all inputs to
the same category" (count the predicted classes) and "check the dimensions" (shape errors that say
what was expected and how to fix it).

    python examples/seed002_digits.py            # 1,500 full-batch epochs, 50 mini-batch epochs
    python examples/seed002_digits.py --quick    # 300 and 8
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Dense


def digits_network(activation="sigmoid", seed=0):
    """64-128-128-10: two hidden layers and a softmax output, as in the tutorial."""
    return gn.Sequential([Dense(128, activation=activation, input_dim=64), Dense(128, activation=activation),
                          Dense(10, activation="softmax")], seed=seed)


def train_styles(data, quick):
    """The network trained three ways; returns one row of results per style (and the last model)."""
    (X, y), (X_test, y_test) = data
    styles = [("full_batch_gd", "full-batch gradient descent, lr 0.5", gn.optimizers.SGD(learning_rate=0.5),
               None, 300 if quick else 1500),
              ("adadelta", "mini-batch 64, Adadelta lr 1.0", gn.optimizers.Adadelta(learning_rate=1.0), 64,
               8 if quick else 50),
              ("adam", "mini-batch 64, Adam lr 0.001", gn.optimizers.Adam(learning_rate=0.001), 64,
               8 if quick else 50)]
    rows = []
    for key, name, optimizer, batch_size, epochs in styles:
        model = digits_network()
        model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
        seconds = time.perf_counter() - start
        rows.append({"key": key, "style": name, "epochs": epochs, "seconds": seconds,
                     "train_accuracy": model.evaluate(X, y)[1], "test_accuracy": model.evaluate(X_test, y_test)[1]})
        print(f"  {name:<38} {epochs:>5} epochs {seconds:>6.2f} s   train {rows[-1]['train_accuracy']:.3f}"
              f"   test {rows[-1]['test_accuracy']:.3f}")
    return rows, model, history


def debugging_tips(data):
    """Seed 002's tips, as glassnet reports them. Returns what each diagnostic said."""
    (X, y), _ = data
    tips = {}
    print("\nTip 1, 'weights are all NaNs': hidden layers that lost their activation (linear), raw "
          "pixels 0..16 and lr 0.5:")
    model = gn.Sequential([Dense(128, input_dim=64), Dense(128), Dense(10, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.5))
    try:
        with np.errstate(all="ignore"):       # NumPy's overflow warnings say less than the error
            model.fit(X * 16, y, epochs=5, batch_size=64, verbose=0)
        tips["nan"] = None
    except gn.NonFiniteError as exc:
        print(f"  NonFiniteError (epoch {exc.epoch}, batch {exc.batch}, layer {exc.layer}): {exc}")
        tips["nan"] = str(exc)

    print("\nTip 2, 'predicts all inputs to the same category': ReLU, raw pixels, lr 1.0, then the fix:")
    for scale, label in ((16.0, "raw pixels 0..16"), (1.0, "pixels scaled to 0..1, lr 0.1")):
        model = digits_network("relu")
        lr = 1.0 if scale > 1 else 0.1
        model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=lr))
        model.fit(X * scale, y, epochs=3, batch_size=64, verbose=0)
        counts = np.bincount(model.predict(X * scale).argmax(axis=1), minlength=10)
        print(f"  {label:<30} images predicted as each digit 0-9: {counts.tolist()}")
        tips["classes_raw" if scale > 1 else "classes_scaled"] = int((counts > 0).sum())

    print("\nTip 3, 'check the dimensions': integer labels given to categorical_crossentropy:")
    model = digits_network()
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    try:
        model.fit(X, y, epochs=1, verbose=0)
        tips["shape"] = None
    except ValueError as exc:
        print(f"  ValueError: {exc}")
        tips["shape"] = str(exc)
    return tips


def main(quick=False, out=None):
    """Train the digits network in both styles and show the diagnostics; returns a results dict."""
    out = out or os.path.join("runs", "seed002_digits")
    os.makedirs(out, exist_ok=True)
    data = datasets.load("digits")
    print(f"digits: {len(data[0][0])} training and {len(data[1][0])} test images, 64-128-128-10 "
          f"sigmoid/softmax")
    rows, model, history = train_styles(data, quick)
    X_test, y_test = data[1]
    plot.learning_curve(history, path=os.path.join(out, "learning_curve_adam.png"))
    plot.confusion_matrix(y_test, model.predict(X_test), path=os.path.join(out, "confusion_matrix_adam.png"))
    print(f"plots: {out}/learning_curve_adam.png, {out}/confusion_matrix_adam.png")
    tips = debugging_tips(data)
    return {"styles": rows, "tips": tips, "out": out,
            "test_accuracy": {row["key"]: row["test_accuracy"] for row in rows}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for a quick look")
    parser.add_argument("--out", help="output folder (default runs/seed002_digits)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
