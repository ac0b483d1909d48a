"""Flatten and Reshape: values untouched, gradients reshaped back, Keras order, errors."""
import json

import numpy as np
import pytest

from glassnet.gradcheck import check_layer
from glassnet.layers import Flatten, Reshape


def test_flatten_row_major_channels_last(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = Flatten(dtype="float64")
    y = layer(x)
    assert y.shape == (2, 60) and layer.output_shape((3, 4, 5)) == (60,)
    np.testing.assert_array_equal(y[1], x[1].ravel())          # Keras' channels-last order
    g = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(g), g.reshape(x.shape))


@pytest.mark.parametrize("layer,shape", [(Flatten(dtype="float64"), (2, 3, 2, 2)),
                                         (Reshape((3, -1), dtype="float64"), (2, 12)),
                                         (Reshape((2, 2, 3), dtype="float64"), (2, 3, 4))])
def test_gradcheck(layer, shape, rng):
    check_layer(layer, rng.standard_normal(shape))


def test_reshape_shapes():
    assert Reshape((28, 28, 1))(np.ones((2, 784))).shape == (2, 28, 28, 1)
    assert Reshape((-1, 4)).output_shape((2, 6)) == (3, 4)
    assert Reshape((4, -1)).output_shape((8,)) == (4, 2)


def test_errors():
    with pytest.raises(ValueError, match=r"layer r \(Reshape\).*\(10,\) \(10 values\) to \(3, 3\)"):
        Reshape((3, 3), name="r")(np.ones((2, 10)))
    with pytest.raises(ValueError, match=r"\(3, -1\)"):
        Reshape((3, -1)).output_shape((10,))
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match="target_shape"):
        Reshape(5)
    layer = Flatten(name="f")
    layer(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"layer f \(Flatten\).*\(3, 4\), got \(4, 3\)"):
        layer(np.ones((2, 4, 3)))


@pytest.mark.parametrize("bad,message", [
    ("12", r"must be a tuple of integers such as \(28, 28, 1\).*; got '12'"),       # was (1, 2)
    (b"12", r"must be a tuple of integers.*; got b'12'"),
    ((2.7, 3), r"must hold integers, got 2.7 \(float\) in \(2.7, 3\)"),           # was (2, 3)
    ((2.0, 3), r"must hold integers, got 2.0 \(float\)"),
    ((True, 12), r"must hold integers, got True \(bool\)"),                        # was (1, 12)
    (np.array([3.0, 4.0]), r"must hold integers, got .*3.0.* \(float64\)"),
    (12, r"must be a tuple of integers.*; got the integer 12, write \(12,\)"),
    (None, r"must be a tuple of integers.*; got None"),
], ids=repr)
def test_target_shape_must_hold_integers(bad, message):
    with pytest.raises(ValueError, match=r"^Reshape: target_shape " + message):
        Reshape(bad)


@pytest.mark.parametrize("shape,expected", [((np.int64(3), -1), (3, -1)), (np.array([4, 3]), (4, 3)),
                                            ([-1], (-1,))], ids=repr)
def test_integer_target_shapes_become_python_ints(shape, expected):
    layer = Reshape(shape)
    assert layer.target_shape == expected and all(type(d) is int for d in layer.target_shape)


def test_config_round_trip():
    for layer in (Flatten(name="f"), Reshape((7, 7, -1), name="r", input_shape=(98,))):
        config = json.loads(json.dumps(layer.get_config()))
        assert type(layer).from_config(config).get_config() == config
    assert Reshape((7, 7, -1)).get_config()["target_shape"] == [7, 7, -1]


def test_sizes_beyond_int64_are_not_wrapped():
    # np.prod in int64 wrapped (2**31)**2 * 4 to 0: a model file could declare such a Flatten
    assert Flatten().output_shape((2 ** 31, 2 ** 31, 4)) == (2 ** 64,)
    assert Reshape((-1, 2)).output_shape((2 ** 40, 2 ** 30)) == (2 ** 69, 2)
    assert Flatten().output_shape((np.int64(2 ** 40), np.int64(2 ** 40))) == (2 ** 80,)
