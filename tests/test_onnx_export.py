"""``model.export(path, format="onnx")``: the file glassnet writes itself (glassnet._onnx_proto)
read back by ``onnx`` (checker, full_check) and run by onnxruntime, against glassnet's own
``predict`` (float32 to 1e-5 relative, float64 to 1e-10) and Keras 3.15's ``predict`` of the same
model; batch sizes 1 and 7 from one file; refusals by name before anything is written."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import _onnx_proto as proto

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, check as _check, exported as _exported

def _x(rng, shape, dtype="float32"):
    return rng.normal(size=(7, *shape)).astype(dtype)


def _mlp(dtype):
    return gn.Sequential([L.Dense(16, activation="relu", input_dim=5), L.Dropout(0.3), L.GaussianNoise(0.2),
                          L.Dense(8, activation="tanh"), L.Dense(3, activation="softmax")], seed=1, dtype=dtype)


def _dense_rank3(dtype):
    return gn.Sequential([gn.Input((4, 6)), L.Dense(5, activation="silu"), L.LayerNormalization(),
                          L.Dense(3, use_bias=False), L.Activation("log_softmax")], seed=2, dtype=dtype)


def _batchnorm_axes(dtype):
    return gn.Sequential([gn.Input((4, 6)), L.BatchNormalization(axis=1), L.BatchNormalization(),
                          L.Permute((2, 1)), L.Reshape((-1,)), L.Rescaling(0.5, offset=-1.0),
                          L.Dense(2, activation="sigmoid")], seed=3, dtype=dtype)


def _functional(dtype):
    a, c = gn.Input((6,), name="features"), gn.Input((6,), name="context")
    h, k = L.Dense(4, activation="elu")(a), L.Dense(4, activation="selu")(c)
    merged = [L.Add()([h, k]), L.Subtract()([h, k]), L.Multiply()([h, k]), L.Average()([h, k, h]),
              L.Maximum()([h, k]), L.Minimum()([h, k])]
    joined = L.Concatenate()(merged)
    score = L.Dense(1, name="score")(joined)
    probs = L.Dense(3, activation="softmax", name="probs")(L.LayerNormalization(axis=-1)(joined))
    return gn.Model([a, c], [score, probs], seed=4, dtype=dtype)


def _conv2d(dtype):
    return gn.Sequential([gn.Input((12, 20, 3)), L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                          L.BatchNormalization(), L.MaxPooling2D(2, padding="same"),
                          L.Conv2D(5, (2, 3), dilation_rate=(1, 2), padding="valid"), L.Flatten(),
                          L.Dense(3, activation="softmax")], seed=5, dtype=dtype)


def _conv1d(dtype):
    return gn.Sequential([gn.Input((11, 3)), L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="swish"),
                          L.AveragePooling1D(2, padding="same"), L.Conv1D(6, 2, strides=2, padding="same"),
                          L.MaxPooling1D(2), L.Conv1D(3, 1), L.SpatialDropout1D(0.2), L.GlobalAveragePooling1D(),
                          L.Dense(2)], seed=6, dtype=dtype)


def _pool2d(dtype):
    return gn.Sequential([gn.Input((7, 7, 2)), L.ZeroPadding2D(((1, 0), (2, 1))),
                          L.AveragePooling2D(3, strides=2, padding="same"), L.UpSampling2D((2, 3)),
                          L.Conv2D(3, 2, padding="same", activation="hard_sigmoid"), L.GlobalMaxPooling2D(),
                          L.Dense(2, activation="softplus")], seed=7, dtype=dtype)


def _residual_cnn(dtype):
    x = gn.Input((8, 8, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu6")(x)
    y = L.Conv2D(4, 3, padding="same")(h)
    h = L.Add()([h, y])
    h = L.ZeroPadding1D(1)(L.Reshape((16, 4))(L.MaxPooling2D(2)(h)))
    pooled = L.GlobalAveragePooling2D(keepdims=True)(L.Reshape((18, 2, 2))(h))
    out = L.Dense(2, activation="softsign", name="out")(L.Flatten()(pooled))
    return gn.Model(x, out, seed=8, dtype=dtype)


def _embedding(dtype):
    ids = gn.Input((5,), dtype="int32", name="ids")
    h = L.Embedding(20, 4)(ids)
    h = L.Conv1D(3, 2, activation="leaky_relu")(h)
    out = L.Dense(2, activation="exponential")(L.GlobalMaxPooling1D()(h))
    return gn.Model(ids, out, seed=9, dtype=dtype)


def _activation_layers(dtype):
    return gn.Sequential([L.Dense(6, input_dim=4), L.LeakyReLU(0.3), L.Dense(6), L.ReLU(max_value=2.0),
                          L.Dense(6), L.ELU(0.7), L.Dense(6, activation="hard_silu"), L.Softmax()],
                         seed=10, dtype=dtype)


def _nested(dtype):
    inner = gn.Sequential([L.Dense(4, activation="relu"), L.Dense(3)], dtype=dtype)
    return gn.Sequential([gn.Input((5,)), inner, L.Activation("softmax")], seed=11, dtype=dtype)


def _channels_first(dtype):
    kw = dict(data_format="channels_first")
    return gn.Sequential([gn.Input((3, 8, 7)), L.Conv2D(4, 3, padding="same", activation="tanh", **kw),
                          L.AveragePooling2D(2, padding="same", **kw), L.MaxPooling2D(2, **kw),
                          L.Conv2D(2, 1, **kw), L.Flatten(), L.Dense(2)], seed=12, dtype=dtype)


MODELS = {"nested": (_nested, (5,)), "channels_first": (_channels_first, (3, 8, 7)),
          "mlp": (_mlp, (5,)), "dense_rank3": (_dense_rank3, (4, 6)), "batchnorm_axes": (_batchnorm_axes, (4, 6)),
          "functional": (_functional, [(6,), (6,)]), "conv2d": (_conv2d, (12, 20, 3)), "conv1d": (_conv1d, (11, 3)),
          "pool2d": (_pool2d, (7, 7, 2)), "residual_cnn": (_residual_cnn, (8, 8, 2)),
          "activation_layers": (_activation_layers, (4,))}


def _inputs(rng, shape, dtype):
    return [_x(rng, s, dtype) for s in shape] if isinstance(shape, list) else _x(rng, shape, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_match_predict(name, dtype, rng, tmp_path):
    make, shape = MODELS[name]
    model = make(dtype)
    _check(model, _inputs(rng, shape, dtype), tmp_path, dtype)


def test_grouped_conv(rng, tmp_path):
    """groups=2: ONNX Conv's group in float32; the float64 window form refuses it by name."""
    model = gn.Sequential([gn.Input((8, 8, 4)), L.Conv2D(6, 3, groups=2, padding="same")], seed=13)
    _check(model, _x(rng, (8, 8, 4)), tmp_path)
    wide = gn.Sequential([gn.Input((8, 8, 4)), L.Conv2D(6, 3, groups=2)], seed=13, dtype="float64")
    with pytest.raises(ValueError, match="groups > 1 is exported for float32 models only"):
        wide.export(tmp_path / "wide.onnx", format="onnx")
    assert not (tmp_path / "wide.onnx").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_ids(dtype, rng, tmp_path):
    model = _embedding(dtype)
    ids = rng.integers(0, 20, size=(7, 5))
    path, session = _exported(model, tmp_path)
    assert session.get_inputs()[0].name == "ids" and session.get_inputs()[0].type == "tensor(int64)"
    for rows in (slice(0, 1), slice(0, 7)):
        got = session.run(None, {"ids": ids[rows]})[0]
        np.testing.assert_allclose(got, model.predict(ids[rows].astype(np.int32), verbose=0), **TOLERANCES[dtype])


