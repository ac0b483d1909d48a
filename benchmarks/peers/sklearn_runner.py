"""scikit-learn's MLPClassifier, where a task maps onto it: dense layers with one hidden activation
(relu, tanh or logistic), a log-loss output (logistic for two classes, softmax otherwise), SGD or Adam.

Settings that make it the same algorithm as the others: ``alpha=0`` (no L2), plain SGD
(``momentum=0``, constant learning rate), Adam's epsilon as the others', float32 inputs (kept as
float32). One ``partial_fit`` call is one epoch (shuffled, mini-batches of ``batch_size``); its time
includes the input validation each call repeats. The initial weights are glassnet's, copied in after
a first ``partial_fit`` on one batch (which creates the arrays) and before the optimizer exists.
"""
import time

import numpy as np
import sklearn
from sklearn.neural_network import MLPClassifier

from common import accuracy, epoch_seconds, rss_mib

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}


def unsupported(task):
    """Why MLPClassifier cannot run ``task``, or None when it can."""
    layers = task["layers"]
    if any(layer["type"] != "dense" for layer in layers):
        return "MLPClassifier has dense layers only"
    if task["loss"] not in ("binary_crossentropy", "categorical_crossentropy"):
        return f"MLPClassifier has no {task['loss']} loss for classification (log-loss only)"
    hidden = {layer["activation"] for layer in layers[:-1]}
    if len(hidden) != 1 or not hidden <= set(_ACTIVATIONS):
        return f"MLPClassifier needs one hidden activation among relu/tanh/logistic, got {sorted(hidden)}"
    return None


def run(task, X, y, Xt, yt, weights):
    reason = unsupported(task)
    if reason:
        return {"skipped": reason}
    layers = task["layers"]
    kwargs = dict(hidden_layer_sizes=tuple(layer["units"] for layer in layers[:-1]),
                  activation=_ACTIVATIONS[layers[0]["activation"]], solver=task["optimizer"],
                  alpha=0.0, batch_size=task["batch_size"], learning_rate_init=task["lr"],
                  shuffle=True, random_state=task["train_seed"])
    if task["optimizer"] == "sgd":
        kwargs.update(momentum=0.0, nesterovs_momentum=False, learning_rate="constant")
    else:
        kwargs.update(epsilon=task["adam_epsilon"])
    clf = MLPClassifier(**kwargs)
    classes = np.arange(task["n_classes"])
    bs = task["batch_size"]
    clf.partial_fit(X[:bs], y[:bs], classes=classes)          # creates coefs_ / intercepts_
    notes = "initial weights: glassnet's"
    shapes_ok = [c.shape for c in clf.coefs_] == [w.shape for w in weights[0::2]]
    if shapes_ok and hasattr(clf, "_optimizer"):
        for target, value in zip(clf.coefs_ + clf.intercepts_, weights[0::2] + weights[1::2]):
            target[...] = value
        del clf._optimizer          # partial_fit makes a fresh one (fresh Adam moments) next call
    else:
        notes = "initial weights: scikit-learn's (could not copy glassnet's)"
    rss_before = rss_mib()
    stamps = [time.perf_counter()]
    for _ in range(task["epochs"]):
        clf.partial_fit(X, y)
        stamps.append(time.perf_counter())
    proba = clf.predict_proba(Xt)
    out = proba[:, 1:] if proba.shape[1] == 2 else proba
    return {"epoch_seconds": epoch_seconds(stamps), "test_accuracy": accuracy(out, yt),
            "rss_after_import_mib": rss_before,
            "versions": {"sklearn": sklearn.__version__}, "threads": None,
            "notes": f"{notes}, {clf.coefs_[0].dtype}"}
