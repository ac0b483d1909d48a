"""After Seed 004's layers: texts, from words to ids to a verdict (TextVectorization, CategoryEncoding, LSTM).

The reviews are short sentences made from a small grammar: "The plot was not very clever.",
"this film is dull, but the ending felt superb!". A review is positive when its last clause is: a
good word, or a bad word after "not". Capitals and punctuation vary; the model sees raw strings.

Three models, each starting from ``TextVectorization`` (adapted on the training texts) inside the
model, so that ``fit`` and ``predict`` take the strings themselves:

- words: ``output_mode="multi_hot"``, which words occur -> ``Dense(16, relu)`` -> sigmoid. It cannot
  tell "good" from "not good", nor which clause came last;
- pairs: ``ngrams=2, output_mode="tf_idf"``, words and neighbouring pairs ("not good") weighted by
  rarity -> ``Dense(16, relu)`` -> sigmoid: negation is a pair, but the last clause is not;
- LSTM: ids in order, ``Embedding(mask_zero=True)`` -> ``LSTM(16)`` -> sigmoid: reads the sentence.

Each trains with Adam (lr 0.01, batch 32) on 2,000 reviews and is scored on 500 others; the script
prints the test accuracy and seconds per epoch of each, the LSTM's verdict on three new sentences,
and writes the LSTM's learning curve.

    python examples/text_reviews.py            # 15 epochs (a few seconds)
    python examples/text_reviews.py --quick    # 800 reviews, 10 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import plot
from glassnet.layers import LSTM, Dense, Embedding, TextVectorization

SUBJECTS = ["the film", "this movie", "the plot", "the acting", "the ending", "the music", "it"]
VERBS = ["was", "is", "felt", "seemed"]
GOOD = ["good", "great", "moving", "clever", "superb", "fun"]
BAD = ["bad", "dull", "awful", "clumsy", "boring", "flat"]
INTENSIFIERS = ["", "", "very", "really", "quite"]
EPOCHS, QUICK_EPOCHS = 15, 10


def clause(rng):
    """One clause and whether it praises: a good word, or a bad word after "not"."""
    good, negated = rng.random() < 0.5, rng.random() < 0.4
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), "not" if negated else "", rng.choice(INTENSIFIERS),
             rng.choice(GOOD if good else BAD)]
    return " ".join(w for w in words if w), good != negated


def make_reviews(n, rng):
    """``n`` reviews and their labels (1: positive), with one or two clauses ("..., but ...")."""
    texts, labels = [], []
    for _ in range(n):
        text, positive = clause(rng)
        if rng.random() < 0.5:
            second, positive = clause(rng)          # the verdict is the last clause's
            text = f"{text}{rng.choice([',', ''])} but {second}"
        text = text[0].upper() + text[1:] if rng.random() < 0.5 else text
        texts.append(text + rng.choice([".", "!", "", "..."]))
        labels.append(float(positive))
    return np.array(texts), np.array(labels, dtype=np.float32)


def model(kind, texts, seed=0):
    if kind == "LSTM":
        vectorizer = TextVectorization()             # ids in order, padded with 0 to each call's longest
        vectorizer.adapt(texts)
        body = [Embedding(vectorizer.vocabulary_size(), 16, mask_zero=True), LSTM(16)]
    else:
        vectorizer = (TextVectorization(output_mode="multi_hot") if kind == "words"
                      else TextVectorization(ngrams=2, output_mode="tf_idf"))
        vectorizer.adapt(texts)
        body = [Dense(16, activation="relu")]
    network = gn.Sequential([vectorizer, *body, Dense(1, activation="sigmoid")], seed=seed)
    network.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    return network


def main(quick=False, out=None):
    out = out or os.path.join("runs", "text_reviews")
    rng = np.random.default_rng(0)
    n_train, epochs = (800, QUICK_EPOCHS) if quick else (2000, EPOCHS)
    x_train, y_train = make_reviews(n_train, rng)
    x_test, y_test = make_reviews(500, rng)
    results = {}
    print(f"{'model':<6} {'test accuracy':>14} {'s/epoch':>9}")
    for kind in ("words", "pairs", "LSTM"):
        network = model(kind, x_train)
        start = time.perf_counter()
        history = network.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
                              verbose=0)
        seconds = (time.perf_counter() - start) / epochs
        accuracy = float(network.evaluate(x_test, y_test, verbose=0)[1])
        results[kind] = {"test_accuracy": accuracy, "seconds_per_epoch": seconds}
        print(f"{kind:<6} {accuracy:>14.3f} {seconds:>9.3f}")
        if kind == "LSTM":
            os.makedirs(out, exist_ok=True)
            plot.learning_curve(history, path=os.path.join(out, "learning_curve_lstm.png"))
            new = ["The music was not boring!", "It felt clever, but the ending was flat.", "this movie is not fun"]
            results["verdicts"] = network.predict(new, verbose=0).ravel().tolist()
            for text, p in zip(new, results["verdicts"]):
                print(f"  {p:.2f}  {text}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer reviews and epochs")
    parser.add_argument("--out", help="output folder (default runs/text_reviews)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
