"""After Seed 004's layers: sequence to sequence, an encoder's last states starting a decoder that writes the answer.

The network learns to add: it reads the characters of a question such as ``"345+78 "`` and writes
the characters of its answer, ``"423 "``. It is Keras' seq2seq tutorial in small (an encoder and a
decoder LSTM, ``return_state=True`` and ``initial_state``), on questions it makes itself:

- the encoder, ``LSTM(128, return_state=True)``, reads the question (its characters one-hot, 7
  steps) and keeps only its last states h and c: everything the decoder will know of the question;
- the decoder, ``LSTM(128, return_sequences=True)``, starts from those states
  (``initial_state=[h, c]``) and reads the answer so far, one character a step, starting with
  ``">"``; ``Dense(13, softmax)`` gives each step's next character. In training it is shown the
  true answer so far (teacher forcing), and the gradient of its loss reaches the encoder through
  the states alone;
- answering a new question takes the trained layers into two models, as in Keras' tutorial: the
  encoder model (question -> states) and a decoder model (the characters so far and the states ->
  the next characters' probabilities and the new states), called four times on one character,
  each time the one it chose the step before (greedy decoding). Its Inputs are of any length,
  ``Input((None, 13))``, as the tutorial declares them, so the decoder model reuses the training
  model's.

Each question is ``a+b`` with a and b below 1000, its characters reversed as Keras' addition
example reverses its queries (the answer is written forwards). Adam (lr 0.005, batch 64) on 20,000 questions,
scored on 1,000 others: the share of answers right in every character, and of characters right.

    python examples/seq2seq_addition.py            # 30 epochs (under two minutes on 2 cores)
    python examples/seq2seq_addition.py --quick    # 6,000 questions, 12 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import plot
from glassnet.layers import LSTM, Dense

SYMBOLS = "0123456789+ >"           # ">" starts the decoder's reading of the answer
QUESTION, ANSWER, UNITS = 7, 4, 128
EPOCHS, QUICK_EPOCHS = 30, 12


def one_hot(texts):
    """Texts of equal length -> (n, length, len(SYMBOLS)) one-hot floats."""
    ids = np.array([[SYMBOLS.index(ch) for ch in text] for text in texts])
    return np.eye(len(SYMBOLS), dtype=np.float32)[ids]


def make_questions(n, rng):
    """``n`` questions (one-hot, written backwards), the decoder's inputs (">" and the answer but
    its last character) and the answers' character ids, (n, ANSWER)."""
    a, b = rng.integers(0, 1000, n), rng.integers(0, 1000, n)
    questions = [f"{x}+{y}".ljust(QUESTION)[::-1] for x, y in zip(a, b)]
    answers = [str(x + y).ljust(ANSWER) for x, y in zip(a, b)]
    targets = np.array([[SYMBOLS.index(ch) for ch in answer] for answer in answers])
    return one_hot(questions), one_hot([">" + answer[:-1] for answer in answers]), targets, answers


def models(seed=0):
    """The training model and, drawn from its layers, the encoder and one-step decoder models."""
    # of any length, as Keras' tutorial declares them: the decoder model below reads one step at a time
    questions, read = gn.Input((None, len(SYMBOLS)), name="question"), gn.Input((None, len(SYMBOLS)), name="read")
    _, h, c = LSTM(UNITS, return_state=True, name="encoder")(questions)
    decoder = LSTM(UNITS, return_sequences=True, return_state=True, name="decoder")
    next_character = Dense(len(SYMBOLS), activation="softmax", name="next_character")
    sequence, _, _ = decoder(read, initial_state=[h, c])
    training = gn.Model([questions, read], next_character(sequence), seed=seed)
    training.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(0.005),
                     metrics=["accuracy"])
    encoder = gn.Model(questions, [h, c])
    h_in, c_in = gn.Input((UNITS,), name="h"), gn.Input((UNITS,), name="c")
    out, h_out, c_out = decoder(read, initial_state=[h_in, c_in])
    one_step = gn.Model([read, h_in, c_in], [next_character(out), h_out, c_out])
    return training, encoder, one_step


def answer(encoder, one_step, questions):
    """Greedy decoding: each question's answer, a character at a time, from the encoder's states."""
    h, c = encoder.predict(questions)
    token = one_hot([">"] * len(questions))
    written = []
    for _ in range(ANSWER):
        probabilities, h, c = one_step.predict([token, h, c])
        ids = probabilities[:, 0].argmax(axis=1)
        written.append(ids)
        token = np.eye(len(SYMBOLS), dtype=np.float32)[ids][:, None]
    return ["".join(SYMBOLS[i] for i in row) for row in np.stack(written, axis=1)]


def main(quick=False, out=None):
    out = out or os.path.join("runs", "seq2seq_addition")
    rng = np.random.default_rng(0)
    n_train, epochs = (6000, QUICK_EPOCHS) if quick else (20000, EPOCHS)
    q_train, r_train, y_train, _ = make_questions(n_train, rng)
    q_test, r_test, y_test, answers = make_questions(1000, rng)
    training, encoder, one_step = models()
    start = time.perf_counter()
    history = training.fit([q_train, r_train], y_train, epochs=epochs, batch_size=64,
                           validation_data=([q_test, r_test], y_test), verbose=0)
    seconds = (time.perf_counter() - start) / epochs
    written = answer(encoder, one_step, q_test)
    exact = float(np.mean([w == a for w, a in zip(written, answers)]))
    characters = float(np.mean([x == y for w, a in zip(written, answers) for x, y in zip(w, a)]))
    print(f"answers right: {exact:.3f}, characters right: {characters:.3f} (greedy decoding, 1,000 new questions); "
          f"{seconds:.2f} s/epoch")
    for question, written_answer, true in list(zip(q_test, written, answers))[:5]:
        text = "".join(SYMBOLS[i] for i in question.argmax(axis=1))[::-1].strip()
        print(f"  {text:>8} = {written_answer.strip():<5} {'right' if written_answer == true else 'wrong: ' + true}")
    os.makedirs(out, exist_ok=True)
    plot.learning_curve(history, path=os.path.join(out, "learning_curve.png"))
    return {"exact": exact, "characters": characters, "seconds_per_epoch": seconds,
            "teacher_forced_accuracy": float(history.history["val_accuracy"][-1])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer questions and epochs")
    parser.add_argument("--out", help="output folder (default runs/seq2seq_addition)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
