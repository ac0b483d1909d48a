"""After Seed 004's MNIST: few images, and augmentation layers that make more of them.

The CNN of ``cnn_mnist.py`` (issue 4: conv 8 - pool - conv 16 - pool - dense 10, 5,258 parameters) learns
from only 500 of the MNIST subset's training images and is scored on its 1,000 test images. Alone,
it fits every training image within a few dozen epochs and stops improving on the test set. The
same network behind three of Keras' augmentation layers, ``RandomRotation(0.04)`` (up to 14
degrees), ``RandomTranslation(0.08, 0.08)`` (up to 2 pixels) and ``RandomZoom(0.08)``, sees every
image slightly moved, turned and scaled at each epoch (a new draw per image and step from the
model's seed, pixels from outside the image black: ``fill_mode="constant"``); at ``predict`` and
``evaluate`` the layers pass the images on unchanged. Both train alike (Adam lr 2e-3, batch 32,
60 epochs, the same initial weights), from three seeds each.

The script prints the final and best test accuracy and the final training accuracy (measured
without augmentation) of each run, the seconds per epoch (with the test set's evaluation), and
writes the learning curve of both seed-0 runs.

    python examples/augmented_mnist.py            # 60 epochs, seeds 0-2 (about a minute)
    python examples/augmented_mnist.py --quick    # 8 epochs, seed 0
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import (Conv2D, Dense, Flatten, MaxPooling2D, RandomRotation, RandomTranslation,
                             RandomZoom)

N_TRAIN, LEARNING_RATE, BATCH_SIZE, EPOCHS, QUICK_EPOCHS = 500, 2e-3, 32, 60, 8
SEEDS = (0, 1, 2)


def cnn(front=(), seed=0):
    """The issue-4 CNN, behind the layers ``front``."""
    return gn.Sequential([
        gn.Input((28, 28, 1)), *front,
        Conv2D(8, 3, activation="relu", kernel_initializer="he_uniform"), MaxPooling2D(2),
        Conv2D(16, 3, activation="relu", kernel_initializer="he_uniform"), MaxPooling2D(2),
        Flatten(), Dense(10, activation="softmax"),
    ], seed=seed)


def network(augment, seed=0):
    """The issue-4 CNN, behind the three augmentation layers when ``augment``; the same initial
    weights either way (a layer's weights are drawn from its position in the model, which the
    augmentation layers move: they are copied over from the plain network instead)."""
    model = cnn(seed=seed)
    if augment:
        plain = model
        model = cnn([RandomRotation(0.04, fill_mode="constant"), RandomTranslation(0.08, 0.08, fill_mode="constant"),
                     RandomZoom(0.08, fill_mode="constant")], seed)
        model.set_weights(plain.get_weights())          # the augmentation layers have none
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=gn.optimizers.Adam(learning_rate=LEARNING_RATE), metrics=["accuracy"])
    return model


def train(data, augment, epochs, seed):
    """One run; returns (history, results dict)."""
    (X, y), (X_test, y_test) = data
    model = network(augment, seed)
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, validation_data=(X_test, y_test), verbose=0)
    seconds = time.perf_counter() - start
    test = [float(a) for a in history.history["val_accuracy"]]
    return history, {"seed": seed, "test_accuracy": test[-1], "best_test_accuracy": max(test),
                     "train_accuracy": float(model.evaluate(X, y)[1]),      # without augmentation
                     "seconds_per_epoch": seconds / epochs}


def main(quick=False, out=None):
    """Both settings from seed 0 (``quick``: 8 epochs) or seeds 0-2 (60 epochs). Returns
    ``{"plain": [results per seed], "augmented": [...]}``, each results dict holding
    ``test_accuracy``, ``best_test_accuracy``, ``train_accuracy`` and ``seconds_per_epoch``."""
    out = out or os.path.join("runs", "augmented_mnist")
    os.makedirs(out, exist_ok=True)
    (X, y), test = datasets.mnist(image_shape=True)
    data = ((X[:N_TRAIN], y[:N_TRAIN]), test)
    epochs, seeds = (QUICK_EPOCHS, SEEDS[:1]) if quick else (EPOCHS, SEEDS)
    print(f"{N_TRAIN} training and {len(test[0])} test images; Adam lr {LEARNING_RATE}, batch {BATCH_SIZE}, "
          f"{epochs} epochs, seeds {list(seeds)}")
    results = {}
    for name, augment in (("plain", False), ("augmented", True)):
        results[name] = []
        for seed in seeds:
            history, r = train(data, augment, epochs, seed)
            results[name].append(r)
            print(f"{name:9s} seed {seed}: test accuracy {r['test_accuracy']:.3f} (best {r['best_test_accuracy']:.3f}), "
                  f"train {r['train_accuracy']:.3f}; {r['seconds_per_epoch'] * 1e3:.0f} ms/epoch")
            if seed == seeds[0]:
                plot.learning_curve(history, path=os.path.join(out, f"learning_curve_{name}.png"))
    for name, runs in results.items():
        finals = [r["test_accuracy"] for r in runs]
        print(f"{name}: mean test accuracy {np.mean(finals):.3f} (min {min(finals):.3f}, max {max(finals):.3f})")
    print(f"plots: {out}/learning_curve_plain.png, {out}/learning_curve_augmented.png")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 epochs from seed 0")
    parser.add_argument("--out", help="output folder (default runs/augmented_mnist)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
