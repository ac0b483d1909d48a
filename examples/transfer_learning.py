"""After Seed 002's digits: transfer learning, a convolutional base trained on one task, frozen and reused (Lambda, trainable=False, TensorBoard).

The 8x8 digits come as rows of 64 pixels. A ``Lambda`` at the model's input turns each row into
an image, ``x.reshape(-1, 8, 8, 1)``: it passes no gradient back (glassnet does not
differentiate its NumPy function), which it never needs to there, nothing below it learning.

1. A base, Lambda -> Conv2D(16) -> MaxPooling2D -> Conv2D(32) -> Flatten, is trained
   with a softmax head on the digits 0-4 (all their training images).
2. The digits 5-9 with only ``per_class`` training images each: the base, frozen
   (``base.trainable = False``), under a new head, against the same network trained from scratch
   on those few images. With the base frozen the backward pass ends at the head: an epoch costs
   the forward pass through the base and little more.
3. Fine-tuning: the base unfrozen and trained on, at a tenth of the learning rate.

The frozen run logs its curves with ``callbacks.TensorBoard`` (``tensorboard --logdir <out>/logs``,
with ``pip install tensorboard``). The script prints each model's test accuracy on 5-9 and seconds
per epoch. These digits are easy: 10 images a class train a network from scratch nearly as well
(0.944 against the frozen base's 0.956 at full size); the frozen base's epoch costs about two
thirds of one that trains everything.

    python examples/transfer_learning.py            # 30 epochs each
    python examples/transfer_learning.py --quick    # 8 epochs each
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import layers


def make_base(seed=0):
    """The convolutional base: 64 pixels in, 4 x 4 x 32 = 512 features out."""
    return gn.Sequential([
        layers.Input((64,)),
        layers.Lambda(lambda x: x.reshape(-1, 8, 8, 1), name="to_image"),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Flatten(),
    ], seed=seed, name="base")


def classifier(base, seed=1, learning_rate=0.01):
    model = gn.Sequential([base, layers.Dense(5, activation="softmax")], seed=seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(learning_rate),
                  metrics=["accuracy"])
    return model


def timed_fit(model, x, y, epochs, **kwargs):
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, **kwargs)
    return history, (time.perf_counter() - start) / epochs


def main(quick=False, out=None):
    out = out or os.path.join("runs", "transfer_learning")
    os.makedirs(out, exist_ok=True)
    epochs, per_class = (8, 10) if quick else (30, 10)
    (x, y), (xt, yt) = gn.datasets.digits()
    first = y < 5
    rng = np.random.default_rng(0)
    few = np.concatenate([rng.choice(np.flatnonzero(y == digit), per_class, replace=False) for digit in range(5, 10)])
    test = yt >= 5
    results = {}

    base = make_base()
    pretrain = classifier(base)
    pretrain.fit(x[first], y[first], epochs=epochs, batch_size=32, verbose=0)
    results["pretrained_on_0_4"] = pretrain.evaluate(xt[yt < 5], yt[yt < 5], return_dict=True)["accuracy"]

    base.trainable = False                       # its layers: frozen in every model they are in
    frozen = classifier(base, seed=2)
    _, seconds = timed_fit(frozen, x[few], y[few] - 5, epochs,
                           callbacks=[gn.callbacks.TensorBoard(os.path.join(out, "logs", "frozen"))])
    results["frozen_base"] = {"test_accuracy": frozen.evaluate(xt[test], yt[test] - 5, return_dict=True)["accuracy"],
                              "s_per_epoch": seconds}

    scratch = classifier(make_base(seed=3), seed=2)
    _, seconds = timed_fit(scratch, x[few], y[few] - 5, epochs)
    results["from_scratch"] = {"test_accuracy": scratch.evaluate(xt[test], yt[test] - 5, return_dict=True)["accuracy"],
                               "s_per_epoch": seconds}

    base.trainable = True                        # fine-tuning: everything trains, slowly
    frozen.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(0.001), metrics=["accuracy"])
    _, seconds = timed_fit(frozen, x[few], y[few] - 5, max(2, epochs // 3))
    results["fine_tuned"] = {"test_accuracy": frozen.evaluate(xt[test], yt[test] - 5, return_dict=True)["accuracy"],
                             "s_per_epoch": seconds}

    print(f"base on the digits 0-4: test accuracy {results['pretrained_on_0_4']:.3f}")
    print(f"digits 5-9 from {per_class} images each:")
    for name in ("frozen_base", "from_scratch", "fine_tuned"):
        print(f"  {name:13s} test accuracy {results[name]['test_accuracy']:.3f}, "
              f"{1000 * results[name]['s_per_epoch']:.1f} ms per epoch")
    print(f"TensorBoard logs: tensorboard --logdir {os.path.join(out, 'logs')}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for a check in seconds")
    parser.add_argument("--out", default=None, help="folder for the TensorBoard logs")
    args = parser.parse_args()
    main(args.quick, args.out)
