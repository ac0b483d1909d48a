"""Issue 4, MNIST-1D: logistic regression and an MLP against 1-D convolutional networks.

Greydanus (2020), "Scaling down deep learning", made MNIST-1D small enough for a laptop yet hard
enough to separate model families: on its 4,000 training / 1,000 test signals of length 40 the paper
reports logistic regression 32 %, an MLP 68 % and a CNN 94 % test accuracy. This script trains, on
glassnet's MNIST-1D (generated locally by the mnist1d package, seed 0), all with sparse categorical
cross-entropy and mini-batches of 100:

- logistic regression: Dense(10, softmax), Adam 1e-2, 60 epochs;
- the MLP 40-100-100-10 (ReLU), Adam 1e-2, 60 epochs;
- the paper's CNN: three ReLU Conv1D layers of 25 channels with stride 2 (kernels 5, 3, 3; "same"
  padding: 40 -> 20 -> 10 -> 5 samples) and Dense(10) on the 125 flattened features, Adam 1e-2,
  150 epochs (the paper's 6,000 steps of 100); full size only;
- glassnet's CNN: three Conv1D(32, 5, "same", ReLU) layers, each followed by MaxPooling1D(2)
  (40 -> 20 -> 10 -> 5), flatten and Dense(10), Adam 5e-3, 40 epochs.

It prints the test accuracies side by side with the paper's, the training time of each, and writes
the learning curves (the "validation" line is the test set) and the CNN's confusion matrix.

    python examples/mnist1d_conv1d.py            # full size (about 30 s of training)
    python examples/mnist1d_conv1d.py --quick    # fewer epochs, no paper CNN (a few seconds)
"""
import argparse
import os
import time

import glassnet as gn
from glassnet import datasets, plot
from glassnet.layers import Conv1D, Dense, Flatten, MaxPooling1D

BATCH_SIZE, SEED = 100, 0
PAPER = {"logistic": 0.32, "mlp": 0.68, "paper_cnn": 0.94, "cnn": 0.94}


def logistic():
    return gn.Sequential([Dense(10, activation="softmax", input_dim=40)], seed=SEED)


def mlp():
    """40-100-100-10, ReLU, softmax output: the paper's MLP."""
    return gn.Sequential([Dense(100, activation="relu", input_dim=40), Dense(100, activation="relu"),
                          Dense(10, activation="softmax")], seed=SEED)


def paper_cnn(channels=25):
    """The paper's ConvBase: three strided ReLU convolutions, then one linear layer on 5 x 25 features."""
    return gn.Sequential([
        Conv1D(channels, 5, strides=2, padding="same", activation="relu", input_shape=(40, 1)),
        Conv1D(channels, 3, strides=2, padding="same", activation="relu"),
        Conv1D(channels, 3, strides=2, padding="same", activation="relu"),
        Flatten(),
        Dense(10, activation="softmax"),
    ], seed=SEED)


def cnn(filters=32):
    """Three Conv1D(32, 5, "same", ReLU) + MaxPooling1D(2) blocks, flatten, Dense(10, softmax)."""
    layers = []
    for i in range(3):
        kwargs = {"input_shape": (40, 1)} if i == 0 else {}
        layers += [Conv1D(filters, 5, padding="same", activation="relu", **kwargs), MaxPooling1D(2)]
    return gn.Sequential(layers + [Flatten(), Dense(10, activation="softmax")], seed=SEED)


# key: (description, model builder, flat input?, learning rate, epochs, quick epochs or None to skip)
MODELS = {
    "logistic": ("logistic regression", logistic, True, 1e-2, 60, 20),
    "mlp": ("MLP 40-100-100-10 relu", mlp, True, 1e-2, 60, 20),
    "paper_cnn": ("paper CNN 3x Conv1D(25, stride 2)", paper_cnn, False, 1e-2, 150, None),
    "cnn": ("CNN 3x [Conv1D(32, 5) + maxpool 2]", cnn, False, 5e-3, 40, 5),
}


def train(key, data, quick):
    """Train one of ``MODELS``; returns (model, history, results dict)."""
    name, build, flat, lr, epochs, quick_epochs = MODELS[key]
    epochs = quick_epochs if quick else epochs
    (X, y), (X_test, y_test) = data
    if flat:                                   # (n, 40, 1) -> (n, 40) for the dense models
        X, X_test = X[..., 0], X_test[..., 0]
    model = build()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(learning_rate=lr),
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, validation_data=(X_test, y_test),
                        verbose=0)
    seconds = time.perf_counter() - start     # includes the per-epoch test evaluation
    test = [float(a) for a in history.history["val_accuracy"]]
    results = {"model": name, "learning_rate": lr, "epochs": epochs, "params": model.count_params(),
               "train_accuracy": float(model.evaluate(X, y)[1]), "test_accuracy": test[-1],
               "best_test_accuracy": max(test), "seconds": seconds, "seconds_per_epoch": seconds / epochs,
               "paper": PAPER[key]}
    return model, history, results


def main(quick=False, out=None):
    """Train the models of ``MODELS`` (``quick``: fewer epochs, without the paper's CNN).

    Returns ``{"models": {key: results}, "test_accuracy": {key: accuracy}, "out": out}``."""
    out = out or os.path.join("runs", "mnist1d_conv1d")
    os.makedirs(out, exist_ok=True)
    data = datasets.mnist1d(image_shape=True)
    (X, _), (X_test, y_test) = data
    print(f"MNIST-1D: {len(X)} training and {len(X_test)} test signals of shape {X.shape[1:]}, "
          f"batch {BATCH_SIZE}, seed {SEED}")
    rows, models, histories = {}, {}, {}
    print(f"{'model':<36} {'params':>7} {'lr':>6} {'epochs':>6} {'train s':>8} {'s/epoch':>8} "
          f"{'train acc':>9} {'test acc':>8} {'paper':>6}")
    for key, spec in MODELS.items():
        if quick and spec[-1] is None:
            continue
        models[key], histories[key], r = train(key, data, quick)
        rows[key] = r
        print(f"{r['model']:<36} {r['params']:>7,} {r['learning_rate']:>6g} {r['epochs']:>6} "
              f"{r['seconds']:>8.2f} {r['seconds_per_epoch']:>8.3f} {r['train_accuracy']:>9.3f} "
              f"{r['test_accuracy']:>8.3f} {r['paper']:>6.2f}")
    print("(training seconds include each epoch's evaluation on the test set; paper: Greydanus 2020)")
    for key in ("mlp", "cnn"):
        plot.learning_curve(histories[key], path=os.path.join(out, f"learning_curve_{key}.png"))
    plot.confusion_matrix(y_test, models["cnn"].predict(X_test), path=os.path.join(out, "confusion_matrix_cnn.png"))
    print(f"plots: {out}/learning_curve_mlp.png, {out}/learning_curve_cnn.png, {out}/confusion_matrix_cnn.png")
    return {"models": rows, "test_accuracy": {k: r["test_accuracy"] for k, r in rows.items()}, "out": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, for a quick look")
    parser.add_argument("--out", help="output folder (default runs/mnist1d_conv1d)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
