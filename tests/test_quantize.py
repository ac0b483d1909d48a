"""model.quantize / layer.quantize (glassnet.layers.quantized) against Keras 3.15: the integer
weights and scales to the bit, the quantized forward, training after quantizing, files both ways,
and the refusals."""
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck
from glassnet.quantizers import Int4QuantizationConfig, Int8QuantizationConfig

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# (glassnet config, Keras config's arguments): int8, int4 grouped by Keras' default 128 rows,
# per unit (-1) and in small groups with a padded last one
CONFIGS = [("int8", None), ("int4", None), ("int4", -1), ("int4", 4)]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _config(mode, block, keras=None):
    if mode == "int8" or block is None:
        return None
    return (keras.quantizers if keras is not None else gn.quantizers).Int4QuantizationConfig(block_size=block)


def _pair(keras, mode, block, n_in=10, units=5, activation=None, seed=0):
    rng = np.random.default_rng(seed)
    kernel, bias = rng.normal(size=(n_in, units)).astype("float32"), rng.normal(size=units).astype("float32")
    ours = gn.layers.Dense(units, activation=activation)
    ours.build((n_in,))
    ours.set_weights([kernel, bias])
    theirs = keras.layers.Dense(units, activation=activation)
    theirs.build((None, n_in))
    theirs.set_weights([kernel, bias])
    ours.quantize(mode, config=_config(mode, block))
    theirs.quantize(mode, config=_config(mode, block, keras))
    return ours, theirs


def _bits_equal(ours, theirs):
    mine, keras_ones = ours.get_weights(), [np.asarray(w) for w in theirs.weights]
    assert [(w.dtype, w.shape) for w in mine] == [(w.dtype, w.shape) for w in keras_ones]
    for a, b in zip(mine, keras_ones):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode,block", CONFIGS)
def test_dense_weights_policy_and_outputs_equal_keras(keras, mode, block):
    ours, theirs = _pair(keras, mode, block, n_in=10)
    _bits_equal(ours, theirs)
    assert ours.dtype_policy.name == theirs.dtype_policy.name
    assert ours.dtype_policy.get_config() == theirs.dtype_policy.get_config()
    assert ours.quantization_mode == theirs.quantization_mode == mode
    assert [w.shape for w in ours.trainable_weights] == [tuple(w.shape) for w in theirs.trainable_weights]
    assert ours.count_params() == theirs.count_params()
    x = (np.random.default_rng(1).normal(size=(6, 10)) * 3).astype("float32")
    np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))


def test_int8_sums_are_exact_for_long_rows(keras):
    # 3000 inputs: sums of int8 products up to 3000 * 127**2 > 2**24, past float32's exact integers;
    # Keras sums in int32, glassnet in float64: the outputs are equal to the bit
    ours, theirs = _pair(keras, "int8", None, n_in=3000, units=4)
    x = np.random.default_rng(2).normal(size=(5, 3000)).astype("float32")
    np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))


def test_int8_forward_by_hand():
    layer = gn.layers.Dense(2, use_bias=False)
    layer.build((2,))
    layer.set_weights([np.array([[1.0, -0.5], [0.5, 2.0]], "float32")])
    layer.quantize("int8")
    kernel, scale = layer.get_weights()
    # columns scaled by 127 / (max|column| + 1e-7): 0.5 * 127 / 2.0000001 = 31.75 -> 32, 0.5 * 127 /
    # 1.0000001 = 63.49999 -> 63 (Keras' epsilon puts the scale a hair under 127)
    np.testing.assert_array_equal(kernel, [[127, -32], [63, 127]])
    np.testing.assert_allclose(scale, [127 / (1 + 1e-7), 127 / (2 + 1e-7)], rtol=1e-7)
    # the row's scale in float32: 2 + 1e-7 rounds to 2, so 127 / 2 = 63.5 and -1 * 63.5 rounds to
    # even, -64
    x = np.array([[2.0, -1.0]], "float32")
    expected = (np.array([127, -64]) @ kernel.astype(np.int64)) / (scale * 63.5)
    np.testing.assert_allclose(layer(x), expected[None], rtol=1e-6)


