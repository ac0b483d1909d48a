"""After Seed 004's layers: a table of mixed columns, raw strings and numbers, into one model.

Keras' structured-data tutorial in small, offline: a made-up table of customers, one row each,
and whether they left (churn). Two columns are strings, two are numbers:

    plan      "basic", "plus" or "pro"                    -> StringLookup(output_mode="one_hot")
    city      one of 40 names, some seen once or never    -> Hashing(16, output_mode="one_hot")
    age       years                                       -> Normalization (adapted to the column)
    calls     support calls this year                     -> Normalization

Each column is an Input of its own (``Input((1,), dtype="string", name="plan")`` for the
strings); the layers that turn strings into numbers read them, and everything is concatenated
before two Dense layers. ``fit``, ``evaluate`` and ``predict`` then take the table as a dict of
raw columns, and the saved model does too: no preprocessing outside the model.

Who leaves depends on the plan and the calls together (basic customers who call a lot) and on the
city, a little. The script compares the mixed model's test accuracy with always answering "stays"
and with a network of the two number columns alone, prints a raw customer's prediction from the
saved and reloaded model, and writes the learning curve. At full size (4,000 rows, 30 epochs) the
mixed model scores 0.847 against 0.762 for "stays" and 0.772 for the numbers alone
(docs/examples.md has the table).

    python examples/structured_data.py            # 4,000 customers, 30 epochs
    python examples/structured_data.py --quick    # 1,500 customers, 15 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import layers, plot

PLANS = np.array(["basic", "plus", "pro"])
CITIES = np.array([f"city_{k:02d}" for k in range(40)])


def make_table(n, seed=0):
    """``n`` customers as a dict of columns (plan, city: str arrays; age, calls: float32 (n, 1))
    and whether each left (n,) float32 in {0, 1}."""
    rng = np.random.default_rng(seed)
    plan = PLANS[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
    city = CITIES[np.minimum(rng.zipf(1.6, n) - 1, len(CITIES) - 1)]      # a few big cities, a long tail
    age = rng.uniform(18, 80, n).round()
    calls = rng.poisson(2.5, n)
    # basic customers who call a lot leave, the others hardly whatever they call; some cities more
    logit = (-2.0 + 2.0 * (plan == "basic") * (calls - 2.5) - 1.5 * (plan == "pro")
             + 2.0 * np.isin(city, CITIES[1::4]) - 0.03 * (age - 50))
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    table = {"plan": plan, "city": city, "age": age.astype(np.float32)[:, None],
             "calls": calls.astype(np.float32)[:, None]}
    return table, churn


def mixed_model(table, seed=0):
    """One Input per column: the strings through their own lookup or hashing, the numbers
    standardised, all side by side."""
    plan_lookup = layers.StringLookup(output_mode="one_hot")
    plan_lookup.adapt(table["plan"])
    inputs, features = [], []
    for name in ("plan", "city"):
        given = gn.Input((1,), dtype="string", name=name)
        reader = plan_lookup if name == "plan" else layers.Hashing(16, output_mode="one_hot")
        inputs.append(given)
        features.append(reader(given))
    for name in ("age", "calls"):
        given = gn.Input((1,), name=name)
        scale = layers.Normalization()
        scale.adapt(table[name])
        inputs.append(given)
        features.append(scale(given))
    hidden = layers.Dense(32, activation="relu")(layers.Concatenate()(features))
    out = layers.Dense(1, activation="sigmoid")(hidden)
    return gn.Model(inputs, out, seed=seed, name="mixed_columns")


def numbers_model(table, seed=0):
    scale = layers.Normalization()
    scale.adapt(np.concatenate([table["age"], table["calls"]], axis=1))
    return gn.Sequential([layers.Input((2,)), scale, layers.Dense(32, activation="relu"),
                          layers.Dense(1, activation="sigmoid")], seed=seed, name="numbers_only")


def main(quick=False, out=None):
    out = out or os.path.join("runs", "structured_data")
    os.makedirs(out, exist_ok=True)
    n, epochs = (1500, 15) if quick else (4000, 30)
    table, churn = make_table(n, seed=0)
    test, test_churn = make_table(2000, seed=1)
    model = mixed_model(table)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(table, churn, epochs=epochs, batch_size=32, validation_data=(test, test_churn), verbose=0)
    seconds = (time.perf_counter() - start) / epochs
    numbers = numbers_model(table)
    numbers.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01), metrics=["accuracy"])
    both = lambda t: np.concatenate([t["age"], t["calls"]], axis=1)        # noqa: E731
    numbers.fit(both(table), churn, epochs=epochs, batch_size=32, verbose=0)
    results = {"mixed_accuracy": float(model.evaluate(test, test_churn, verbose=0)[1]),
               "numbers_accuracy": float(numbers.evaluate(both(test), test_churn, verbose=0)[1]),
               "stays_accuracy": float(1 - test_churn.mean()), "s_per_epoch": seconds}
    # the saved model takes raw columns too: one customer as it comes
    path = os.path.join(out, "churn.npz")
    model.save(path)
    customer = {"plan": np.array(["basic"]), "city": np.array(["city_01"]), "age": np.array([[35.0]]),
                "calls": np.array([[7.0]])}
    results["customer_churn"] = float(gn.load_model(path).predict(customer, verbose=0)[0, 0])
    print(f"{n} customers, {epochs} epochs, {seconds:.2f} s per epoch; test accuracy on 2,000 new ones:")
    print(f"  mixed columns {results['mixed_accuracy']:.3f}, numbers alone {results['numbers_accuracy']:.3f}, "
          f"always 'stays' {results['stays_accuracy']:.3f}")
    print(f"  a basic customer of city_01, 35, with 7 calls: churn probability {results['customer_churn']:.2f} "
          f"(from the saved model, {path})")
    plot.learning_curve(history, path=os.path.join(out, "learning_curve.png"))
    print(f"plot: {out}/learning_curve.png")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer customers and epochs, for a check in seconds")
    parser.add_argument("--out", default=None, help="folder for the learning curve and the saved model")
    args = parser.parse_args()
    main(args.quick, args.out)
