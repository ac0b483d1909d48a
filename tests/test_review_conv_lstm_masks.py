"""Review of ConvLSTM masks / Bidirectional(ConvLSTM): masks reaching a ConvLSTM inside a model."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


@pytest.mark.parametrize("bidi", [False, True], ids=["ConvLSTM1D", "Bidirectional"])
@pytest.mark.parametrize("functional", [False, True], ids=["Sequential", "Model"])
def test_a_mask_within_the_steps_is_refused_when_the_model_is_built(bidi, functional):
    """Embedding(mask_zero) on ids (steps, length) makes a (batch, steps, length) mask; a ConvLSTM1D
    reading (steps, length, features) frames receives it. The model used to build and compile and
    then fail in predict/fit with 'mask must have shape (batch, steps)', naming neither the maker
    nor why; the refusal belongs to the build, naming the Embedding."""
    def reader():
        conv = L.ConvLSTM1D(2, 3)
        return L.Bidirectional(conv) if bidi else conv
    with pytest.raises(ValueError, match=r"receives the mask that layer embedding \(Embedding\) makes.*within the "
                                         r"steps"):
        if functional:
            ids = gn.Input((5, 6), dtype="int64")
            gn.Model(ids, reader()(L.Embedding(10, 3, mask_zero=True)(ids)))
        else:
            gn.Sequential([gn.Input((5, 6), dtype="int64"), L.Embedding(10, 3, mask_zero=True), reader()])


@pytest.mark.parametrize("bidi", [False, True], ids=["ConvLSTM2D", "Bidirectional"])
def test_a_steps_mask_reaches_a_conv_lstm_in_a_model_as_in_keras(bidi, rng):
    """Contrary to docs/layers.md ('masks reach it eagerly only'), Embedding(mask_zero) ->
    TimeDistributed(Reshape) hands its (batch, steps) mask to a ConvLSTM2D in a model, and the
    values match Keras 3.15's (which does the same). Passes today: a guard for the docs' fix."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ids = rng.integers(1, 10, size=(4, 5))
    ids[0, 3:] = 0
    ids[1, :2] = 0
    ids[2] = 0

    def stack(lib, mask_zero=True):
        conv = lib.layers.ConvLSTM2D(2, 3, padding="same")
        return [lib.layers.Embedding(10, 16, mask_zero=mask_zero), lib.layers.TimeDistributed(lib.layers.Reshape((4, 4, 1))),
                lib.layers.Bidirectional(conv) if bidi else conv]
    ours = gn.Sequential([gn.Input((5,), dtype="int64"), *stack(gn)], seed=0)
    unmasked = gn.Sequential([gn.Input((5,), dtype="int64"), *stack(gn, False)], seed=0)
    unmasked.set_weights(ours.get_weights())
    theirs = keras.Sequential([keras.Input((5,), dtype="int64"), *stack(keras)])
    theirs.set_weights(ours.get_weights())
    out = ours.predict(ids)
    assert np.abs(out - unmasked.predict(ids)).max() > 1e-4      # the mask did reach it
    np.testing.assert_allclose(out, np.asarray(theirs.predict(ids, verbose=0)), rtol=1e-5, atol=1e-6)
