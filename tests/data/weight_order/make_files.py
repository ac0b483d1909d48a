"""Make the files of tests/test_weight_order.py's old-file tests: run with a glassnet from before
functional models took Keras' order of layers (commit f00902c), e.g.

    git -C /path/to/glassnet archive f00902c src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python tests/data/weight_order/make_files.py tests/data/weight_order

That glassnet listed this graph's layers at their first calls, d1 d2 d3 add bn drop out; Keras
3.15 (and glassnet since) lists d2 d3 d1 add bn drop out. d1 and d2 have weights of the same
shapes, so a file read by position would swap them without an error.
"""
import os
import sys

import numpy as np

import glassnet as gn


def build(lib, with_lambda=False):
    """Two Inputs, a shared Dense (d1) and a parallel branch: the graph of the files."""
    L = lib.layers
    a, b = L.Input((4,), name="a"), L.Input((4,), name="b")
    d1, d2, d3 = L.Dense(3, name="d1"), L.Dense(3, name="d2"), L.Dense(4, name="d3")
    x = d2(a)
    y = d1(b)
    w = d1(d3(x))
    h = L.BatchNormalization(name="bn")(L.Add(name="add")([y, w]))
    if with_lambda:         # a function: its model has no config, save_weights writes the weights alone
        h = L.Lambda(lambda t: 2.0 * t, name="twice")(h)
    out = L.Dense(2, name="out")(L.Dropout(0.3, name="drop")(h))
    return lib.Model([a, b], out, seed=3)


def main(folder):
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((16, 4)).astype("float32"), rng.standard_normal((16, 4)).astype("float32")
    y = rng.standard_normal((16, 2)).astype("float32")
    model = build(gn)
    # each layer's first weights, drawn from the stream its model's seed gives it
    initial = {f"initial/{name}": w for name, w in zip(_weight_names(model), model.get_weights())}
    model.compile(loss="mse", optimizer="adam")
    model.fit([xa, xb], y, epochs=2, batch_size=8, verbose=0)
    path = os.path.join(folder, "model.npz")
    model.save(path)
    loaded = gn.load_model(path)            # (as this glassnet reads it back)
    predicted = loaded.predict([xa, xb], verbose=0)
    loaded.fit([xa, xb], y, epochs=1, batch_size=8, verbose=0)     # Adam's moments and the streams go on
    trained = loaded.predict([xa, xb], verbose=0)
    coded = build(gn, with_lambda=True)     # (no training through a Lambda: weights of its own)
    coded.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in coded.get_weights()])
    coded.save_weights(os.path.join(folder, "weights.npz"))
    np.savez(os.path.join(folder, "expected.npz"), xa=xa, xb=xb, y=y, predicted=predicted, trained=trained,
             coded=coded.predict([xa, xb], verbose=0),
             names=np.array([layer.name for layer in model.layers]), **initial)


def _weight_names(model):
    return [f"{layer.name}/{k}" for layer in model.layers for k in range(len(layer.get_weights()))]


if __name__ == "__main__":
    main(sys.argv[1])
