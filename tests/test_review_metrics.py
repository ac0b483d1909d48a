"""Review of the losses and metrics against Keras 3.15: compile's names for accuracy in any case,
Keras' other names of metrics and losses, and one number as a batch's sample weight."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, metrics
from glassnet.layers import Dense


def _binary_data(rng, n=40):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    return x, y


@pytest.mark.parametrize("name", ["Accuracy", "ACC", "Acc", "acc", "accuracy"])
def test_accuracy_in_any_case_is_the_accuracy_the_output_picks_as_keras(keras, rng, name):
    # Keras' compile reads str(name).lower() in ("accuracy", "acc") before any class name: a sigmoid
    # output gets BinaryAccuracy, logged under the name given; the class Accuracy (exact equality)
    # scored probabilities 0 here
    x, y = _binary_data(rng)
    ours = gn.Sequential([Dense(1, activation="sigmoid", input_dim=3)], seed=0)
    ours.compile(loss="binary_crossentropy", optimizer="sgd", metrics=[name])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="binary_crossentropy", metrics=[name])
    mine = ours.evaluate(x, y, verbose=0, return_dict=True)
    their = theirs.evaluate(x, y, verbose=0, return_dict=True)
    assert set(mine) == set(their) == {"loss", name}
    assert mine[name] == pytest.approx(their[name], abs=1e-6)
    assert mine[name] > 0


def test_accuracy_in_any_case_names_the_function_and_a_config_keeps_it():
    for name in ("Accuracy", "ACC"):
        assert metrics.get(name) == (name, metrics.accuracy)
        assert metrics.serialize(name, metrics.accuracy) == name
    # the class itself still compiles, and a config names it by class
    named, metric = metrics.get(metrics.Accuracy())
    assert isinstance(metric, metrics.Accuracy)
    assert metrics.serialize(named, metric) == {"class_name": "Accuracy", "config": {"name": "accuracy"}}


@pytest.mark.parametrize("name", ["f_beta_score", "log_cosh_error", "bce", "BCE"])
def test_keras_other_metric_names(keras, rng, name):
    """Names Keras' metrics.get takes (its classes in snake case, its aliases) give Keras' values."""
    y = (rng.random((8, 3)) > 0.5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (8, 3)).astype(np.float32)
    _, ours = metrics.get(name)
    theirs = keras.metrics.get(name)
    if isinstance(ours, metrics.Metric):
        ours.update_state(y, p)
        value = ours.result()
    else:
        value = ours(y, p)
    theirs.update_state(y, p)
    assert np.asarray(value) == pytest.approx(np.asarray(theirs.result()), rel=1e-5)


@pytest.mark.parametrize("name", ["bce", "BCE"])
def test_keras_bce_loss_names(keras, rng, name):
    y = (rng.random((8, 3)) > 0.5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (8, 3)).astype(np.float32)
    loss = losses.get(name)
    assert loss.name == "binary_crossentropy"
    # Keras' alias names its function, one value per sample
    assert loss(p, y) == pytest.approx(float(np.mean(keras.losses.get(name)(y, p))), rel=1e-5)


@pytest.mark.parametrize("name", ["MeanSquaredError", "BinaryAccuracy", "RootMeanSquaredError",
                                  "BinaryCrossentropy", "Hinge", "CosineSimilarity", "LogCoshError"])
def test_one_number_as_a_batchs_weight_counts_the_batch_as_keras(keras, rng, name):
    # Keras reduces the batch's values to the rank of the weights: a number w counts the batch's
    # mean w times, not each of its samples w times (which gave a weighted batch more say than an
    # unweighted one of the same size)
    ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
    y = (rng.random((6, 3)) > 0.5).astype(np.float32)
    p = rng.random((6, 3)).astype(np.float32)
    for weight in (2.0, np.float32(0.5), None):
        for m in (ours, theirs):
            m.update_state(y[:4] if weight is None else y, p[:4] if weight is None else p,
                           **({} if weight is None else {"sample_weight": weight}))
    assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-5)


def test_one_number_as_weight_in_mean_as_keras(keras):
    ours, theirs = metrics.Mean(), keras.metrics.Mean()
    for m in (ours, theirs):
        m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=2.0)
        m.update_state([0.0, 0.0])
    assert ours.result() == pytest.approx(float(theirs.result()))       # (2 * 4) / (2 + 2)
    assert ours.result() == pytest.approx(2.0)


def test_sparse_crossentropy_takes_whole_number_float_labels_as_keras(keras, rng):
    # a float32 label array, as Keras casts it (sparse_categorical_accuracy took it; the loss and
    # its metric refused it)
    labels = rng.integers(0, 3, 7)
    p = rng.dirichlet(np.ones(3), 7).astype(np.float32)
    floats = labels.astype(np.float32)
    expected = float(keras.metrics.SparseCategoricalCrossentropy()(floats, p))
    assert metrics.SparseCategoricalCrossentropy()(floats, p) == pytest.approx(expected, rel=1e-5)
    assert metrics.SparseCategoricalCrossentropy()(floats[:, None], p) == pytest.approx(expected, rel=1e-5)
    loss = losses.SparseCategoricalCrossentropy()
    assert loss(p, floats) == loss(p, labels)
    assert np.array_equal(loss.gradient(p, floats), loss.gradient(p, labels))
    assert loss.weighted(p, floats, np.ones(7)) == loss(p, labels)
    with pytest.raises(ValueError, match="non-integer"):
        loss(p, floats + 0.5)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        loss(p, floats + 3)


def test_r2_score_of_an_empty_batch_warns_nothing():
    import warnings
    m = metrics.R2Score()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.update_state(np.zeros((0, 2)), np.zeros((0, 2)))
    m.update_state(np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[1.0, 2.0], [2.0, 4.0]]))
    assert m.result() == 1.0
