"""After Seed 002's digits: one network with two outputs (multi-task learning), written as a subclass of gn.Model.

Seed 002 trains a network to read 8x8 digits. Here one network answers two questions about each
image at once: which digit it is (softmax over 10 classes) and whether it is 5 or more (one
sigmoid unit). Both outputs read the same hidden layer, the "trunk", so what the trunk learns for
one task serves the other:

    trunk:  dense(32, relu)                       64 -> 32
    digit:  dense(10, softmax)  sparse categorical cross-entropy
    big:    dense(1, sigmoid)   binary cross-entropy, weight 0.5 in the total loss

The network is a subclass of ``gn.Model`` (Keras' model subclassing): its layers are made in
``__init__`` and used in ``call``, which glassnet runs once, on the first data, to draw the graph.
It trains with ``fit(X, {"digit": y, "big": y >= 5})``; its logs hold the total loss, each
output's loss and each output's accuracy ("val_digit_accuracy", "val_big_accuracy"). For
comparison, the same trunk is trained on the digit alone, and "is it 5 or more" read from its
predicted digit. The script prints both, the two-output model's ``summary()``, and writes its
learning curves (one panel per logged value).

    python examples/multi_task.py            # 40 epochs each
    python examples/multi_task.py --quick    # 5 epochs
"""
import argparse
import io
import os
from contextlib import redirect_stdout

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Dense

HIDDEN, LEARNING_RATE, BATCH_SIZE, SEED, EPOCHS, QUICK_EPOCHS = 32, 1e-3, 32, 0, 40, 5


class TwoTasks(gn.Model):
    """A trunk and two heads: the digit (10 classes) and whether it is 5 or more."""

    def __init__(self, hidden=HIDDEN, **kwargs):
        super().__init__(**kwargs)
        self.trunk = Dense(hidden, activation="relu")
        self.digit = Dense(10, activation="softmax", name="digit")
        self.big = Dense(1, activation="sigmoid", name="big")

    def call(self, inputs):
        features = self.trunk(inputs)
        return [self.digit(features), self.big(features)]


class DigitOnly(gn.Model):
    """The same trunk with the digit's head alone."""

    def __init__(self, hidden=HIDDEN, **kwargs):
        super().__init__(**kwargs)
        self.trunk = Dense(hidden, activation="relu")
        self.digit = Dense(10, activation="softmax", name="digit")

    def call(self, inputs):
        return self.digit(self.trunk(inputs))


def main(quick=False, out=None):
    """Train both models; returns the two-output model's final validation values (``two_tasks``:
    its logged values by name), the digit-only model's (``digit_only``: digit and big accuracy),
    ``history`` (the two-output model's), ``summary`` and ``out``."""
    out = out or os.path.join("runs", "multi_task")
    os.makedirs(out, exist_ok=True)
    (X, y), (X_test, y_test) = datasets.digits()
    epochs = QUICK_EPOCHS if quick else EPOCHS

    model = TwoTasks(seed=SEED)
    model.compile(loss={"digit": "sparse_categorical_crossentropy", "big": "binary_crossentropy"},
                  loss_weights={"digit": 1.0, "big": 0.5}, optimizer=gn.optimizers.Adam(LEARNING_RATE),
                  metrics={"digit": ["accuracy"], "big": ["accuracy"]})
    history = model.fit(X, {"digit": y, "big": y >= 5}, epochs=epochs, batch_size=BATCH_SIZE,
                        validation_data=(X_test, {"digit": y_test, "big": y_test >= 5}), verbose=0)
    two_tasks = model.evaluate(X_test, {"digit": y_test, "big": y_test >= 5}, return_dict=True)
    p_digit, p_big = model.predict(X_test)          # one array per output
    assert p_digit.shape == (len(X_test), 10) and p_big.shape == (len(X_test), 1)

    single = DigitOnly(seed=SEED)
    single.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(LEARNING_RATE),
                   metrics=["accuracy"])
    single.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0)
    guessed = single.predict(X_test).argmax(axis=1)
    digit_only = {"digit_accuracy": float(np.mean(guessed == y_test)),
                  "big_accuracy": float(np.mean((guessed >= 5) == (y_test >= 5)))}

    plot.learning_curve(history, os.path.join(out, "learning_curves.png"),
                        metrics=["digit_loss", "big_loss", "digit_accuracy", "big_accuracy"])
    print(f"two outputs ({model.count_params():,} weights): test digit accuracy {two_tasks['digit_accuracy']:.3f}, "
          f"'5 or more' accuracy {two_tasks['big_accuracy']:.3f} (after {epochs} epochs)")
    print(f"digit only  ({single.count_params():,} weights): test digit accuracy {digit_only['digit_accuracy']:.3f}, "
          f"'5 or more' read from the digit {digit_only['big_accuracy']:.3f}")
    printed = io.StringIO()
    with redirect_stdout(printed):
        model.summary()
    print(printed.getvalue())
    return {"two_tasks": two_tasks, "digit_only": digit_only, "history": history.history,
            "summary": printed.getvalue(), "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs")
    parser.add_argument("--out", default=None, help="where the plot goes (default runs/multi_task)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
