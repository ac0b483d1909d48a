"""Review of the optimizers: weights not laid out in C order, Lion's weight_decay=None (Keras'
default), and Nadam's momentum product across ``model.trace``."""
import json
import re
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _layouts(a):
    """``a`` in C order, in Fortran order, and as a transposed view (neither C-contiguous)."""
    return {"C": a.copy(), "F": np.asfortranarray(a), "T": np.ascontiguousarray(a.T).T}


@pytest.mark.parametrize("name, settings", [
    ("sgd", {"weight_decay": 0.1}), ("adam", {"weight_decay": 0.1}), ("adamw", {}),
    ("lion", {"weight_decay": 0.1}), ("lamb", {}), ("lamb", {"weight_decay": 0.1, "clipnorm": 0.5})], ids=str)
def test_a_weight_not_in_c_order_steps_as_a_c_ordered_one(name, settings, rng):
    # the weight decay and Lamb's step went into a copy (a 1-D view of such a weight is one):
    # the decay was silently skipped, and Lamb left the weight as it was
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    results = {}
    for layout, w in _layouts(w0).items():
        optimizer = optimizers.OPTIMIZERS[name](learning_rate=0.01, **settings)
        for g in grads:
            optimizer.apply([("w", w, g)])
        results[layout] = np.array(w)
    assert not np.array_equal(results["C"], w0)
    np.testing.assert_array_equal(results["F"], results["C"])
    np.testing.assert_array_equal(results["T"], results["C"])


def test_lamb_on_a_fortran_ordered_weight_matches_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(4)]
    theirs = keras.optimizers.Lamb(learning_rate=0.01, weight_decay=0.1)
    variable = keras.Variable(w0)
    ours, w = optimizers.Lamb(learning_rate=0.01, weight_decay=0.1), np.asfortranarray(w0)
    for g in grads:
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        ours.apply([("w", w, g)])
    np.testing.assert_allclose(w, variable.numpy(), rtol=1e-5, atol=1e-6)


def test_lion_takes_keras_default_weight_decay_of_none(rng):
    # Keras' Lion defaults to weight_decay=None; passing it (or a config holding it) was refused
    optimizer = optimizers.Lion(learning_rate=0.01, weight_decay=None)
    again = optimizers.from_config(json.loads(json.dumps(optimizer.get_config())))
    assert again.weight_decay is None
    w0, g = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    a, b = w0.copy(), w0.copy()
    again.apply([("w", a, g)])
    optimizers.Lion(learning_rate=0.01).apply([("w", b, g)])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Lion: weight_decay must be a finite number >= 0, got -1"):
        optimizers.Lion(weight_decay=-1)


def test_trace_leaves_nadam_s_momentum_product_as_it_was(rng):
    # trace undoes its step with set_state; without the product in that state, Nadam recomputed
    # it with the current beta_1, and a run that had changed beta_1 went on differently
    x, y = rng.standard_normal((16, 3)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    weights = []
    for trace in (False, True):
        model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(1)], seed=0)
        model.compile("mse", optimizers.Nadam(0.01))
        model.fit(x, y, epochs=3, verbose=0, shuffle=False)
        model.optimizer.beta_1 = 0.5
        model.fit(x, y, epochs=1, verbose=0, shuffle=False)
        if trace:
            model.trace(x[:4], y[:4])
        model.fit(x, y, epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for ours, theirs in zip(*weights):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
@pytest.mark.parametrize("shape", [(3,), (4, 1), (12,)], ids=str)
def test_a_gradient_of_another_shape_is_refused_before_any_change(name, shape):
    # it was broadcast over the weights (a (3,) gradient onto (4, 3) weights) without a word
    optimizer = optimizers.OPTIMIZERS[name](learning_rate=0.01)
    w = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=rf"apply: the gradient of 'w' has shape {re.escape(str(shape))}, "
                                         rf"its weights \(4, 3\)"):
        optimizer.apply([("w", w, np.ones(shape, np.float32))])
    assert optimizer.iterations == 0 and not optimizer.slots
    np.testing.assert_array_equal(w, 1)
