"""After Seed 004's layers: tagging every token of sentences of different lengths (masks, Bidirectional).

Each sentence holds 4 to 20 token ids from 1 to 11, padded with 0 at its end to 20 steps
(``pad_sequences(padding="post")``). Each token gets one of three tags:

- 0: the same id came earlier in the sentence;
- 1: its first time, and the id comes again later;
- 2: the only time the id occurs.

Tags 1 and 2 differ only in what comes *after* the token, so a tagger has to read the sentence
both ways. Three taggers, each ``Embedding(12, 8)`` -> a recurrent reader -> ``Dense(3, softmax)``
on every step, trained on 2,000 sentences with ``sparse_categorical_crossentropy`` (labels of shape
(sentences, 20): one per step) and scored on 500 others:

- masked Bidirectional: ``Embedding(mask_zero=True)`` then ``Bidirectional(GRU(32, return_sequences=True))``.
  The mask makes the GRUs skip the padding, and the loss and the accuracy count real tokens only.
- unmasked Bidirectional: the same without ``mask_zero``; the padding steps are tagged 0 in the
  labels. Its reported accuracy counts them too, so the script also scores its real tokens alone.
- masked forward GRU: ``GRU(32, return_sequences=True)``, reading one way. It sees what came
  before a token but never what comes after, so it cannot tell tag 1 from tag 2.

The script prints each tagger's reported test accuracy, its accuracy on the real tokens and its
seconds per epoch, and writes the masked Bidirectional tagger's learning curve.

    python examples/sequence_tagging.py            # 30 epochs (about 45 seconds)
    python examples/sequence_tagging.py --quick    # 600 sentences, 10 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import plot
from glassnet.layers import GRU, Bidirectional, Dense, Embedding
from glassnet.utils import pad_sequences

VOCABULARY, STEPS, EPOCHS, QUICK_EPOCHS = 12, 20, 30, 10


def tags(sentence):
    """The tag of each token of one sentence (a list of ids), as the module docstring says."""
    out = []
    for i, token in enumerate(sentence):
        if token in sentence[:i]:
            out.append(0)
        elif token in sentence[i + 1:]:
            out.append(1)
        else:
            out.append(2)
    return out


def make_sentences(n, rng):
    """``n`` sentences padded to ``STEPS`` ids (0 at the end) and their tags (0 at the padding)."""
    sentences = [list(rng.integers(1, VOCABULARY, rng.integers(4, STEPS + 1))) for _ in range(n)]
    x = pad_sequences(sentences, maxlen=STEPS, padding="post")
    y = pad_sequences([tags(s) for s in sentences], maxlen=STEPS, padding="post")
    return x, y


def tagger(kind, seed=0):
    masked = kind != "unmasked Bidirectional"
    reader = GRU(32, return_sequences=True)
    network = gn.Sequential([Embedding(VOCABULARY, 8, mask_zero=masked, input_length=STEPS),
                             reader if kind == "masked forward GRU" else Bidirectional(reader),
                             Dense(3, activation="softmax")], seed=seed)
    network.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(0.01),
                    metrics=["accuracy"])
    return network


def real_token_accuracy(network, x, y):
    """The share of real tokens (id > 0) whose most likely tag is the right one."""
    predicted = network.predict(x).argmax(axis=-1)
    real = x > 0
    return float((predicted[real] == y[real]).mean())


def main(quick=False, out=None):
    out = out or os.path.join("runs", "sequence_tagging")
    rng = np.random.default_rng(0)
    n_train, epochs = (600, QUICK_EPOCHS) if quick else (2000, EPOCHS)
    x_train, y_train = make_sentences(n_train, rng)
    x_test, y_test = make_sentences(500, rng)
    results = {}
    print(f"{'tagger':<24} {'reported accuracy':>18} {'real tokens':>12} {'s/epoch':>9}")
    for kind in ("masked Bidirectional", "unmasked Bidirectional", "masked forward GRU"):
        network = tagger(kind)
        start = time.perf_counter()
        history = network.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
                              verbose=0)
        seconds = (time.perf_counter() - start) / epochs
        reported = float(network.evaluate(x_test, y_test)[1])
        real = real_token_accuracy(network, x_test, y_test)
        results[kind] = {"reported_accuracy": reported, "real_token_accuracy": real, "seconds_per_epoch": seconds}
        print(f"{kind:<24} {reported:>18.3f} {real:>12.3f} {seconds:>9.3f}")
        if kind == "masked Bidirectional":
            os.makedirs(out, exist_ok=True)
            plot.learning_curve(history, path=os.path.join(out, "learning_curve_tagger.png"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sentences and epochs")
    parser.add_argument("--out", help="output folder (default runs/sequence_tagging)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
