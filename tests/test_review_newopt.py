"""Review of Muon / ScheduleFreeAdamW, clone_model, utils' helpers and OrthogonalRegularizer: the
bugs found, each a test that failed before its fix."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.utils import split_dataset


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, ValueError), ("a", ValueError), (True, ValueError)])
def test_split_dataset_refuses_a_bad_seed_by_name(seed, error):
    # NumPy's own words ("expected non-negative integer", "SeedSequence expects int") named no argument
    with pytest.raises(error, match="split_dataset: seed"):
        split_dataset(np.arange(10), left_size=5, shuffle=True, seed=seed)


def test_split_dataset_takes_a_numpy_integer_seed():
    a = split_dataset(np.arange(10), left_size=5, shuffle=True, seed=np.int64(3))
    b = split_dataset(np.arange(10), left_size=5, shuffle=True, seed=3)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("model_seed", [None, 0])
def test_clone_model_keeps_a_seeded_layer_starting_where_the_original_did(model_seed):
    """A weighted layer's own seed is not in its config: the clone's layer drew from the model's
    stream, so its kernel differed from the original's starting kernel."""
    model = gn.Sequential([L.Input((4,)), L.Dense(3, seed=7), L.Dropout(0.5, seed=3), L.Dense(2)], seed=model_seed)
    clone = gn.models.clone_model(model)
    assert clone.layers[0].seed == 7
    np.testing.assert_array_equal(clone.get_weights()[0], model.get_weights()[0])
    if model_seed is not None:          # and the unseeded layers draw as the model's stream did
        for a, b in zip(clone.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_clone_model_of_a_graph_keeps_a_seeded_layer_starting_where_the_original_did():
    inputs = gn.Input((4,))
    model = gn.Model(inputs, L.Dense(1)(L.Dense(3, seed=7)(inputs)), seed=None)
    clone = gn.models.clone_model(model)
    np.testing.assert_array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_orthogonal_activity_regularizer_on_a_batch_of_one_says_what_happened(rng):
    """mode='rows' as an activity regularizer compares a batch's samples; a last batch of one
    sample was refused as a '2-D weight' (Keras gives a NaN loss there)."""
    x, y = rng.standard_normal((9, 3)).astype(np.float32), rng.standard_normal((9, 1)).astype(np.float32)
    model = gn.Sequential([L.Input((3,)), L.Dense(4, activity_regularizer=gn.regularizers.OrthogonalRegularizer()),
                           L.Dense(1)], seed=0)
    model.compile("mse", "sgd")
    with pytest.raises(ValueError, match=r"OrthogonalRegularizer: .*got shape \(1, 4\).*activity_regularizer.*batch"):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    # mode='columns' compares the features: a batch of one is fine
    model = gn.Sequential([L.Input((3,)), L.Dense(4, activity_regularizer=gn.regularizers.OrthogonalRegularizer(
        mode="columns")), L.Dense(1)], seed=0)
    model.compile("mse", "sgd")
    assert np.isfinite(model.fit(x, y, batch_size=4, epochs=1, verbose=0).history["loss"][0])
