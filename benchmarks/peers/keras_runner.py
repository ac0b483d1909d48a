"""Keras 3 on the TensorFlow backend: the same network from glassnet's initial weights (Keras kernels
have glassnet's layout, so ``set_weights`` takes them as they are), trained with ``model.fit``.

``jit_compile`` is left at its default; ``fit(..., shuffle=True, verbose=0)``. A callback stamps the
clock at the start of training and the end of every epoch. The first epoch (tracing, compiling) is
never counted. Integer labels with ``sparse_categorical_crossentropy`` (the same mean cross-entropy
as one-hot ``categorical_crossentropy``). Squared error is a one-line custom loss:
``0.5 * sum((y_hat - y)^2)`` per sample, which Keras averages over the batch.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import time  # noqa: E402

import numpy as np  # noqa: E402
import keras  # noqa: E402

from common import accuracy, epoch_seconds, rss_mib  # noqa: E402


class _EpochClock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.stamps = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.stamps.append(time.perf_counter())


def _half_squared_error(y_true, y_pred):
    return 0.5 * keras.ops.sum(keras.ops.square(y_pred - y_true), axis=-1)


def build(task):
    layers = [keras.Input(shape=tuple(task["input_shape"]))]
    for spec in task["layers"]:
        kind = spec["type"]
        if kind == "dense":
            layers.append(keras.layers.Dense(spec["units"], activation=spec["activation"]))
        elif kind == "conv2d":
            layers.append(keras.layers.Conv2D(spec["filters"], spec["kernel"], activation=spec["activation"]))
        elif kind == "maxpool2d":
            layers.append(keras.layers.MaxPooling2D(spec["pool"]))
        elif kind == "flatten":
            layers.append(keras.layers.Flatten())
    return keras.Sequential(layers)


def run(task, X, y, Xt, yt, weights):
    keras.utils.set_random_seed(task["train_seed"])
    model = build(task)
    model.set_weights(weights)
    if task["optimizer"] == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=task["lr"])
    else:
        optimizer = keras.optimizers.Adam(learning_rate=task["lr"], epsilon=task["adam_epsilon"])
    loss = {"categorical_crossentropy": "sparse_categorical_crossentropy",
            "binary_crossentropy": "binary_crossentropy",
            "squared_error": _half_squared_error}[task["loss"]]
    if task["loss"] != "categorical_crossentropy":
        y = y.astype(np.float32).reshape(-1, 1)
    model.compile(loss=loss, optimizer=optimizer)
    rss_before = rss_mib()
    clock = _EpochClock()
    model.fit(X, y, batch_size=task["batch_size"], epochs=task["epochs"], shuffle=True, verbose=0,
              callbacks=[clock])
    out = model.predict(Xt, batch_size=max(len(Xt), 1), verbose=0)
    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    threads = None
    try:
        import tensorflow as tf
        versions["tensorflow"] = tf.__version__
        threads = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                   "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    except ImportError:
        pass
    return {"epoch_seconds": epoch_seconds(clock.stamps), "test_accuracy": accuracy(out, yt),
            "rss_after_import_mib": rss_before, "versions": versions, "threads": threads,
            "notes": ""}
