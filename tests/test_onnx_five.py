"""``model.export(path, format="onnx")`` of what session 47's onnx5 added: ``Resizing`` (every
interpolation, the aspect-ratio crop and pad, antialias), ``CenterCrop``, the adaptive poolings,
``DepthToSpace`` / ``SpaceToDepth``, ``ops.log1p`` / ``ops.expm1`` (accurate on tiny x),
``ops.softmax`` / ``log_softmax`` over several axes and models of dict inputs. Each file passes
onnx's checker (full_check) and onnxruntime equals glassnet's ``predict`` within 1e-5 relative
(float32) and 1e-10 (float64) on batches of 1 and 7; where Keras 3.15 has the layer or op, Keras'
``predict`` of the same model too."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import check as _check, exported as _exported  # noqa: E402

DTYPES = ["float32", "float64"]


def _model(layer, shape, dtype):
    return gn.Sequential([gn.Input(shape), layer], dtype=dtype)


def _against_keras(model, theirs, x, tmp_path, rtol=1e-5, atol=1e-5):
    """The file of ``model`` run on ``x`` equals Keras' ``theirs.predict(x)``."""
    _, session = _exported(model, tmp_path)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, np.asarray(theirs.predict(x, verbose=0)), rtol=rtol, atol=atol)


def _keras_model(k, layer, shape):
    return k.Sequential([k.Input(shape), layer])


