"""Review (npfuzz41): bugs a seeded differential fuzzer of glassnet.ops' NumPy-like functions found
against keras.ops 3.15 on TensorFlow (docs/ops_numpy.md)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

U8 = np.array([1, 2, 3], np.uint8)


def _same(ours, theirs, keras, rtol=1e-6, dtype=True):
    theirs = keras.ops.convert_to_numpy(theirs)
    ours = np.asarray(ours)
    if dtype:
        assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("name", ["true_divide", "divide_no_nan", "hypot", "logaddexp", "logaddexp2"])
@pytest.mark.parametrize("pair", [(-2, U8), (U8, -2), (U8, 300), (np.array([1, 2], np.int32), 2 ** 33)],
                         ids=["neg-u8", "u8-neg", "u8-300", "i32-big"])
def test_python_int_goes_to_the_float_result_unwrapped(keras, name, pair):
    # a Python int was read in the integers' dtype first: -2 beside uint8 became 254 (true_divide
    # gave 254.0 for -2 / 1), 2**33 beside int32 became 0 (true_divide gave inf)
    if name == "hypot" and not isinstance(pair[1], np.ndarray) and pair[1] == 2 ** 33:
        pytest.skip("Keras gives float64 there (its int64 reading of 2**33); values checked below")
    _same(getattr(ops, name)(*pair), getattr(keras.ops, name)(*pair), keras)


def test_hypot_of_a_big_python_int_is_not_wrapped():
    np.testing.assert_allclose(ops.hypot(np.array([3], np.int32), 2 ** 33), [2.0 ** 33], rtol=1e-6)


@pytest.mark.parametrize("pair", [(-2, U8), (U8, -2), (7, np.array([True, False, True]))], ids=["neg-u8", "u8-neg", "bool"])
def test_fmod_reads_a_python_int_as_int32(keras, pair):
    # Keras converts it to an int32 tensor before its result type: fmod(-2, uint8) is -2 (int32),
    # where glassnet wrapped -2 to uint8's 254
    a, b = pair
    if isinstance(b, np.ndarray) and b.dtype == bool:
        b = b.astype(np.uint8) + 1
        a, b = np.array([True, False, True]), 2
    _same(ops.fmod(a, b), keras.ops.fmod(a, b), keras)


@pytest.mark.parametrize("call", [
    lambda o, x: o.cbrt(x), lambda o, x: o.deg2rad(x), lambda o, x: o.rad2deg(x), lambda o, x: o.exp2(x),
    lambda o, x: o.sinc(x), lambda o, x: o.fabs(x), lambda o, x: o.i0(x), lambda o, x: o.trapezoid(x),
    lambda o, x: o.hypot(x, 2), lambda o, x: o.heaviside(x, 2), lambda o, x: o.logaddexp(x, 2),
    lambda o, x: o.logaddexp2(x, x), lambda o, x: o.divide_no_nan(x, 2), lambda o, x: o.true_divide(x, 2),
], ids=["cbrt", "deg2rad", "rad2deg", "exp2", "sinc", "fabs", "i0", "trapezoid", "hypot", "heaviside", "logaddexp",
        "logaddexp2", "divide_no_nan", "true_divide"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_integers_give_floatx(keras, call, dtype):
    # Keras casts integers to config.floatx(); glassnet's NumPy-like functions gave float32 whatever floatx
    x = np.array([1, 2, 0, 3]).astype(dtype)
    keras.config.set_floatx("float64")
    gn.config.set_floatx("float64")
    try:
        try:
            theirs = call(keras.ops, x)
        except Exception:
            pytest.skip("Keras 3.15 refuses this input")
        _same(call(ops, x), theirs, keras)
    finally:
        gn.config.set_floatx("float32")
        keras.config.set_floatx("float32")


@pytest.mark.parametrize("choices,default", [
    ([np.array([1, 2, 3], np.int32), np.array([4, 5, 6], np.int32)], 1.5),
    ([np.array([True, False, True]), np.array([4, 5, 6], np.int32)], -0.25),
])
def test_select_keeps_a_float_default_beside_integer_choices(keras, choices, default):
    # the result was cast to the choices' dtype: a default of 1.5 became 1 (Keras' is float64, 1.5)
    conditions = [np.array([True, False, False]), np.array([False, True, False])]
    ours = ops.select(conditions, choices, default)
    assert ours.dtype.kind == "f"
    _same(ours, keras.ops.select(conditions, choices, default), keras, dtype=False)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_trace_of_unsigned_small_integers_is_uint32(keras, dtype):
    x = np.arange(24).reshape(2, 3, 4).astype(dtype)
    _same(ops.trace(x), keras.ops.trace(x), keras)
    _same(ops.trace(x, 1, 1, 2), keras.ops.trace(x, 1, 1, 2), keras)


def test_corrcoef_of_one_row_is_a_1x1_matrix(keras):
    x = np.array([[1.0, 2.0, 4.0]], np.float32)
    _same(ops.corrcoef(x), keras.ops.corrcoef(x), keras)


@pytest.mark.parametrize("pair", [
    (np.array([True, False, True]), np.array([0.5, 0.5, 0.5], np.float32)),
    (np.array([True, False]), 0.5), (np.array([False, True]), np.array([3, 4], np.int32)),
])
def test_heaviside_takes_a_boolean_x1_beside_numbers(keras, pair):
    # Keras refuses only two booleans (a bool result type); glassnet refused any boolean x1
    _same(ops.heaviside(*pair), keras.ops.heaviside(*pair), keras)


def test_heaviside_still_refuses_two_booleans(keras):
    x = np.array([True, False])
    with pytest.raises(Exception):
        keras.ops.heaviside(x, x)
    with pytest.raises(TypeError, match="heaviside: x1 or x2 must hold numbers"):
        ops.heaviside(x, x)
