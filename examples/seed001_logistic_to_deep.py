"""Seed 001: from one sigmoid neuron (logistic regression) to a deep binary classifier on images.

The tutorial flattens each image into a vector, fits ``y_hat = sigmoid(W x + b)`` with the
vectorised cost and gradients averaged over the N samples, then stacks ReLU layers as
``n_units = [nx, 5, 5, 5, 3, 1]`` with a sigmoid output. Its cat pictures are not shipped, so the
task here is "is this a 5?" on the 5,000-image MNIST subset (28 x 28 pixels flattened to nx = 784),
one digit against the other nine. About 90 % of the images are not a 5, so 90 % accuracy is what
always answering "no" scores: the baseline printed next to the results.

1. Logistic regression: one sigmoid unit, binary cross-entropy, full-batch gradient descent
   (the tutorial's loop), zero initial weights (fine for a single neuron).
2. The deep classifier [784, 5, 5, 5, 3, 1], ReLU hidden layers with He initialisation, mini-batch SGD.

    python examples/seed001_logistic_to_deep.py            # 300 GD epochs, 30 SGD epochs
    python examples/seed001_logistic_to_deep.py --quick    # 60 and 6
"""
import argparse
import os
import time

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Dense

DIGIT = 5
N_UNITS = [784, 5, 5, 5, 3, 1]


def one_against_rest(digit):
    """The MNIST subset with labels 1 for ``digit`` and 0 for every other digit."""
    (X, y), (X_test, y_test) = datasets.load("mnist")
    return (X, (y == digit).astype(int)), (X_test, (y_test == digit).astype(int))


def logistic_regression():
    model = gn.Sequential([Dense(1, activation="sigmoid", kernel_initializer="zeros", input_dim=N_UNITS[0])],
                          seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.5),
                  metrics=["accuracy"])
    return model


def deep_classifier():
    """Dense layers sized by ``N_UNITS``: ReLU in between, one sigmoid unit at the end."""
    hidden = [Dense(units, activation="relu", kernel_initializer="he",
                    input_dim=N_UNITS[0] if i == 0 else None) for i, units in enumerate(N_UNITS[1:-1])]
    model = gn.Sequential([*hidden, Dense(N_UNITS[-1], activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.1),
                  metrics=["accuracy"])
    return model


def fit_and_score(name, model, data, epochs, batch_size, out):
    (X, y), (X_test, y_test) = data
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - start
    result = {"model": name, "epochs": epochs, "seconds": seconds, "params": model.count_params(),
              "train_accuracy": model.evaluate(X, y)[1], "test_accuracy": model.evaluate(X_test, y_test)[1]}
    plot.learning_curve(history, path=os.path.join(out, f"learning_curve_{name.split()[0]}.png"))
    print(f"  {name:<36} {result['params']:>6} params {epochs:>4} epochs {seconds:>6.2f} s   "
          f"train {result['train_accuracy']:.3f}   test {result['test_accuracy']:.3f}")
    return result


def main(quick=False, out=None):
    """Train both classifiers; returns their accuracies (and the always-'no' baseline) in a dict."""
    out = out or os.path.join("runs", "seed001_logistic_to_deep")
    os.makedirs(out, exist_ok=True)
    data = one_against_rest(DIGIT)
    (X, _), (_, y_test) = data
    baseline = 1 - y_test.mean()
    print(f"'is it a {DIGIT}?' on {len(X)} flattened {X.shape[1]}-pixel images; always answering 'no' "
          f"scores {baseline:.3f} on the test set")
    logistic = fit_and_score("logistic regression (full-batch GD 0.5)", logistic_regression(), data,
                             60 if quick else 300, None, out)
    deep = fit_and_score("deep [784,5,5,5,3,1] (SGD 0.1, batch 32)", deep_classifier(), data,
                         6 if quick else 30, 32, out)
    print(f"learning curves in {out}")
    return {"baseline": float(baseline), "logistic": logistic, "deep": deep, "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for a quick look")
    parser.add_argument("--out", help="output folder (default runs/seed001_logistic_to_deep)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
