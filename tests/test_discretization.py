"""Discretization: buckets and encodings as Keras 3.15's, the boundaries ``adapt`` learns equal to
Keras' (its own algorithm), a model reading raw numbers through it, config and model files, and
the refusals. The layer contract is in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Discretization


def test_buckets_follow_digitize_at_the_boundaries():
    layer = Discretization(bin_boundaries=[0.0, 1.0, 1.0, 2.5])
    x = np.array([[-np.inf, -0.1, 0.0, 0.5, 1.0, 2.4, 2.5, np.inf]])
    # bucket i: boundaries[i - 1] <= x < boundaries[i]; a repeated boundary leaves an empty bucket
    assert layer(x).tolist() == [[0, 0, 1, 1, 3, 3, 4, 4]]
    assert layer(x).dtype == np.float32


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("shape", [(6, 1), (6, 3)])
def test_outputs_match_keras(mode, shape, rng, keras):
    if mode == "one_hot" and shape[1] != 1:
        shape = (6, 3)
    x = rng.normal(size=shape).astype(np.float32)
    boundaries = [-0.5, 0.0, 0.1, 0.8]          # 0.1 is no float32: both compare in float32
    ours = Discretization(bin_boundaries=boundaries, output_mode=mode)
    theirs = keras.layers.Discretization(bin_boundaries=boundaries, output_mode=mode)
    expected = np.asarray(theirs(x))
    out = ours(x)
    assert out.shape == expected.shape == (shape[0], *ours.output_shape(shape[1:]))
    np.testing.assert_array_equal(out, expected.astype(np.float32))


@pytest.mark.parametrize("num_bins,epsilon", [(4, 0.01), (5, 0.01), (10, 0.001), (3, 0.1), (7, 0.05)])
def test_adapt_learns_keras_boundaries(num_bins, epsilon, rng, keras):
    data = np.concatenate([rng.normal(size=(700, 2)), rng.exponential(size=(300, 2)) + 2])
    ours = Discretization(num_bins=num_bins, epsilon=epsilon)
    theirs = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    ours.adapt(data)
    theirs.adapt(data)
    assert len(ours.bin_boundaries) == num_bins - 1
    np.testing.assert_array_equal(ours.bin_boundaries, theirs.bin_boundaries)
    # in batches (an iterable), merged summary by summary, as Keras merges them
    batched = Discretization(num_bins=num_bins, epsilon=epsilon)
    batched.adapt(data[i:i + 128] for i in range(0, len(data), 128))
    keras_batched = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    keras_batched.adapt([data[i:i + 128] for i in range(0, len(data), 128)])
    np.testing.assert_array_equal(batched.bin_boundaries, keras_batched.bin_boundaries)


def test_adapted_buckets_hold_about_equal_counts(rng):
    data = rng.lognormal(size=(5000, 1))
    layer = Discretization(num_bins=5)
    layer.adapt(data)
    counts = np.bincount(layer(data).astype(int).ravel(), minlength=5)
    assert counts.min() > 0.15 * len(data) and counts.max() < 0.25 * len(data)


def test_a_model_reads_raw_numbers_through_it(rng, tmp_path):
    # an age-like feature whose effect is not monotonic: buckets let a linear model see it
    age = rng.uniform(0, 90, size=(600, 1))
    label = ((age[:, 0] > 20) & (age[:, 0] < 50)).astype(int)
    bucket = Discretization(num_bins=9, output_mode="one_hot")
    bucket.adapt(age)
    model = gn.Sequential([gn.Input((1,)), bucket, gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.1), metrics=["accuracy"])
    history = model.fit(age, label, epochs=30, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    model.save(tmp_path / "buckets.npz")
    loaded = gn.load_model(tmp_path / "buckets.npz")
    np.testing.assert_array_equal(loaded.predict(age), model.predict(age))
    assert loaded.layers[0].bin_boundaries == bucket.bin_boundaries


def test_config_round_trips_before_and_after_adapt_and_takes_keras_config(rng, keras):
    layer = Discretization(num_bins=3, output_mode="count", name="bins")
    config = layer.get_config()
    assert config["bin_boundaries"] is None and config["num_bins"] == 3
    layer.adapt(rng.normal(size=(50, 2)))
    again = Discretization.from_config(layer.get_config())
    assert again.bin_boundaries == layer.bin_boundaries and again.num_bins == 3
    x = rng.normal(size=(4, 2))
    np.testing.assert_array_equal(again(x), layer(x))
    theirs = keras.layers.Discretization(num_bins=3)
    theirs.adapt(rng.normal(size=(50, 1)))
    from_keras = Discretization.from_config({k: v for k, v in theirs.get_config().items() if k not in ("sparse", "dtype")})
    assert from_keras.bin_boundaries == pytest.approx(theirs.bin_boundaries)


def test_the_input_gradient_is_zero(rng):
    layer = Discretization(bin_boundaries=[0.0])
    x = rng.normal(size=(3, 2))
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.ones((3, 2))), np.zeros((3, 2)))


def test_refusals_name_what_was_expected_and_what_came(rng):
    with pytest.raises(ValueError, match="give bin_boundaries or num_bins .to adapt., one of them"):
        Discretization()
    with pytest.raises(ValueError, match="give bin_boundaries or num_bins"):
        Discretization([0.0], num_bins=2)
    with pytest.raises(ValueError, match=r"bin_boundaries must be a list of finite numbers in increasing order, got \[1.0, 0.0\]"):
        Discretization([1.0, 0.0])
    with pytest.raises(ValueError, match="num_bins: expected a positive integer, got 0"):
        Discretization(num_bins=0)
    with pytest.raises(ValueError, match=r"epsilon must be a number in \(0, 1\), got 2"):
        Discretization(num_bins=2, epsilon=2)
    with pytest.raises(ValueError, match="output_mode must be one of .'int', 'one_hot', 'multi_hot', 'count'., got 'tf_idf'"):
        Discretization([0.0], output_mode="tf_idf")
    with pytest.raises(ValueError, match=r"no bin_boundaries yet: call its adapt\(x_train\) first"):
        Discretization(num_bins=3)(np.ones((2, 1)))
    with pytest.raises(ValueError, match="bin_boundaries were given when it was made"):
        Discretization([0.0]).adapt(np.ones((2, 1)))
    with pytest.raises(ValueError, match="adapt: data holds NaN or infinite values"):
        Discretization(num_bins=2).adapt(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="adapt: the data holds no values"):
        Discretization(num_bins=2).adapt([])
    # more axes: counted along axis 1, as Keras (tests/test_gaps44.py): bucket 1 at the one position
    np.testing.assert_array_equal(Discretization([0.0], output_mode="multi_hot")(np.ones((2, 3, 1))), [[[0, 1]]] * 2)


@pytest.mark.parametrize("epsilon", [0.03, 0.009, 0.06])
def test_adapt_steps_as_keras_where_n_epsilon_rounds(epsilon, keras):
    data = np.arange(1000, dtype=np.float32).reshape(-1, 1)        # 1000 * 0.03 is 30, 1000 / (1 / 0.03) not
    ours, theirs = Discretization(num_bins=4, epsilon=epsilon), keras.layers.Discretization(num_bins=4, epsilon=epsilon)
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_array_equal(ours.bin_boundaries, theirs.bin_boundaries)


def test_adapt_refuses_values_beyond_float32():
    with pytest.raises(ValueError, match="values beyond float32's range"):
        Discretization(num_bins=2).adapt(np.array([[1e39], [1.0]]))