@pytest.mark.parametrize("name", ["mlp", "batchnorm_axes", "conv2d", "functional"])
def test_trained_models(name, rng, tmp_path):
    """A few SGD steps first: BatchNormalization's moving statistics and the weights moved."""
    make, shape = MODELS[name]
    model = make("float32")
    x = _inputs(rng, shape, "float32")
    if name == "functional":
        model.compile(["mse", "categorical_crossentropy"], gn.optimizers.SGD(0.05))
        y = [rng.normal(size=(7, 1)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, 7)]]
    else:
        outputs = model.output_shape[-1]
        model.compile("mse", gn.optimizers.SGD(0.05))
        y = rng.normal(size=(7, outputs)).astype("float32")
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    _check(model, x, tmp_path)


ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "elu", "selu", "leaky_relu",
               "softplus", "softsign", "swish", "silu", "hard_sigmoid", "hard_silu", "exponential", "relu6"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_activation(dtype, rng, tmp_path):
    from glassnet import ops
    layers = [L.Dense(5, activation=a, input_dim=3) for a in ACTIVATIONS]
    layers += [L.Dense(5, activation=ops.gelu, input_dim=3), L.Dense(5, activation=ops.leaky_relu, input_dim=3)]
    x = rng.normal(scale=3.0, size=(7, 3)).astype(dtype)
    for k, layer in enumerate(layers):
        model = gn.Sequential([layer], seed=k, dtype=dtype)
        model.build()
        if dtype == "float64" and layer.activation.name == "gelu":
            continue        # onnxruntime 1.32 has no float64 Erf kernel: test_exact_gelu_float64_file
        (tmp_path / str(k)).mkdir()
        _check(model, x, tmp_path / str(k), dtype)