# -- Resizing -------------------------------------------------------------------------------------
INTERPOLATIONS = ["bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5"]
RESIZES = [dict(), dict(crop_to_aspect_ratio=True), dict(pad_to_aspect_ratio=True, fill_value=0.5),
           dict(antialias=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("settings", RESIZES, ids=["plain", "crop", "pad", "antialias"])
@pytest.mark.parametrize("size", [(7, 5), (21, 30)], ids=["down", "up"])
def test_resizing(dtype, interpolation, settings, size, rng, tmp_path):
    model = _model(L.Resizing(*size, interpolation=interpolation, **settings), (10, 13, 3), dtype)
    _check(model, rng.normal(size=(7, 10, 13, 3)).astype(dtype), tmp_path, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_resizing_channels_first_and_same_size(dtype, rng, tmp_path):
    x = rng.normal(size=(7, 3, 10, 13)).astype(dtype)
    _check(_model(L.Resizing(6, 13, data_format="channels_first"), (3, 10, 13), dtype), x, tmp_path, dtype)
    # a resize to the image's own size is no resize: the file holds no matrix then
    path, _ = _exported(_model(L.Resizing(10, 13), (10, 13, 3), dtype), tmp_path, "same.onnx")
    assert not [n for n in onnx.load(str(path)).graph.node if n.op_type == "MatMul"]


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("settings", RESIZES, ids=["plain", "crop", "pad", "antialias"])
def test_resizing_against_keras(interpolation, settings, keras, rng, tmp_path):
    x = rng.uniform(size=(5, 10, 13, 3)).astype("float32")
    for size in ((7, 5), (21, 30)):
        model = _model(L.Resizing(*size, interpolation=interpolation, **settings), (10, 13, 3), "float32")
        theirs = _keras_model(keras, keras.layers.Resizing(*size, interpolation=interpolation, **settings), (10, 13, 3))
        _against_keras(model, theirs, x, tmp_path)


# -- CenterCrop -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(7, 5), (10, 13), (12, 5), (14, 20)], ids=["crop", "same", "taller", "larger"])
def test_center_crop(dtype, size, rng, tmp_path):
    _check(_model(L.CenterCrop(*size), (10, 13, 3), dtype), rng.normal(size=(7, 10, 13, 3)).astype(dtype),
           tmp_path, dtype)
    _check(_model(L.CenterCrop(*size, data_format="channels_first"), (3, 10, 13), dtype),
           rng.normal(size=(7, 3, 10, 13)).astype(dtype), tmp_path, dtype)


@pytest.mark.parametrize("size", [(7, 5), (12, 5), (14, 20)], ids=["crop", "taller", "larger"])
def test_center_crop_against_keras(size, keras, rng, tmp_path):
    x = rng.uniform(size=(5, 10, 13, 3)).astype("float32")
    _against_keras(_model(L.CenterCrop(*size), (10, 13, 3), "float32"),
                   _keras_model(keras, keras.layers.CenterCrop(*size), (10, 13, 3)), x, tmp_path)


# -- adaptive poolings ----------------------------------------------------------------------------
SPATIAL = {1: (7,), 2: (7, 5), 3: (4, 5, 6)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("output_size", [1, 3, 9])
def test_adaptive_pooling(dtype, kind, rank, output_size, rng, tmp_path):
    make = getattr(L, f"Adaptive{kind}Pooling{rank}D")
    shape = (*SPATIAL[rank], 2)
    _check(_model(make(output_size), shape, dtype), rng.normal(size=(7, *shape)).astype(dtype), tmp_path, dtype)
    first = (2, *SPATIAL[rank])
    _check(_model(make(output_size, data_format="channels_first"), first, dtype),
           rng.normal(size=(7, *first)).astype(dtype), tmp_path, dtype)


@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_pooling_against_keras(kind, rank, keras, rng, tmp_path):
    shape = (*SPATIAL[rank], 2)
    x = rng.normal(size=(5, *shape)).astype("float32")
    for output_size in (3, 9, tuple(range(2, 2 + rank))):
        output_size = output_size[0] if rank == 1 and isinstance(output_size, tuple) else output_size
        model = _model(getattr(L, f"Adaptive{kind}Pooling{rank}D")(output_size), shape, "float32")
        theirs = _keras_model(keras, getattr(keras.layers, f"Adaptive{kind}Pooling{rank}D")(output_size), shape)
        _against_keras(model, theirs, x, tmp_path)


# -- DepthToSpace / SpaceToDepth ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block", [2, 3])
def test_depth_to_space_and_back(dtype, block, rng, tmp_path):
    x = rng.normal(size=(7, 4, 5, block * block * 2)).astype(dtype)
    _check(_model(L.DepthToSpace(block), x.shape[1:], dtype), x, tmp_path, dtype)
    y = rng.normal(size=(7, 2 * block, 3 * block, 2)).astype(dtype)
    _check(_model(L.SpaceToDepth(block), y.shape[1:], dtype), y, tmp_path, dtype)


def test_depth_to_space_of_any_size(rng, tmp_path):
    """Images of any size (None): ONNX's operators read the sizes as they come."""
    _, session = _exported(gn.Sequential([gn.Input((None, None, 8)), L.DepthToSpace(2)]), tmp_path)
    back = gn.Sequential([gn.Input((None, None, 2)), L.SpaceToDepth(2)])
    _, session_back = _exported(back, tmp_path, "back.onnx")
    for h, w in ((3, 4), (6, 1)):
        x = rng.normal(size=(2, h, w, 8)).astype("float32")
        y = session.run(None, {session.get_inputs()[0].name: x})[0]
        np.testing.assert_array_equal(y, gn.layers.depth_space.depth_to_space(x, 2))
        np.testing.assert_array_equal(session_back.run(None, {session_back.get_inputs()[0].name: y})[0], x)


@pytest.mark.parametrize("block", [2, 3])
def test_depth_to_space_against_keras(block, keras, rng, tmp_path):
    """Against keras.ops (Keras has no such layers), TensorFlow's channel order."""
    x = rng.normal(size=(3, 4, 5, block * block * 2)).astype("float32")
    _, session = _exported(_model(L.DepthToSpace(block), x.shape[1:], "float32"), tmp_path)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(keras.ops.depth_to_space(x, block)))
    _, session = _exported(_model(L.SpaceToDepth(block), got.shape[1:], "float32"), tmp_path, "s.onnx")
    again = session.run(None, {session.get_inputs()[0].name: got})[0]
    np.testing.assert_array_equal(again, keras.ops.convert_to_numpy(keras.ops.space_to_depth(got, block)))


# -- ops.log1p / ops.expm1 ------------------------------------------------------------------------
TINY = [0.0, 1e-30, -1e-30, 1e-20, -1e-20, 1e-10, -1e-10, 3e-8, -3e-8, 1e-7, -1e-7, 4e-6, -4e-6,
        3e-4, -3e-4, 1e-3, -1e-3, 1e-38]
LARGER = [0.5, -0.5, 2.0, -0.9, 10.0, 50.0, -50.0, 80.0, -80.0, 1e30, -0.999999, 1e-45, -1e-45]


def _op_model(name, dtype, n):
    x = gn.Input((n,))
    return gn.Model(x, getattr(gn.ops, name)(x), dtype=dtype)


def _run(model, x, tmp_path):
    _, session = _exported(model, tmp_path)
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["log1p", "expm1"])
def test_log1p_expm1_keep_tiny_digits(name, dtype, tmp_path):
    values = np.array(TINY + LARGER, np.float64)
    x = np.stack([values, -values[::-1]]).astype(dtype)
    with np.errstate(all="ignore"):
        x = x[:, np.isfinite(getattr(np, name)(x)).all(axis=0)]
    model = _op_model(name, dtype, x.shape[1])
    got, want = _run(model, x, tmp_path), model.predict(x, verbose=0)
    assert got.dtype == np.dtype(dtype)
    # relative to each value, tiny x included: the naive log(1 + x) is 0 (or off by ~1e-1) there
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-12, atol=0)
    _check(model, np.repeat(x, 4, axis=0)[:7], tmp_path, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["log1p", "expm1"])
def test_log1p_expm1_of_non_finite_and_edges(name, dtype, tmp_path):
    """inf, -inf, NaN, -1 and below: what NumPy's (glassnet's forward) gives; predict refuses such
    data, so the node's own forward is the oracle."""
    x = np.array([[np.inf, -np.inf, np.nan, -1.0, -2.0, 0.0, -0.0, 1e300 if dtype == "float64" else 1e38]], dtype)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x)
    got = _run(_op_model(name, dtype, x.shape[1]), x, tmp_path)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-12, atol=0)   # NaN where NaN