@pytest.mark.parametrize("mode,block", [("int8", None), ("int4", None), ("int4", -1), ("int4", 2)])
def test_embedding_equals_keras(keras, mode, block):
    table = np.random.default_rng(3).normal(size=(11, 5)).astype("float32")
    ours = gn.layers.Embedding(11, 5)
    ours.build((3,))
    ours.set_weights([table])
    theirs = keras.layers.Embedding(11, 5)
    theirs.build((None,))
    theirs.set_weights([table])
    ours.quantize(mode, config=_config(mode, block))
    theirs.quantize(mode, config=_config(mode, block, keras))
    _bits_equal(ours, theirs)
    assert ours.dtype_policy.name == theirs.dtype_policy.name
    assert ours.trainable_weights == [] and len(theirs.trainable_weights) == 0
    ids = np.array([[1, 5, 10], [0, 3, 3]])
    np.testing.assert_array_equal(ours(ids), np.asarray(theirs(ids)))


def _models(keras, mode, block, seed=4):
    rng = np.random.default_rng(seed)
    ours = gn.Sequential([gn.Input((6,)), gn.layers.Dense(8, activation="relu"), gn.layers.Dense(3)])
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # Keras' about its InputLayer
        theirs.quantize(mode, config=_config(mode, block, keras))
    ours.quantize(mode, config=_config(mode, block))
    return ours, theirs


@pytest.mark.parametrize("mode,block", [("int8", None), ("int4", 4)])
def test_model_summary_counts_and_training_follow_keras(keras, mode, block):
    ours, theirs = _models(keras, mode, block)
    assert ours.count_params() == theirs.count_params()
    assert [w.shape for w in ours.trainable_weights] == [tuple(w.shape) for w in theirs.trainable_weights]
    assert sum(w.size for w in ours.non_trainable_weights) == sum(int(np.prod(w.shape))
                                                                   for w in theirs.non_trainable_weights)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 6)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.05))
    frozen = [w.copy() for w in ours.layers[0].get_weights()[1:]]
    for _ in range(3):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    # bias and the second layer's float weights trained as Keras'; the integer kernel and scales not at all
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(ours.layers[0].get_weights()[1:], frozen):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode,block", [("int4", -1), ("int4", 3)])
def test_int4_gradients_by_finite_differences(mode, block):
    # int4 leaves the input unquantized: the layer is linear in x with the dequantized kernel, so
    # Keras' custom gradient is the true one, checked in float64 (the bias's too)
    layer = gn.layers.Dense(4, activation="tanh", dtype="float64", seed=0)
    layer.build((7,))
    layer.quantize(mode, config=_config(mode, block))
    x = np.random.default_rng(6).normal(size=(3, 7))
    gradcheck.check_layer(layer, x)


def test_int8_input_gradient_is_the_dequantized_kernel():
    # Keras' custom gradient for int8 (whose rounded inputs have no useful derivative): dL/dx =
    # dL/dz @ (kernel / scale).T; the bias's is checked by finite differences in float64
    layer = gn.layers.Dense(3, dtype="float64", seed=1)
    layer.build((4,))
    layer.quantize("int8")
    x, g = np.random.default_rng(7).normal(size=(2, 4)), np.random.default_rng(8).normal(size=(2, 3))
    layer.forward(x)
    kernel, scale = layer.state["kernel"], layer.state["kernel_scale"]
    np.testing.assert_allclose(layer.backward(g), g @ (kernel / scale).T)
    np.testing.assert_allclose(layer.grads["bias"], g.sum(axis=0))


