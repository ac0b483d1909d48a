"""After Seed 002's digits: a training loop written from scratch with gn.GradientTape (Keras' "Writing a training loop from scratch").

Seed 002 trains its digits network with ``fit``. Here the same kind of network trains in a loop of
your own, as keras.io's guide writes it with ``tf.GradientTape``: batches drawn by hand, the
forward pass and the loss recorded by a tape, the gradients asked of it, the optimizer stepping
them, the metrics kept by hand and reset each epoch, and a validation pass after each epoch:

    for x, y in batches:
        with gn.GradientTape() as tape:
            logits = model(x, training=True)          # recorded
            loss_value = loss_fn(logits, y)           # glassnet's order: (y_pred, y_true)
            loss_value += sum(model.losses)           # the L2 penalty on the hidden kernel
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))

    network:  dense(64, relu, L2 1e-4) -> dense(10) logits, sparse categorical cross-entropy
              (from_logits=True), Adam lr 1e-3, batch 32

The model is never compiled for the loop. For comparison, the same network from the same weights
trains with ``compile`` and ``fit`` (the same batches, unshuffled): the loop's losses equal fit's,
since one tape step is the step fit takes. The script prints each epoch's training loss and
accuracy and the validation accuracy, and writes the learning curves.

    python examples/custom_training_loop.py            # 30 epochs
    python examples/custom_training_loop.py --quick    # 5 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Dense

HIDDEN, LEARNING_RATE, BATCH_SIZE, SEED, EPOCHS, QUICK_EPOCHS = 64, 1e-3, 32, 0, 30, 5


def make_model():
    """64 pixels -> 64 ReLU units (L2 1e-4 on their kernel) -> 10 logits."""
    return gn.Sequential([Dense(HIDDEN, activation="relu", input_dim=64, kernel_regularizer=gn.regularizers.L2(1e-4)),
                          Dense(10)], seed=SEED)


def train_loop(model, X, y, X_val, y_val, epochs, verbose=True):
    """keras.io's loop: returns the per-epoch logs (``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``), as ``History.history`` holds them."""
    optimizer = gn.optimizers.Adam(LEARNING_RATE)
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss_tracker = gn.metrics.Mean(name="loss")
    train_acc = gn.metrics.SparseCategoricalAccuracy()
    val_acc = gn.metrics.SparseCategoricalAccuracy()
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        for start in range(0, len(X), BATCH_SIZE):          # the same batches as fit(shuffle=False)
            x_batch, y_batch = X[start:start + BATCH_SIZE], y[start:start + BATCH_SIZE]
            with gn.GradientTape() as tape:
                logits = model(x_batch, training=True)
                loss_value = loss_fn(logits, y_batch)
                loss_value += sum(model.losses)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            loss_tracker.update_state(loss_value, sample_weight=len(x_batch))     # as fit averages
            train_acc.update_state(y_batch, logits)
        # validation: a forward pass, no tape (the L2 penalty counted as evaluate counts it)
        val_logits = model(X_val, training=False)
        val_loss = float(loss_fn(val_logits, y_val)) + float(sum(model.losses))
        val_acc.update_state(y_val, val_logits)
        for key, value in (("loss", loss_tracker.result()), ("accuracy", train_acc.result()),
                           ("val_loss", val_loss), ("val_accuracy", val_acc.result())):
            history[key].append(float(value))
        if verbose:
            print(f"epoch {epoch + 1:2d}: loss {history['loss'][-1]:.4f}, accuracy {history['accuracy'][-1]:.3f}, "
                  f"val_accuracy {history['val_accuracy'][-1]:.3f}")
        for metric in (loss_tracker, train_acc, val_acc):    # each epoch's own tallies
            metric.reset_state()
    return history


def main(quick=False, out=None):
    """Train the network in the loop, and again with fit from the same weights; returns
    ``loop`` (its per-epoch logs and ``test_accuracy``), ``fit`` (the same, from fit),
    ``seconds`` (each way's training time) and ``out``."""
    out = out or os.path.join("runs", "custom_training_loop")
    os.makedirs(out, exist_ok=True)
    (X, y), (X_test, y_test) = datasets.digits()
    epochs = QUICK_EPOCHS if quick else EPOCHS

    model = make_model()
    initial = [w.copy() for w in model.get_weights()]
    start = time.perf_counter()
    history = train_loop(model, X, y, X_test, y_test, epochs)
    loop_seconds = time.perf_counter() - start

    twin = make_model()
    twin.set_weights(initial)
    twin.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                 optimizer=gn.optimizers.Adam(LEARNING_RATE), metrics=["accuracy"])
    start = time.perf_counter()
    fit_history = twin.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, shuffle=False,
                           validation_data=(X_test, y_test), verbose=0).history
    fit_seconds = time.perf_counter() - start

    loop_accuracy = float(np.mean(model.predict(X_test).argmax(axis=1) == y_test))
    fit_accuracy = float(np.mean(twin.predict(X_test).argmax(axis=1) == y_test))
    plot.learning_curve(history, os.path.join(out, "learning_curve.png"), metrics=["accuracy"])
    print(f"loop: test accuracy {loop_accuracy:.3f} after {epochs} epochs ({loop_seconds:.2f} s)")
    print(f"fit:  test accuracy {fit_accuracy:.3f} ({fit_seconds:.2f} s); largest difference of the "
          f"epochs' losses {max(abs(a - b) for a, b in zip(history['loss'], fit_history['loss'])):.2e}")
    return {"loop": {**history, "test_accuracy": loop_accuracy},
            "fit": {**fit_history, "test_accuracy": fit_accuracy},
            "seconds": {"loop": loop_seconds, "fit": fit_seconds}, "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS} epochs")
    parser.add_argument("--out", default=None, help="where the plot goes (default runs/custom_training_loop)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
