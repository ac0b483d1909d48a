"""glassnet.utils.to_categorical: one-hot encoding, and clear errors for what is not a label.

(Here rather than in test_datasets.py, which is skipped without scikit-learn.)"""
import numpy as np
import pytest

from glassnet.utils import to_categorical


@pytest.mark.parametrize("y,num_classes,expected", [
    ([0, 2], 3, [[1, 0, 0], [0, 0, 1]]),
    ([1, 0], None, [[0, 1], [1, 0]]),                       # num_classes from the largest label
    (np.array([[2], [0]]), np.int64(3), [[0, 0, 1], [1, 0, 0]]),   # a column; a NumPy int
    ([1.0, 0.0], np.int32(2), [[0, 1], [1, 0]]),            # whole floats are labels too
])
def test_valid_labels(y, num_classes, expected):
    out = to_categorical(y, num_classes)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("y", [["a"], ["0", "1"], [None, 1], [0.5, 1.0], [float("nan")]], ids=repr)
def test_labels_that_are_not_integers_name_y(y):
    with pytest.raises(ValueError, match=r"^to_categorical: y must hold integer class labels >= 0, got "):
        to_categorical(y)


@pytest.mark.parametrize("num_classes", [2.0, "2", 0, -1, True], ids=repr)
def test_bad_num_classes_names_it(num_classes):
    with pytest.raises(ValueError, match=r"^to_categorical: num_classes: expected a positive integer, got "):
        to_categorical([0, 1], num_classes)


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\), got values from 0 to 2"):
        to_categorical([0, 2], 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\), got values from -1 to 1"):
        to_categorical([-1, 1])
