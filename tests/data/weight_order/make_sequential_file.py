"""Make sequential.npz and sequential_expected.npz for tests/test_review_s36new3.py: a Sequential
nesting a functional Model, saved by a glassnet from before Keras' order of layers (f00902c):

    git -C /path/to/glassnet archive f00902c src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python tests/data/weight_order/make_sequential_file.py tests/data/weight_order

That glassnet listed the nested model's layers at their first calls (f2 f1); Keras 3.15 (and
glassnet since) lists f1 f2. Both are Dense(4) on 4 features: read by position, they swap.
"""
import os
import sys

import numpy as np

import glassnet as gn


def build(lib):
    """o1, then the functional Model (f1 feeding the Sequential s1 s2; f2 beside; added), then o2."""
    L = lib.layers
    inner = lib.Sequential([L.Input((4,)), L.Dense(4, name="s1"), L.Dense(4, name="s2")], name="inner")
    i = L.Input((4,), name="fi")
    branch = inner(L.Dense(4, name="f1")(i))
    func = lib.Model(i, L.Add(name="fadd")([L.Dense(4, name="f2")(i), branch]), name="func")
    return lib.Sequential([L.Input((4,)), L.Dense(4, name="o1"), func, L.Dense(2, name="o2")], name="outer", seed=1)


def main(folder):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)).astype("float32"), rng.standard_normal((16, 2)).astype("float32")
    model = build(gn)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    model.save(os.path.join(folder, "sequential.npz"))
    predicted = model.predict(x, verbose=0)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)      # Adam's moments go on
    np.savez(os.path.join(folder, "sequential_expected.npz"), x=x, y=y, predicted=predicted,
             trained=model.predict(x, verbose=0), names=np.array([layer.name for layer in model.layers]))


if __name__ == "__main__":
    main(sys.argv[1])