@pytest.mark.parametrize("mode,block", [("int8", None), ("int4", None), ("int4", -1)])
def test_glassnet_file_round_trip(tmp_path, mode, block):
    model = gn.Sequential([gn.Input((6,)), gn.layers.Embedding(9, 4), gn.layers.Flatten(), gn.layers.Dense(3)],
                          seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # Flatten has nothing to quantize
        model.quantize(mode, config=_config(mode, block))
    model.compile(loss="mse", optimizer="adam")
    ids = np.arange(12).reshape(2, 6) % 9
    model.fit(ids, np.ones((2, 3)), epochs=1, verbose=0)
    for suffix in ("npz", "keras"):
        model.save(tmp_path / f"m.{suffix}", save_format=None if suffix == "npz" else "keras")
        back = gn.load_model(tmp_path / f"m.{suffix}")
        assert [layer.dtype_policy.name for layer in back.layers] == [layer.dtype_policy.name
                                                                       for layer in model.layers]
        for a, b in zip(back.get_weights(), model.get_weights()):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(back.predict(ids, verbose=0), model.predict(ids, verbose=0))


@pytest.mark.parametrize("mode,block", CONFIGS)
def test_keras_files_both_ways(keras, tmp_path, mode, block):
    ours, theirs = _models(keras, mode, block)
    x = np.random.default_rng(9).normal(size=(4, 6)).astype("float32")
    theirs.save(tmp_path / "keras.keras")
    read = gn.load_model(tmp_path / "keras.keras")
    assert read.layers[0].dtype_policy.name == theirs.layers[0].dtype_policy.name
    np.testing.assert_array_equal(read.predict(x, verbose=0), theirs.predict(x, verbose=0))
    ours.save(tmp_path / "ours.keras", save_format="keras")
    loaded = keras.saving.load_model(tmp_path / "ours.keras")
    assert loaded.layers[0].dtype_policy.name == ours.layers[0].dtype_policy.name
    for a, b in zip(loaded.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_keras_embedding_file_read(keras, tmp_path):
    theirs = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(7, 4)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.quantize("int4")
    theirs.save(tmp_path / "e.keras")
    read = gn.load_model(tmp_path / "e.keras")
    ids = np.array([[1, 2, 6]])
    np.testing.assert_array_equal(read.predict(ids, verbose=0), np.asarray(theirs(ids)))


def test_refusals():
    layer = gn.layers.Dense(2)
    with pytest.raises(ValueError, match="not built"):
        layer.quantize("int8")
    layer.build((3,))
    with pytest.raises(ValueError, match="mode: expected one of"):
        layer.quantize("float16")
    with pytest.raises(NotImplementedError, match="float8.*not built"):
        layer.quantize("float8")
    with pytest.raises(ValueError, match="config is for 'int4'"):
        layer.quantize("int8", config=Int4QuantizationConfig())
    with pytest.raises(ValueError, match="block_size"):
        Int4QuantizationConfig(block_size=0)
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized.*int8_from_float32"):
        layer.quantize("int4")
    dropout = gn.layers.Dropout(0.5)
    with pytest.raises(NotImplementedError, match="Dropout does not have a `quantize`"):
        dropout.quantize("int8")

    class MyDense(gn.layers.Dense):
        pass
    mine = MyDense(2)
    mine.build((3,))
    with pytest.raises(NotImplementedError, match="MyDense"):
        mine.quantize("int8")
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2), gn.layers.Dropout(0.1), gn.layers.Dense(1)])
    with pytest.warns(UserWarning, match="Dropout does not have"):
        model.quantize(config=Int8QuantizationConfig())
    assert [layer.quantization_mode for layer in model.layers] == ["int8", None, "int8"]
    with pytest.raises(ValueError, match="filters"):
        gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)]).quantize("int8", filters=3)


def test_filters_pick_layers():
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, name="keep"), gn.layers.Dense(1, name="head")])
    model.quantize("int8", filters="^keep")
    assert [layer.quantization_mode for layer in model.layers] == ["int8", None]
    assert model.layers[1].dtype_policy.name == "float32"


def test_grouped_quantizer_equals_keras(keras):
    x = np.random.default_rng(10).normal(size=(13, 6)).astype("float32")
    ours = gn.quantizers.abs_max_quantize_grouped_with_zero_point(x, block_size=5)
    theirs = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block_size=5, to_numpy=True)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, np.asarray(b))


def test_configs_serialize_as_keras(keras):
    for ours, theirs in [(Int8QuantizationConfig(), keras.quantizers.Int8QuantizationConfig()),
                         (Int4QuantizationConfig(block_size=64), keras.quantizers.Int4QuantizationConfig(block_size=64))]:
        assert ours.get_config() == theirs.get_config()


def test_onnx_export_refuses_a_quantized_model(tmp_path):
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)])
    model.quantize("int8")
    with pytest.raises(Exception, match="quantized"):
        model.export(tmp_path / "m.onnx", format="onnx")


def test_copies_keep_the_quantized_computation():
    import copy
    import pickle
    model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(3)])
    model.quantize("int8")
    x = np.random.default_rng(11).normal(size=(2, 5)).astype("float32")
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert other.layers[0].forward.__self__ is other.layers[0]
        np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_files_both_ways(keras, tmp_path):
    ours, _ = _models(keras, "int8", None, seed=13)
    _, theirs = _models(keras, "int8", None)         # other weights, overwritten from the file
    x = np.random.default_rng(12).normal(size=(4, 6)).astype("float32")
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    for a, b in zip(theirs.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(theirs(x)), ours.predict(x, verbose=0))
    theirs.save_weights(tmp_path / "keras.weights.h5")
    fresh, _ = _models(keras, "int8", None)
    fresh.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), ours.predict(x, verbose=0))


