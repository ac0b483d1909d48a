"""Bugs the owner found while merging session 47's work, each with the test that failed before its fix."""
import numpy as np

import glassnet as gn


def test_predict_sizes_a_time_distributed_model_of_open_length():
    """predict without a batch_size sizes its chunks from each layer's numbers per sample: a
    TimeDistributed model whose inner model takes any length counted its layers at their built
    input_shape, None there, and raised a TypeError; now at the data's length."""
    inner = gn.Sequential([gn.Input((None, 4)), gn.layers.LSTM(3, return_sequences=True)])
    x = gn.Input((5, None, 4))
    model = gn.Model(x, gn.layers.TimeDistributed(inner)(x))
    data = np.random.default_rng(0).normal(size=(7, 5, 9, 4)).astype("float32")
    got = model.predict(data, verbose=0)
    np.testing.assert_array_equal(got, model.predict(data, batch_size=7, verbose=0))
    assert got.shape == (7, 5, 9, 3)
    # the count is the inner layers' at 9 steps, times the 5 outer steps
    wrapper = model.layers[-1]
    assert wrapper.numbers_per_sample((5, 9, 4)) == 5 * inner.layers[-1].numbers_per_sample((9, 4))
