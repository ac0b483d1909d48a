"""Review readme36: the README's and docs' claims for operators, glassnet.ops, unscored outputs,
'crossentropy', metric names and count_params/build, checked as a Keras user reads them."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


@pytest.mark.parametrize("reduce", [lambda h: ops.sum(h, axis=1), lambda h: h[:, 0], lambda h: ops.mean(h, axis=-1)],
                         ids=["sum", "index", "mean"])
@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_an_output_of_one_number_per_sample_trains(reduce, call):
    # x[:, 0] or ops.sum(x, axis=1) of a (None, 2) tensor is (None,): it predicts, and (as Keras 3.15)
    # trains (tests/test_scalar_outputs.py compares the numbers with Keras')
    x, y = np.random.default_rng(0).random((8, 3)), np.random.default_rng(1).random(8)
    inputs = gn.Input((3,))
    model = gn.Model(inputs, reduce(gn.layers.Dense(2)(inputs)), seed=0)
    assert model.predict(x).shape == (8,)
    model.compile(loss="mse", optimizer="sgd")
    kwargs = {} if "batch" in call else {"verbose": 0}
    assert np.all(np.isfinite(getattr(model, call)(x, y, **kwargs) if "batch" in call or call == "evaluate"
                              else model.fit(x, y, **kwargs).history["loss"]))


def test_one_number_per_sample_beside_other_outputs():
    x, y = np.random.default_rng(0).random((8, 3)), np.random.default_rng(1).random((8, 2))
    inputs = gn.Input((3,))
    h = gn.layers.Dense(2)(inputs)
    model = gn.Model(inputs, [ops.sum(h, axis=1), h], seed=0)
    model.compile(loss=["mse", "mse"], optimizer="sgd")
    # trained beside the other output since feat_multiscalar (tests/test_scalar_outputs_multi.py: Keras 3.15's)
    assert np.isfinite(model.fit(x, [y[:, 0], y], verbose=0).history["sum_loss"][0])
    model.compile(loss=[None, "mse"], optimizer="sgd")          # kept for predict only: taken
    assert np.isfinite(model.fit(x, [None, y], verbose=0).history["loss"][0])
    # the way the message gives trains
    kept = gn.Model(inputs, ops.sum(h, axis=1, keepdims=True), seed=0)
    kept.compile(loss="mse", optimizer="sgd")
    assert np.isfinite(kept.fit(x, y[:, 0], verbose=0).history["loss"][0])


@pytest.mark.parametrize("expression", ["np.tanh(x)", "np.sin(x)", "x.max()", "list(x)"])
@pytest.mark.parametrize("drawn", [False, True], ids=["input", "drawn"])
def test_what_tensors_refuse_points_to_glassnet_ops(expression, drawn):
    # the README: "NumPy functions are still refused by name (use glassnet.ops)"; the refusals
    # named layers only, as before glassnet.ops existed (@, // and comparisons are ops' nodes now:
    # tests/test_ops_more.py)
    inputs = gn.Input((3,))
    x = gn.layers.Dense(3)(inputs) if drawn else inputs
    with pytest.raises((TypeError, AttributeError), match=r"glassnet\.ops' functions \(ops\."):
        eval(expression, {"np": np, "x": x})
