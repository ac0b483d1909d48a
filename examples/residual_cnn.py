"""After Seed 004's layers: a residual CNN drawn as a graph (gn.Model, Add) against the same stack without shortcuts.

A Sequential is one chain of layers. ResNet's idea (He et al. 2015) needs a graph: a block's
input is added back to its output, ``y = relu(x + conv(relu(conv(x))))``, so that each block only
learns a correction and gradients reach the early layers through the shortcuts undiminished.
This script draws two networks of the same depth and the same weights count on glassnet's
5,000-image MNIST subset (4,000 to train, 1,000 to test):

    stem:   conv(16, 3x3, same, relu) - maxpool 2                       28x28x1 -> 14x14x16
    blocks: N blocks of conv(16, 3x3, same, relu) - conv(16, 3x3, same)  14x14x16 -> 14x14x16
            "plain": relu(conv(...)); "residual": relu(x + conv(...)) (an Add layer)
    head:   global average pooling - dense(10, softmax)

and trains both from the same seed (Adam 1e-3, batch 64, sparse categorical cross-entropy). It
prints the test accuracy of both after every epoch and the residual model's ``summary()`` (with
its "Connected to" column), and writes both learning curves. At four blocks both networks train;
the shortcuts' gain is modest here (docs/examples.md has the numbers) and grows with depth.

    python examples/residual_cnn.py            # 4 blocks, 6 epochs each
    python examples/residual_cnn.py --quick    # 2 blocks, 2 epochs, on 1,000 images
"""
import argparse
import io
import os
import time
from contextlib import redirect_stdout

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Activation, Add, Conv2D, Dense, GlobalAveragePooling2D, MaxPooling2D

FILTERS, LEARNING_RATE, BATCH_SIZE, SEED = 16, 1e-3, 64, 0
BLOCKS, EPOCHS, QUICK_BLOCKS, QUICK_EPOCHS, QUICK_IMAGES = 4, 6, 2, 2, 1000


def network(blocks, residual, seed=SEED):
    """The stem, ``blocks`` blocks (with or without their shortcut) and the head, as a gn.Model."""
    inputs = gn.Input((28, 28, 1))
    x = MaxPooling2D(2)(Conv2D(FILTERS, 3, padding="same", activation="relu", kernel_initializer="he_uniform")(inputs))
    for _ in range(blocks):
        y = Conv2D(FILTERS, 3, padding="same", activation="relu", kernel_initializer="he_uniform")(x)
        y = Conv2D(FILTERS, 3, padding="same", kernel_initializer="he_uniform")(y)
        x = Activation("relu")(Add()([x, y]) if residual else y)       # the shortcut, or none
    outputs = Dense(10, activation="softmax")(GlobalAveragePooling2D()(x))
    return gn.Model(inputs, outputs, name="residual" if residual else "plain", seed=seed)


def train(model, data, epochs):
    """Train ``model`` on ``data``; returns its History and seconds per epoch (median)."""
    (X, y), (X_test, y_test) = data
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(LEARNING_RATE),
                  metrics=["accuracy"])
    starts = []
    timer = gn.callbacks.LambdaCallback(on_epoch_begin=lambda *_: starts.append(time.perf_counter()),
                                        on_epoch_end=lambda *_: starts.append(time.perf_counter()))
    history = model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, validation_data=(X_test, y_test),
                        verbose=0, callbacks=[timer])
    return history, float(np.median(np.diff(starts)[::2]))


def main(quick=False, out=None):
    """Train the plain and the residual network; returns ``{"plain": ..., "residual": ...}`` (each the
    test accuracy and training loss per epoch, ``test_accuracy`` at the end, ``seconds_per_epoch``), ``blocks``,
    ``params``, ``summary`` and ``out``."""
    out = out or os.path.join("runs", "residual_cnn")
    os.makedirs(out, exist_ok=True)
    (X, y), (X_test, y_test) = datasets.mnist(image_shape=True)
    if quick:
        X, y = X[:QUICK_IMAGES], y[:QUICK_IMAGES]
    blocks, epochs = (QUICK_BLOCKS, QUICK_EPOCHS) if quick else (BLOCKS, EPOCHS)
    results = {"blocks": blocks, "out": out}
    for residual in (False, True):
        model = network(blocks, residual)
        history, seconds = train(model, ((X, y), (X_test, y_test)), epochs)
        test = [float(a) for a in history.history["val_accuracy"]]
        results[model.name] = {"test_accuracy_by_epoch": test, "test_accuracy": test[-1],
                               "loss_by_epoch": [float(v) for v in history.history["loss"]],
                               "seconds_per_epoch": seconds}
        results["params"] = model.count_params()        # the same for both: an Add has no weights
        plot.learning_curve(history, os.path.join(out, f"learning_curve_{model.name}.png"))
        print(f"{model.name:8s} ({blocks} blocks, {model.count_params():,} weights): test accuracy by epoch "
              f"{', '.join(f'{a:.3f}' for a in test)}; {seconds:.2f} s/epoch")
    printed = io.StringIO()
    with redirect_stdout(printed):
        model.summary()
    results["summary"] = printed.getvalue()
    print(results["summary"])
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 blocks, 2 epochs, 1,000 training images")
    parser.add_argument("--out", default=None, help="where the plots go (default runs/residual_cnn)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
