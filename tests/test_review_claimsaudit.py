"""Review of the README's "What is in it" claims (losses, metrics, callbacks, activations,
initializers, regularizers/constraints, schedules): the claims found false, as tests."""
import numpy as np
import pytest

import glassnet as gn


# Keras 3.15's values of keras.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True) on
# the batches below (worked out by hand: is the label among the first k sorted ids?)
SORTED_IDS = np.array([[3, 1, 0, 2], [2, 1, 0, 3], [0, 2, 1, 3], [1, 3, 2, 0]])
LABELS = np.array([1, 0, 2, 3])             # hits with k=2: yes, no, yes, yes


def test_sparse_top_k_class_takes_keras_from_sorted_ids():
    """README: "Keras' classes for the function metrics take their settings"; Keras 3.15's
    SparseTopKCategoricalAccuracy takes from_sorted_ids, as glassnet's function does."""
    m = gn.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    m.update_state(LABELS, SORTED_IDS)
    assert m.result() == pytest.approx(0.75)
    # weighted, and the (n, 1) label column Keras also takes
    m = gn.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    m.update_state(LABELS[:, None], SORTED_IDS, sample_weight=np.array([1.0, 3.0, 0.0, 1.0]))
    assert m.result() == pytest.approx(2 / 5)
    # the function gives the same hits
    hits = gn.metrics.sparse_top_k_categorical_accuracy(LABELS, SORTED_IDS, k=2, from_sorted_ids=True)
    assert hits.tolist() == [1.0, 0.0, 1.0, 1.0]


def test_sparse_top_k_class_from_sorted_ids_config_round_trip():
    m = gn.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3", from_sorted_ids=True)
    config = m.get_config()
    assert config["from_sorted_ids"] is True
    again = type(m)(**config)
    again.update_state(LABELS, SORTED_IDS)
    assert again.result() == pytest.approx(1.0)
    # the default leaves the config as it was (model files of before)
    assert "from_sorted_ids" not in gn.metrics.SparseTopKCategoricalAccuracy(k=3).get_config()
    with pytest.raises(TypeError, match="from_sorted_ids"):
        gn.metrics.SparseTopKCategoricalAccuracy(from_sorted_ids="yes")