def test_exact_gelu_float64_file(tmp_path):
    """The exact gelu is written with Erf in the model's dtype: a valid float64 file (onnxruntime
    1.32's CPU Erf takes float32 only, so this one is checked, not run)."""
    model = gn.Sequential([L.Dense(3, activation="gelu", input_dim=2)], dtype="float64")
    model.build()
    model.export(tmp_path / "m.onnx", format="onnx")
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(loaded, full_check=True)
    assert "Erf" in [n.op_type for n in loaded.graph.node]
    assert {t.data_type for t in loaded.graph.initializer} == {proto.DOUBLE}


def test_names_and_dynamic_batch(rng, tmp_path):
    model = _functional("float32")
    path, session = _exported(model, tmp_path)
    assert [i.name for i in session.get_inputs()] == ["features", "context"]
    assert [o.name for o in session.get_outputs()] == ["score", "probs"]
    assert session.get_inputs()[0].shape == ["batch", 6]
    assert session.get_outputs()[1].shape == ["batch", 3]
    loaded = onnx.load(str(path))
    assert loaded.opset_import[0].version == 17 and loaded.ir_version == 8
    assert loaded.producer_name == "glassnet"


def test_float32_stays_float32(tmp_path):
    path, _ = _exported(_conv2d("float32"), tmp_path)
    loaded = onnx.load(str(path))
    assert {t.data_type for t in loaded.graph.initializer} <= {proto.FLOAT, proto.INT64}


@pytest.mark.parametrize("make, words", [
    # (a stateful reader of its own is exported since session 46, its states in and out of the file:
    # tests/test_onnx_three.py; inside Bidirectional it is exported since session 47: tests/test_onnx_four.py)
    (lambda: gn.Sequential([L.Dense(2, activation="mish", input_dim=3)]), "activation 'mish'"),
    (lambda: gn.Sequential([L.Dense(2, input_dim=3), L.Activation("softmax"),
                            L.Dense(2, activation="sparsemax")]), "activation 'sparsemax'"),
    # (LayerNormalization(rms_scaling=True) is exported since session 47: tests/test_onnx_four.py)
    # (UpSampling2D(interpolation="bicubic") is exported since onnx6: tests/test_onnx_six.py)
    (lambda: gn.Sequential([gn.Input((3, 2), dtype="int32"), L.Embedding(5, 2, mask_zero=True),
                            L.TimeDistributed(L.GRU(2))]), "mask with axes within the steps"),
])
@pytest.mark.filterwarnings("ignore:LayerNormalization. rms_scaling=True is deprecated")
def test_unsupported_refused_before_writing(make, words, tmp_path):
    model = make()
    if not model.built:
        model.build()
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="export") as info:
        model.export(path, format="onnx")
    assert words in str(info.value)
    assert os.listdir(tmp_path) == []


def test_subclass_of_a_layer_refused(tmp_path):
    class MyDense(L.Dense):
        def forward(self, x, training=False):
            return super().forward(x, training) * 2

    model = gn.Sequential([MyDense(2, input_dim=3)])
    model.build()
    with pytest.raises(ValueError, match="MyDense"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(), ValueError, "'tf_saved_model' needs TensorFlow"),
    (dict(format="tf_saved_model"), ValueError, "'tf_saved_model' needs TensorFlow"),
    (dict(format="openvino"), ValueError, "'openvino' needs OpenVINO"),
    (dict(format="torch"), ValueError, "format must be 'onnx'"),
    (dict(format=1), TypeError, "format must be a str"),
    (dict(format="onnx", input_signature=[(None, 3)]), ValueError, "input_signature"),
    (dict(format="onnx", opset_version=13), ValueError, "opset_version must be None or 17"),
    (dict(format="onnx", dynamic=True), TypeError, "'dynamic'"),
    (dict(format="onnx", verbose="yes"), TypeError, "verbose"),
])
def test_options_refused(kwargs, error, words, tmp_path):
    model = _mlp("float32")
    model.build()
    with pytest.raises(error, match=words):
        model.export(tmp_path / "m.onnx", **kwargs)
    assert os.listdir(tmp_path) == []


