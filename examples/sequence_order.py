"""After Seed 004's layers: sequences, where the order of the inputs is the signal (Embedding, LSTM, GRU, attention).

Each sample is a sequence of 12 token ids from a vocabulary of 10: ids 2-9 are noise, and each
sequence holds one 0 and one 1 at random places. The label says whether the 0 comes before the 1.
Every sequence holds the same bag of special tokens, so a model that only sees which tokens occur
cannot do better than chance; one that reads them in order can.

Three models, each starting from ``Embedding(10, 8)`` (every id a learned vector of 8 numbers):

- bag: ``GlobalAveragePooling1D`` (the mean vector: order is gone) -> ``Dense(16, relu)`` -> sigmoid;
- LSTM: ``LSTM(16)`` (reads the vectors one step at a time, carrying a state) -> sigmoid;
- GRU: ``GRU(16)`` -> sigmoid;
- attention: a transformer's block drawn as a functional ``gn.Model``, ``Embedding(10, 16)``, then
  self-attention (``MultiHeadAttention(num_heads=2, key_dim=8)(x, x)``), ``Add`` (the residual) and
  ``LayerNormalization``, the mean over the steps, ``Dense(16, relu)`` -> sigmoid. Attention mixes
  the steps by what they hold, not where they are: without positions it is as blind to order as
  the bag;
- attention+positions: the same, with each step's position (a second input, 0..11) turned into a
  learned vector of its own (``Embedding(12, 16)``) and added to its token's: a transformer's
  position embedding.

Each trains with Adam (lr 0.01, batch 32) on 2,000 sequences and is scored on 500 others. The
script prints the test accuracy and the seconds per epoch of each, and writes the LSTM's learning
curve.

    python examples/sequence_order.py            # 20 epochs (about half a minute)
    python examples/sequence_order.py --quick    # 600 sequences, 12 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import plot
from glassnet.layers import (GRU, LSTM, Add, Dense, Embedding, GlobalAveragePooling1D, LayerNormalization,
                             MultiHeadAttention)

VOCABULARY, STEPS, EPOCHS, QUICK_EPOCHS = 10, 12, 20, 12


def make_sequences(n, rng):
    """``n`` sequences of ``STEPS`` ids and their labels: 1 where the 0 comes before the 1."""
    x = rng.integers(2, VOCABULARY, (n, STEPS))
    # two different places per sequence: the first for the 0, the second for the 1
    places = np.argsort(rng.random((n, STEPS)), axis=1)[:, :2]
    rows = np.arange(n)
    x[rows, places[:, 0]] = 0
    x[rows, places[:, 1]] = 1
    return x, (places[:, 0] < places[:, 1]).astype(np.float32)


def attention_model(positions, seed=0):
    """Self-attention over the token vectors, with each step's position added in when ``positions``
    (the model then takes two inputs, the tokens and their positions)."""
    tokens = gn.Input((STEPS,), name="tokens")
    x = Embedding(VOCABULARY, 16)(tokens)
    inputs = [tokens]
    if positions:
        where = gn.Input((STEPS,), name="positions")
        x = Add()([x, Embedding(STEPS, 16)(where)])
        inputs.append(where)
    attended = MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    pooled = GlobalAveragePooling1D()(LayerNormalization()(Add()([x, attended])))
    outputs = Dense(1, activation="sigmoid")(Dense(16, activation="relu")(pooled))
    network = gn.Model(inputs if positions else tokens, outputs, seed=seed)
    network.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    return network


def model(kind, seed=0):
    if kind.startswith("attention"):
        return attention_model(kind == "attention+positions", seed)
    reader = {"bag": [GlobalAveragePooling1D(), Dense(16, activation="relu")],
              "LSTM": [LSTM(16)], "GRU": [GRU(16)]}[kind]
    network = gn.Sequential([Embedding(VOCABULARY, 8, input_length=STEPS), *reader, Dense(1, activation="sigmoid")],
                            seed=seed)
    network.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    return network


def main(quick=False, out=None):
    out = out or os.path.join("runs", "sequence_order")
    rng = np.random.default_rng(0)
    n_train, epochs = (600, QUICK_EPOCHS) if quick else (2000, EPOCHS)
    x_train, y_train = make_sequences(n_train, rng)
    x_test, y_test = make_sequences(500, rng)
    results = {}
    print(f"{'model':<19} {'test accuracy':>14} {'s/epoch':>9}")
    for kind in ("bag", "LSTM", "GRU", "attention", "attention+positions"):
        network = model(kind)
        train, test = x_train, x_test
        if kind == "attention+positions":       # every sequence's positions, 0..11, as a second input
            train, test = ([x, np.broadcast_to(np.arange(STEPS), x.shape)] for x in (x_train, x_test))
        start = time.perf_counter()
        history = network.fit(train, y_train, epochs=epochs, batch_size=32, validation_data=(test, y_test),
                              verbose=0)
        seconds = (time.perf_counter() - start) / epochs
        accuracy = float(network.evaluate(test, y_test, verbose=0)[1])
        results[kind] = {"test_accuracy": accuracy, "seconds_per_epoch": seconds}
        print(f"{kind:<19} {accuracy:>14.3f} {seconds:>9.3f}")
        if kind == "LSTM":
            os.makedirs(out, exist_ok=True)
            plot.learning_curve(history, path=os.path.join(out, "learning_curve_lstm.png"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sequences and epochs")
    parser.add_argument("--out", help="output folder (default runs/sequence_order)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
