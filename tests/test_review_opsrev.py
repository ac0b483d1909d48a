"""Review of glassnet.ops: Keras 3.15's dtypes where NumPy's would wrap around or widen (sum of small
integers, matmul of int8, square of booleans, clip's NumPy-scalar bounds), TensorFlow's tie rule for
maximum/minimum with the constant first, and squeeze keeping the drawn rank."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


@pytest.mark.parametrize("dtype, expected", [("int8", np.int32), ("int16", np.int32), ("uint8", np.uint32),
                                             ("uint16", np.uint32), ("bool", np.int32), ("int32", np.int32)])
def test_sum_of_small_integers_counts_in_32_bits_as_keras(dtype, expected):
    # keras.ops.sum on TensorFlow: int8 [100, 100, 100, 100] -> int32 400 (NumPy in int8: -112)
    x = np.full((2, 2), 100).astype(dtype)
    total, columns = ops.sum(x), ops.sum(x, axis=0)
    assert total.dtype == expected and columns.dtype == expected
    assert int(total) == (4 if dtype == "bool" else 400)
    assert columns.tolist() == ([2, 2] if dtype == "bool" else [200, 200])


def test_matmul_of_int8_gives_int32_as_keras():
    x = np.full((2, 2), 100, dtype=np.int8)
    product = ops.matmul(x, x)                      # Keras 3.15: int32 [[20000, 20000], ...]
    assert product.dtype == np.int32
    np.testing.assert_array_equal(product, np.full((2, 2), 20000))


def test_square_of_booleans_is_int32_as_keras():
    assert ops.square(np.array([True, False])).dtype == np.int32


def test_clip_with_numpy_scalar_bounds_keeps_the_dtype_of_x_as_keras():
    x = np.array([-2.0, 0.5, 3.0], dtype=np.float32)
    for low, high in [(np.float64(0), np.float64(1)), (np.array(0.0), 1.0)]:
        out = ops.clip(x, low, high)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, [0, 0.5, 1])
    assert ops.clip(x.astype(np.float16), np.float32(0), 1).dtype == np.float16
    assert ops.clip(np.array([-1, 5], np.int32), np.int64(0), np.int64(3)).dtype == np.int32


@pytest.mark.parametrize("op, expected", [("maximum", [[0, 1, 0]]), ("minimum", [[0, 0, 1]])])
def test_a_constant_first_takes_the_tie_as_tensorflow(op, expected, tmp_path):
    # TensorFlow: d maximum(0, x)/dx at x = [0, 1, -1] is [0, 1, 0] (the tie goes to the first operand)
    x = np.array([[0.0, 1.0, -1.0]])
    inputs = gn.Input((3,))
    model = gn.Model(inputs, getattr(ops, op)(0.0, inputs), dtype="float64")
    layer = model.layers[-1]
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), expected)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz").layers[-1]
    loaded(x)
    np.testing.assert_array_equal(loaded.backward(np.ones((1, 3))), expected)
    # the tensor first keeps the tie
    first = gn.Model(inputs, getattr(ops, op)(inputs, 0.0), dtype="float64").layers[-1]
    first(x)
    assert first.backward(np.ones((1, 3)))[0, 0] == 1


def test_squeeze_keeps_an_axis_of_unknown_size_that_a_batch_gives_size_1():
    # drawn: (None, None, 3) -> squeeze -> (None, None, 3); steps of 1 must not drop the steps axis
    inputs = gn.Input((None, 3))
    model = gn.Model(inputs, L.LSTM(2)(ops.squeeze(inputs)), seed=0)
    assert model.predict(np.ones((2, 1, 3), np.float32), verbose=0).shape == (2, 2)
    ones = gn.Input((None, 1, 3))
    squeezed = gn.Model(ones, ops.squeeze(ones))                  # (None, None, 3)
    assert squeezed.predict(np.ones((2, 1, 1, 3), np.float32), verbose=0).shape == (2, 1, 3)