@pytest.mark.parametrize("name", ["log1p", "expm1"])
def test_log1p_expm1_against_keras(name, keras, tmp_path):
    # (without the subnormal 1e-38: TensorFlow's kernels flush it to zero)
    x = np.array([[v for v in TINY if v != 1e-38] + [0.5, -0.5, 2.0, -0.9, 10.0]], np.float32)
    got = _run(_op_model(name, "float32", x.shape[1]), x, tmp_path)
    want = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


# -- softmax / log_softmax over several axes ------------------------------------------------------
AXES = [(1, 2), (-1, -3), (1, 2, 3), (2, -1)]


def _softmax_model(op, axis, dtype):
    x = gn.Input((3, 4, 5))
    return gn.Model(x, getattr(gn.ops, op)(x, axis=axis), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", AXES)
def test_softmax_over_several_axes(op, axis, dtype, rng, tmp_path):
    x = (rng.normal(size=(7, 3, 4, 5)) * 4).astype(dtype)
    _check(_softmax_model(op, axis, dtype), x, tmp_path, dtype)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", AXES)
def test_softmax_over_several_axes_against_keras(op, axis, keras, rng, tmp_path):
    x = (rng.normal(size=(5, 3, 4, 5)) * 4).astype("float32")
    got = _run(_softmax_model(op, axis, "float32"), x, tmp_path)
    # (Keras 3.15's TensorFlow softmax over negative axes transposes wrongly: its axes given >= 0)
    want = keras.ops.convert_to_numpy(getattr(keras.ops, op)(x, axis=tuple(a % 4 for a in axis)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# -- dict inputs ----------------------------------------------------------------------------------
def _dict_model(module, dtype=None, names=("in_a", "in_b")):
    a, b = module.Input((3,), name=names[0]), module.Input((2,), name=names[1])
    joined = module.layers.Concatenate()([a, module.layers.Dense(3, activation="tanh")(b)])
    # the keys not in sorted order, nor the Inputs' names: the file is keyed by the dict's keys
    return module.Model({"zeta": a, "alpha": b}, module.layers.Dense(2)(joined),
                        **({"dtype": dtype} if dtype else {}))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dict_inputs(dtype, rng, tmp_path):
    model = _dict_model(gn, dtype)
    _, session = _exported(model, tmp_path)
    assert [i.name for i in session.get_inputs()] == ["alpha", "zeta"]
    for n in (1, 7):
        data = {"zeta": rng.normal(size=(n, 3)).astype(dtype), "alpha": rng.normal(size=(n, 2)).astype(dtype)}
        got = session.run(None, data)[0]
        tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got, model.predict(data, verbose=0), **tolerance)


def test_dict_inputs_against_keras(keras, rng, tmp_path):
    model = _dict_model(gn)
    theirs = _dict_model(keras, names=("zeta", "alpha"))       # (Keras warns of keys unlike the names)
    theirs.set_weights(model.get_weights())
    data = {"zeta": rng.normal(size=(5, 3)).astype("float32"), "alpha": rng.normal(size=(5, 2)).astype("float32")}
    _, session = _exported(model, tmp_path)
    np.testing.assert_allclose(session.run(None, data)[0], theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-6)


# (open sizes, which onnx5 refused, are exported since onnx6: tests/test_onnx_six.py)
