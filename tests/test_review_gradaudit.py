"""Review gradaudit: what the parity ledger (test_parity_ledger.py) turned up beyond its gaps.

Keras' loss classes take ``dtype`` (every one) and ``axis`` (the cross-entropies, the focal ones and
CosineSimilarity), whose defaults mean what glassnet's classes compute; glassnet refused them, most
with Python's own "Loss.__init__() got an unexpected keyword argument", naming neither the class nor
what it takes."""
import inspect

import numpy as np
import pytest

from glassnet import losses

CLASSES = sorted(losses.CLASS_NAMES)
WITH_AXIS = ["BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
             "CosineSimilarity", "SparseCategoricalCrossentropy"]


@pytest.mark.parametrize("name", CLASSES)
def test_keras_dtype_none_is_taken_by_every_loss_class(name):
    cls = getattr(losses, name)
    assert cls(dtype=None).get_config() == cls().get_config()
    assert cls(dtype=None, reduction="sum").reduction == "sum"


@pytest.mark.parametrize("name", WITH_AXIS)
def test_keras_axis_minus_one_is_taken_where_keras_has_it(name):
    cls = getattr(losses, name)
    loss = cls(axis=-1, dtype=None)
    assert loss.get_config() == cls().get_config()
    p, y = np.array([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]]), np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    y = y.argmax(axis=1) if name.startswith("Sparse") else y
    assert loss(p, y) == cls()(p, y)


# (CosineSimilarity takes any axis but the batch's since session 46: tests/test_keras_args46.py; the
# cross-entropies and focal losses since session 47, their values tests/test_losses3.py)
@pytest.mark.parametrize("name", [name for name in WITH_AXIS if name != "CosineSimilarity"])
def test_another_axis_is_taken_but_by_the_sparse_loss(name):
    if name.startswith("Sparse"):
        # the labels' classes are the last axis: -1 or its positive number (axis=1 of (n, k), as Keras'
        # TensorFlow backend: tests/test_review_newrev47.py); an axis counted from the end refused when made
        assert getattr(losses, name)(axis=1).axis == 1
        with pytest.raises(ValueError, match=rf"^{name}: axis=-2: the labels' classes are the last axis"):
            getattr(losses, name)(axis=-2)
        return
    assert getattr(losses, name)(axis=1).axis == 1
    with pytest.raises(ValueError, match=rf"^{name}: axis=0 is the batch axis"):
        getattr(losses, name)(axis=0)


@pytest.mark.parametrize("name", CLASSES)
def test_another_dtype_and_unknown_keywords_name_the_class(name):
    cls = getattr(losses, name)
    # (taken since session 47: tests/test_losses3.py)
    assert cls(dtype="float64").dtype == "float64"
    with pytest.raises(ValueError, match=rf"^{name}: dtype must be None \(the predictions' dtype\), 'float32' or "
                                         r"'float64', got 'float16'"):
        cls(dtype="float16")
    # Python's "Loss.__init__() got an unexpected keyword argument 'colour'" named neither
    takes = [p for p in inspect.signature(cls).parameters if p not in ("unknown",)]
    with pytest.raises(TypeError, match=rf"^{name}: unexpected keyword argument 'colour'; it takes "
                                        + r",? ".join(takes[:-1])):
        cls(colour="red")
    if name not in WITH_AXIS and "axis" not in inspect.signature(cls).parameters:      # Dice's, Tversky's own
        with pytest.raises(TypeError, match=rf"^{name}: unexpected keyword argument 'axis'"):
            cls(axis=-1)


def test_keras_constructor_arguments_are_all_taken_at_their_defaults():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    for name in CLASSES:
        theirs = getattr(keras.losses, name, None)
        if theirs is None:          # SquaredError: glassnet's own
            continue
        defaults = {key: p.default for key, p in inspect.signature(theirs).parameters.items()
                    if p.default is not inspect.Parameter.empty and key not in ("name",)}
        ours = getattr(losses, name)(**defaults)
        assert ours.get_config() == getattr(losses, name)(**{k: v for k, v in defaults.items()
                                                             if k not in ("dtype", "axis")}).get_config(), name


def test_a_subclass_of_a_built_in_loss_keeps_its_own_arguments():
    class Scaled(losses.MeanSquaredError):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

    loss = Scaled(factor=3.0, dtype=None, reduction="sum")
    assert loss.factor == 3.0 and loss.reduction == "sum"
    with pytest.raises(TypeError, match="^Scaled: unexpected keyword argument 'colour'; it takes reduction, name"):
        Scaled(colour=1)
