"""Review of the categorical cross-entropies' row rescaling (Keras 3.15 divides each row of
outputs by its sum before the clip and the log)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import NonFiniteError


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "categorical_focal_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_fit_names_a_row_of_outputs_summing_to_zero(loss):
    # a ReLU head gives all-zero rows; divided by their sum they make the loss NaN (as in Keras).
    # fit stops, and must say why, not blame an overflowing squared difference
    x = -np.ones((8, 3), dtype="float32")
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    y = labels if loss.startswith("sparse") else np.eye(3, dtype="float32")[labels]
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(3, activation="relu", kernel_initializer="ones")])
    model.compile(loss=loss, optimizer="sgd")
    with pytest.raises(NonFiniteError, match="sums to 0") as info:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert "overflowed" not in str(info.value)


def test_invalid_output_silent_on_normal_rows_and_logits():
    p = np.array([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    assert "row 0" in gn.losses.CategoricalCrossentropy().invalid_output(p)
    assert gn.losses.CategoricalCrossentropy().invalid_output(p[1:]) is None
    assert gn.losses.CategoricalCrossentropy(from_logits=True).invalid_output(p) is None
    # the sparse loss divides each row by its sum too (Keras); on logits neither divides
    assert "row 0" in gn.losses.SparseCategoricalCrossentropy().invalid_output(p)
    assert gn.losses.SparseCategoricalCrossentropy().invalid_output(p[1:]) is None
    assert gn.losses.SparseCategoricalCrossentropy(from_logits=True).invalid_output(p) is None