def test_unbuilt_model_refused(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        gn.Sequential([L.Dense(2)]).export(tmp_path / "m.onnx", format="onnx")


def test_export_replaces_a_file_atomically(tmp_path, rng):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    model = _mlp("float32")
    model.build()
    model.export(str(path), format="onnx", verbose=False)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def test_encoder_fields_read_back_by_onnx():
    """Each message of glassnet's writer, parsed by onnx's own protobuf classes."""
    from onnx import numpy_helper
    for value in (0, 1, 127, 128, 300, 2 ** 40, -1, -300):
        attr = onnx.AttributeProto.FromString(proto.attribute("k", value))
        assert (attr.name, attr.i, attr.type) == ("k", value, onnx.AttributeProto.INT)
    attr = onnx.AttributeProto.FromString(proto.attribute("f", 0.25))
    assert (attr.f, attr.type) == (0.25, onnx.AttributeProto.FLOAT)
    attr = onnx.AttributeProto.FromString(proto.attribute("s", "constant"))
    assert (attr.s, attr.type) == (b"constant", onnx.AttributeProto.STRING)
    attr = onnx.AttributeProto.FromString(proto.attribute("ints", [0, -1, 3, 2 ** 33]))
    assert (list(attr.ints), attr.type) == ([0, -1, 3, 2 ** 33], onnx.AttributeProto.INTS)
    attr = onnx.AttributeProto.FromString(proto.attribute("floats", [0.5, -2.0]))
    assert (list(attr.floats), attr.type) == ([0.5, -2.0], onnx.AttributeProto.FLOATS)
    rng = np.random.default_rng(0)
    for array in (rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(4,)), np.arange(-3, 3, dtype=np.int64),
                  np.float32(1.5) * np.ones(()), rng.normal(size=(2, 0, 3)).astype(np.float32)):
        t = onnx.TensorProto.FromString(proto.tensor("w", array))
        back = numpy_helper.to_array(t)
        assert t.name == "w" and back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)
    n = onnx.NodeProto.FromString(proto.node("Conv", ["x", "w"], ["y"], "conv", strides=[2, 2], group=1))
    assert (list(n.input), list(n.output), n.name, n.op_type) == (["x", "w"], ["y"], "conv", "Conv")
    assert [(a.name, list(a.ints) or a.i) for a in n.attribute] == [("strides", [2, 2]), ("group", 1)]
    v = onnx.ValueInfoProto.FromString(proto.value_info("x", proto.DOUBLE, ["batch", 3, 4]))
    dims = v.type.tensor_type.shape.dim
    assert v.name == "x" and v.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert [(d.dim_param, d.dim_value) for d in dims] == [("batch", 0), ("", 3), ("", 4)]
    graph = proto.graph("g", [proto.node("Relu", ["x"], ["y"], "relu")], [proto.tensor("c", np.ones(2, np.float32))],
                        [proto.value_info("x", proto.FLOAT, ["n", 2])], [proto.value_info("y", proto.FLOAT, ["n", 2])])
    m = onnx.load_from_string(proto.model(graph, 17, 8, "9.9"))
    assert (m.ir_version, m.producer_name, m.producer_version) == (8, "glassnet", "9.9")
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 17)]
    assert m.graph.name == "g" and [n.op_type for n in m.graph.node] == ["Relu"]
    assert [i.name for i in m.graph.input] == ["x"] and [o.name for o in m.graph.output] == ["y"]
    assert [t.name for t in m.graph.initializer] == ["c"]
    onnx.checker.check_model(m, full_check=True)
    from glassnet._protobuf import varint
    assert varint(300) == bytes([0xAC, 0x02]) and varint(-1) == b"\xff" * 9 + b"\x01"


@pytest.mark.parametrize("name", ["conv2d", "pool2d", "conv1d", "functional"])
def test_against_keras(name, keras, rng, tmp_path):
    """Keras 3.15 reads the same model (glassnet's .keras file) and predicts what onnxruntime does:
    "same" padding's odd pixel after, average pooling without the padding, NHWC flattening."""
    make, shape = MODELS[name]
    model = make("float32")
    x = _inputs(rng, shape, "float32")
    model.save(tmp_path / "m.keras", save_format="keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    _, session = _exported(model, tmp_path)
    feed = dict(zip([i.name for i in session.get_inputs()], x if isinstance(x, list) else [x]))
    want = theirs.predict(x, verbose=0)
    want = want if isinstance(want, list) else [want]
    for got, w in zip(session.run(None, feed), want):
        np.testing.assert_allclose(got, np.asarray(w), rtol=1e-5, atol=1e-5)


def test_import_glassnet_leaves_the_exporter_out():
    """The exporter's modules load on the first export only (``import glassnet`` stays quick)."""
    import subprocess
    import sys
    code = "import sys, glassnet; print(sorted(m for m in sys.modules if 'onnx' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]"
