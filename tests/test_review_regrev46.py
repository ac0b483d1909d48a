"""Session 46's regression differential (the start tree against the end, ~300 random programs) and
what it found: gradient accumulation across a freeze and an unfreeze (glassnet._state_carry)."""
import numpy as np
import pytest

import glassnet as gn
from test_freeze_more import _ours     # the three-Dense model those tests train

L = gn.layers


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(np.float32)
    return x, (x.sum(1, keepdims=True) - 2.0).astype(np.float32)


def _fit_freeze_unfreeze(model, optimizer, fits=None):
    """compile, fit (4 calls: 1 update, 1 call pending), freeze layer b, compile, fit (4 calls: an
    update made while b is frozen), unfreeze, compile, fit."""
    x, y = _data()
    for trainable in (None, False, True):
        if trainable is not None:
            model.layers[1].trainable = trainable
        model.compile(optimizer, "mse")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        if fits is not None:
            fits.append([w.copy() for w in model.get_weights()])


def test_an_update_while_frozen_zeroes_the_frozen_layers_accumulated_gradients():
    """The gradients a layer had accumulated when frozen are dropped by the next update made while it
    is frozen, as Keras 3.15 zeroes every variable's accumulator at an update: unfrozen, the layer's
    accumulator starts from zero (it came back with its partial sum from before the freeze)."""
    model, optimizer = _ours(), gn.optimizers.Adam(0.01, gradient_accumulation_steps=3)
    x, y = _data()
    model.compile(optimizer, "mse")
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert optimizer.accumulated_steps == 1         # b's partial sum is not zero
    model.layers[1].trainable = False
    model.compile(optimizer, "mse")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)     # 2 calls: an update
    assert optimizer.accumulated_steps == 0
    model.layers[1].trainable = True
    model.compile(optimizer, "mse")
    accumulator = optimizer.slots[model._triples[0][0]]["gradient_accumulator"]
    np.testing.assert_array_equal(accumulator, 0)


def test_accumulation_across_an_unfreeze_as_keras():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    kl = keras.layers
    theirs = keras.Sequential([keras.Input((4,)), kl.Dense(3, activation="tanh", name="a"),
                               kl.Dense(2, activation="tanh", name="b"), kl.Dense(1, name="c")])
    ours = _ours(theirs.get_weights())
    k_opt = keras.optimizers.Adam(0.01, gradient_accumulation_steps=3)
    g_opt = gn.optimizers.Adam(0.01, gradient_accumulation_steps=3, rule="keras")
    _fit_freeze_unfreeze(theirs, k_opt)
    _fit_freeze_unfreeze(ours, g_opt)
    assert g_opt.iterations == int(k_opt.iterations) == 4
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)      # 1.6e-2 apart before


def test_a_multi_optimizers_accumulation_across_an_unfreeze_as_the_plain_ones():
    """A MultiOptimizer's sub-optimizer accumulating gradients zeroes a frozen layer's parked
    accumulator at its updates too: one sub-optimizer taking every weight steps as the plain one
    (which is Keras' above); 1.5e-2 apart before."""
    O = gn.optimizers
    plain, multi = _ours(), _ours()
    _fit_freeze_unfreeze(plain, O.Adam(0.01, gradient_accumulation_steps=3))
    _fit_freeze_unfreeze(multi, O.MultiOptimizer(O.OptimizerMap(O.Adam(0.01, gradient_accumulation_steps=3))))
    for a, b in zip(plain.get_weights(), multi.get_weights()):
        np.testing.assert_array_equal(a, b)