# EinsumDense equations Keras 3.15 quantizes (not those with "..."): projections, heads, a kernel
# summing two axes, and one whose summed axes outnumber the output axes the input lacks (squeezed)
EINSUMS = [("ab,bc->ac", (5,), (4,), "c"), ("abc,cd->abd", (3, 5), (None, 4), "d"),
           ("abc,cde->abde", (3, 5), (None, 2, 4), "de"), ("abc,bcd->ad", (3, 5), (4,), "d"),
           ("abcd,cde->abe", (2, 3, 5), (None, 4), None)]


def _einsum_pair(keras, equation, sample, output_shape, bias_axes, seed=0):
    rng = np.random.default_rng(seed)
    theirs = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    theirs.build((None, *sample))
    weights = [rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours = gn.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes)
    ours.build(sample)
    ours.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize("equation,sample,output_shape,bias_axes", EINSUMS)
def test_einsum_dense_int8_equals_keras(keras, equation, sample, output_shape, bias_axes):
    ours, theirs = _einsum_pair(keras, equation, sample, output_shape, bias_axes)
    ours.quantize("int8")
    theirs.quantize("int8")
    _bits_equal(ours, theirs)       # the kernel scale in Keras' layout (transposed, expanded, squeezed)
    assert ours.dtype_policy.name == theirs.dtype_policy.name == "int8_from_float32"
    x = np.random.default_rng(1).normal(size=(4, *sample)).astype("float32")
    np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))


def test_einsum_dense_model_trains_and_files_both_ways(keras, tmp_path):
    rng = np.random.default_rng(14)
    theirs = keras.Sequential([keras.Input((3, 5)), keras.layers.EinsumDense("abc,cde->abde", (None, 2, 4),
                                                                              bias_axes="de", activation="relu")])
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()])
    ours = gn.Sequential([gn.Input((3, 5)), gn.layers.EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de",
                                                                  activation="relu")])
    ours.set_weights(theirs.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.quantize("int8")
    ours.quantize("int8")
    x, y = rng.normal(size=(8, 3, 5)).astype("float32"), rng.normal(size=(8, 3, 2, 4)).astype("float32")
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    for _ in range(3):
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "ours.keras", save_format="keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "ours.keras").predict(x, verbose=0),
                                  ours.predict(x, verbose=0))
    theirs.save(tmp_path / "keras.keras")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "keras.keras").predict(x, verbose=0),
                                  theirs.predict(x, verbose=0))
    ours.save(tmp_path / "ours.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "ours.npz").predict(x, verbose=0), ours.predict(x, verbose=0))


@pytest.mark.parametrize("make", [lambda: gn.layers.Dense(4, activation="tanh", dtype="float64", seed=0),
                                  lambda: gn.layers.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d",
                                                                activation="tanh", dtype="float64", seed=0)])
def test_int8_weight_only_gradients_by_finite_differences(make):
    # without an activation quantizer the int8 layer is linear in x with the dequantized kernel:
    # Keras' custom gradient is then the true one, checked in float64
    layer = make()
    layer.build((3, 7) if isinstance(layer, gn.layers.EinsumDense) else (7,))
    layer.quantize(config=Int8QuantizationConfig(activation_quantizer=None))
    shape = (2, 3, 7) if isinstance(layer, gn.layers.EinsumDense) else (3, 7)
    gradcheck.check_layer(layer, np.random.default_rng(15).normal(size=shape))


def test_einsum_dense_refusals():
    layer = gn.layers.EinsumDense("ab,bc->ac", 3)
    layer.build((4,))
    with pytest.raises(NotImplementedError, match="'int8' only"):
        layer.quantize("int4")
    dots = gn.layers.EinsumDense("...b,bc->...c", 3)
    dots.build((2, 4))
    with pytest.raises(NotImplementedError, match=r"'\.\.\.'"):
        dots.quantize("int8")


def test_int8_weight_only_config_equals_keras(keras):
    # Int8QuantizationConfig(activation_quantizer=None): the input stays float, the kernel int8
    rng = np.random.default_rng(16)
    kernel, bias = rng.normal(size=(9, 4)).astype("float32"), rng.normal(size=4).astype("float32")
    ours, theirs = gn.layers.Dense(4), keras.layers.Dense(4)
    ours.build((9,))
    theirs.build((None, 9))
    for layer in (ours, theirs):
        layer.set_weights([kernel, bias])
    ours.quantize(config=Int8QuantizationConfig(activation_quantizer=None))
    theirs.quantize(config=keras.quantizers.Int8QuantizationConfig(activation_quantizer=None))
    _bits_equal(ours, theirs)
    x = rng.normal(size=(5, 9)).astype("float32")
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6, atol=1e-6)
    assert ours.get_config()["quantization_config"]["config"] == theirs.get_config()["quantization_config"]["config"]
