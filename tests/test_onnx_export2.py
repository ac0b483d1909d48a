"""``model.export(path, format="onnx")`` for the recurrent layers (SimpleRNN, LSTM, GRU,
Bidirectional), depthwise, separable, 3-D and transposed convolutions, the 3-D poolings,
Cropping, UpSampling (bilinear too), RepeatVector and TimeDistributed: the file read back by
``onnx`` (checker, full_check) and run by onnxruntime equals glassnet's ``predict`` (float32 to
1e-5 relative, float64 to 1e-10) on batches of 1 and 7 from one file, and Keras 3.15's
``predict`` of the same model (its .keras file); refusals by name before anything is written."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import _onnx_proto as proto

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, check as _check, exported as _exported, jitter as _jitter

def _model(shape, layers, dtype="float32", seed=0):
    return gn.Sequential([gn.Input(shape), *layers], seed=seed, dtype=dtype)


RECURRENT = {
    "lstm_last": ((6, 3), lambda: [L.LSTM(4)]),
    "lstm_sequences_backwards": ((6, 3), lambda: [L.LSTM(4, return_sequences=True, go_backwards=True)]),
    "gru_sequences": ((6, 3), lambda: [L.GRU(4, return_sequences=True)]),
    "gru_backwards_no_bias": ((6, 3), lambda: [L.GRU(4, go_backwards=True, use_bias=False)]),
    "simple_rnn_stacked": ((6, 3), lambda: [L.SimpleRNN(5, return_sequences=True), L.SimpleRNN(3, activation="relu")]),
    "stacked_lstm_gru_dense": ((6, 3), lambda: [L.LSTM(5, return_sequences=True), L.GRU(4, return_sequences=True),
                                                L.TimeDistributed(L.Dense(2, activation="softmax"))]),
    "bidirectional_concat": ((6, 3), lambda: [L.Bidirectional(L.LSTM(4, return_sequences=True))]),
    "bidirectional_sum": ((6, 3), lambda: [L.Bidirectional(L.GRU(4), merge_mode="sum")]),
    "bidirectional_mul": ((6, 3), lambda: [L.Bidirectional(L.SimpleRNN(4, return_sequences=True), merge_mode="mul")]),
    "bidirectional_ave": ((6, 3), lambda: [L.Bidirectional(L.LSTM(4), merge_mode="ave")]),
    "activations": ((6, 3), lambda: [L.LSTM(4, activation="relu", recurrent_activation="hard_sigmoid",
                                            return_sequences=True),
                                     L.GRU(3, activation="softsign", return_sequences=True),
                                     L.SimpleRNN(2, activation="linear")]),
    "any_length": ((None, 3), lambda: [L.Bidirectional(L.GRU(3, return_sequences=True)), L.LSTM(2)]),
}


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_match_predict(name, rng, tmp_path):
    shape, make = RECURRENT[name]
    model = _jitter(_model(shape, make()), rng)
    x = rng.normal(size=(7, *(6 if s is None else s for s in shape))).astype("float32")
    session = _check(model, x, tmp_path)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert ops & {"LSTM", "GRU", "RNN"}, ops
    if name == "any_length":            # the steps are free in the file too: 9 steps run
        longer = rng.normal(size=(2, 9, 3)).astype("float32")
        (got,) = session.run(None, {session.get_inputs()[0].name: longer})
        np.testing.assert_allclose(got, model.predict(longer, verbose=0), **TOLERANCES["float32"])


def test_embedding_bidirectional_trained(rng, tmp_path):
    """Ids -> Embedding -> Bidirectional(LSTM) -> Dense after a few Adam steps."""
    ids = gn.Input((8,), dtype="int32", name="ids")
    h = L.Bidirectional(L.LSTM(6, return_sequences=True))(L.Embedding(30, 5)(ids))
    out = L.Dense(3, activation="softmax")(L.GRU(4)(h))
    model = gn.Model(ids, out, seed=3)
    x, y = rng.integers(0, 30, size=(7, 8)), rng.integers(0, 3, size=7)
    model.compile("sparse_categorical_crossentropy", gn.optimizers.Adam(0.05))
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    _, session = _exported(model, tmp_path)
    for rows in (slice(0, 1), slice(0, 7)):
        (got,) = session.run(None, {"ids": x[rows]})
        np.testing.assert_allclose(got, model.predict(x[rows].astype(np.int32), verbose=0), **TOLERANCES["float32"])


SHAPES = {
    "depthwise2d": ((8, 7, 3), lambda: [L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same",
                                                          activation="relu")]),
    "depthwise1d": ((9, 3), lambda: [L.DepthwiseConv1D(3, dilation_rate=2)]),
    "separable2d": ((8, 7, 3), lambda: [L.SeparableConv2D(4, 3, depth_multiplier=2, padding="same")]),
    "separable1d": ((9, 3), lambda: [L.SeparableConv1D(4, 2, strides=2, activation="tanh")]),
    "conv3d_pools": ((5, 6, 4, 2), lambda: [L.Conv3D(3, 2, padding="same", strides=(1, 2, 1)),
                                            L.MaxPooling3D(2, padding="same"),
                                            L.AveragePooling3D((1, 2, 2), padding="same"),
                                            L.GlobalAveragePooling3D(keepdims=True)]),
    "global_max3d_repeat": ((4, 4, 4, 2), lambda: [L.GlobalMaxPooling3D(), L.RepeatVector(3)]),
    "pad_crop_upsample3d": ((3, 4, 2, 2), lambda: [L.ZeroPadding3D(((1, 0), (0, 2), (1, 1))),
                                                   L.Cropping3D(((0, 1), (1, 1), (0, 0))), L.UpSampling3D((2, 1, 3))]),
    "bilinear": ((4, 5, 2), lambda: [L.UpSampling2D((2, 3), interpolation="bilinear")]),
    "crop_upsample1d": ((6, 7, 2), lambda: [L.Cropping2D(((1, 0), (2, 1))), L.Reshape((20, 2)),
                                            L.Cropping1D((1, 2)), L.UpSampling1D(2)]),
    "time_distributed_conv": ((3, 6, 6, 2), lambda: [L.TimeDistributed(L.Conv2D(3, 3)),
                                                     L.TimeDistributed(L.GlobalAveragePooling2D())]),
    "global_keepdims": ((6, 6, 2), lambda: [L.GlobalAveragePooling2D(keepdims=True),
                                            L.GlobalMaxPooling2D(keepdims=True)]),
}
FLOAT32_ONLY = {
    "conv2d_transpose_same": ((5, 4, 3), lambda: [L.Conv2DTranspose(4, 3, strides=2, padding="same")]),
    "conv2d_transpose_valid": ((5, 4, 3), lambda: [L.Conv2DTranspose(4, (3, 2), strides=(2, 3))]),
    "conv2d_transpose_output_padding": ((5, 4, 3), lambda: [L.Conv2DTranspose(4, 3, strides=2, output_padding=1)]),
    "conv1d_transpose_same": ((5, 3), lambda: [L.Conv1DTranspose(4, 4, strides=3, padding="same",
                                                                 activation="sigmoid")]),
    "conv3d_transpose": ((3, 4, 3, 2), lambda: [L.Conv3DTranspose(2, 2, strides=2, padding="same")]),
    # (bilinear UpSampling2D is glassnet's taps since onnx6, float64 too: in SHAPES)
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_layers_match_predict(name, dtype, rng, tmp_path):
    shape, make = SHAPES[name]
    model = _jitter(_model(shape, make(), dtype), rng)
    _check(model, rng.normal(size=(7, *shape)).astype(dtype), tmp_path, dtype)


@pytest.mark.parametrize("name", sorted(FLOAT32_ONLY))
def test_float32_only_layers(name, rng, tmp_path):
    """float32 files run; float64 ones are refused by name (onnxruntime 1.32 has no float64
    ConvTranspose or Resize kernel), nothing written."""
    shape, make = FLOAT32_ONLY[name]
    model = _jitter(_model(shape, make()), rng)
    _check(model, rng.normal(size=(7, *shape)).astype("float32"), tmp_path)
    wide = _model(shape, make(), "float64")
    (tmp_path / "f64").mkdir()
    with pytest.raises(ValueError, match="float32 models only"):
        wide.export(tmp_path / "f64" / "m.onnx", format="onnx")
    assert os.listdir(tmp_path / "f64") == []


@pytest.mark.parametrize("make, words", [
    # (float64 readers, gelu or softmax gates, return_state and masks are exported as a Scan since
    # session 44: tests/test_onnx_export4.py)
    (lambda: _model((4, 3), [L.SimpleRNN(2, activation="sparsemax")]), "activation 'sparsemax' has no exact ONNX"),
    # (stateful readers: of their own since session 46, tests/test_onnx_three.py; inside Bidirectional
    # exported since session 47: tests/test_onnx_four.py)
    # (UpSampling2D's bicubic, area and lanczos are exported since onnx6: tests/test_onnx_six.py)
])
def test_refused_before_writing(make, words, tmp_path):
    model = make()
    with pytest.raises(ValueError, match="export") as info:
        model.export(tmp_path / "m.onnx", format="onnx")
    assert words in str(info.value)
    assert os.listdir(tmp_path) == []


def test_encoder_strings_and_free_dims():
    """The writer's two new fields, parsed by onnx's own classes: a list of strings (the
    recurrent operators' activations) and a dimension of no size (a sequence of any length)."""
    attr = onnx.AttributeProto.FromString(proto.attribute("activations", ["Sigmoid", "Tanh"]))
    assert (list(attr.strings), attr.type) == ([b"Sigmoid", b"Tanh"], onnx.AttributeProto.STRINGS)
    v = onnx.ValueInfoProto.FromString(proto.value_info("x", proto.FLOAT, ["batch", None, 3]))
    dims = v.type.tensor_type.shape.dim
    assert [(d.dim_param, d.HasField("dim_value")) for d in dims] == [("batch", False), ("", False), ("", True)]


KERAS_MODELS = ["lstm_sequences_backwards", "gru_sequences", "simple_rnn_stacked", "bidirectional_concat",
                "bidirectional_ave", "stacked_lstm_gru_dense", "depthwise2d", "separable2d", "conv3d_pools",
                "conv2d_transpose_same", "conv2d_transpose_valid", "conv2d_transpose_output_padding",
                "conv1d_transpose_same", "bilinear", "crop_upsample1d", "time_distributed_conv"]


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_against_keras(name, keras, rng, tmp_path):
    """Keras 3.15 reads the same model (glassnet's .keras file) and predicts what onnxruntime
    runs: gate orders, reset_after, go_backwards, Bidirectional's merge, "same" transposed sizes,
    half-pixel bilinear."""
    shape, make = {**RECURRENT, **SHAPES, **FLOAT32_ONLY}[name]
    model = _jitter(_model(shape, make()), rng)
    x = rng.normal(size=(7, *shape)).astype("float32")
    model.save(tmp_path / "m.keras", save_format="keras")
    want = keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0)
    _, session = _exported(model, tmp_path)
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


def test_channels_first(rng, tmp_path):
    """channels_first depthwise, separable and transposed convolutions and Cropping2D: ONNX's own
    layout, no transposes around them; float64 depthwise there is refused by name."""
    kw = dict(data_format="channels_first")
    layers = [L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", **kw),
              L.SeparableConv2D(4, 3, padding="same", **kw),
              L.Conv2DTranspose(3, 3, strides=2, padding="same", **kw), L.Cropping2D(((1, 0), (0, 2)), **kw)]
    model = _jitter(_model((3, 8, 7), layers), rng)
    _check(model, rng.normal(size=(7, 3, 8, 7)).astype("float32"), tmp_path)
    wide = _model((3, 8, 7), [L.DepthwiseConv2D(3, **kw)], "float64")
    with pytest.raises(ValueError, match="float64 channels_first depthwise convolution is not exported"):
        wide.export(tmp_path / "wide.onnx", format="onnx")
    assert not (tmp_path / "wide.onnx").exists()
