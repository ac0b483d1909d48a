"""``model.export(path, format="onnx")`` of what session 48's onnx6 added: ``Resizing`` (every
interpolation and setting), ``CenterCrop``, ``RandomCrop`` (its inference resize), the adaptive
poolings, ``UpSampling1D/2D/3D`` and ``Cropping1D/2D/3D`` over images (sequences, volumes) of any
size, an Input's None: one file run at several sizes; UpSampling2D's every interpolation in float32
and float64; fixed-size resizes as Gather taps (no dense matrix); ``ReversibleEmbedding`` and
``SpectralNormalization``, ``AutoContrast``, which export refused before. Each file passes onnx's checker
(full_check) and onnxruntime equals glassnet's ``predict`` within 1e-5 relative (float32) and 1e-10
(float64); the taps the graph works out equal glassnet's weights bit for bit; where Keras 3.15
has the layer, Keras' ``predict`` too (within 1e-5)."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers
onnx = pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, check as _check, exported as _exported  # noqa: E402

DTYPES = ["float32", "float64"]
INTERPOLATIONS = ["bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5"]


def _model(layer, shape, dtype="float32"):
    return gn.Sequential([gn.Input(shape), layer], dtype=dtype)


def _at_sizes(model, samples, tmp_path, dtype, rng):
    """One file of ``model`` run on batches of 1 and 3 of each sample shape in ``samples``: equal
    to ``predict`` (shapes and values); returns the session."""
    _, session = _exported(model, tmp_path)
    name = session.get_inputs()[0].name
    for sample in samples:
        x = rng.normal(size=(3, *sample)).astype(dtype)
        for rows in (slice(0, 1), slice(0, 3)):
            got = session.run(None, {name: x[rows]})[0]
            want = model.predict(x[rows], verbose=0)
            assert got.dtype == np.dtype(dtype) and got.shape == want.shape
            np.testing.assert_allclose(got, want, **TOLERANCES[dtype])
    return session


def _against_keras(model, theirs, samples, tmp_path, rng):
    """The one file of ``model`` equals Keras' ``predict`` at each sample shape (uniform pixels):
    ``theirs`` a Keras model of open sizes, or a function of the sample shape giving a Keras model
    of that shape (Keras 3.15's adaptive poolings and resizing UpSampling2D need static sizes, and
    its CenterCrop over open sizes crops an image smaller than the window otherwise than it does
    at fixed sizes)."""
    _, session = _exported(model, tmp_path)
    for sample in samples:
        x = rng.uniform(size=(2, *sample)).astype("float32")
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        keras_model = theirs(sample) if callable(theirs) and not hasattr(theirs, "predict") else theirs
        np.testing.assert_allclose(got, np.asarray(keras_model.predict(x, verbose=0)), rtol=1e-5, atol=1e-5)


# -- the taps the graph works out, against glassnet's own weights ---------------------------------
def _runtime_weights(interpolation, n, out, antialias, bilinear_float32=True):
    """The (out, n) weight matrix of ``_onnx_resize.runtime_taps`` run by onnxruntime for an axis
    of n pixels (a float64 graph: the float32 weights cast, as glassnet's)."""
    from glassnet import _onnx_proto as proto
    from glassnet import _onnx_resize as resize
    from glassnet._onnx_graph import Builder
    from glassnet.layers.resample import weight_matrix
    b = Builder("float64")
    length = resize.axis_length(b, "x", 0)
    indices, weights, _ = resize.runtime_taps(b, interpolation, length, out, antialias, bilinear_float32)
    outputs = [indices] + ([weights] if weights is not None else [])
    types = [proto.ELEM_TYPES[np.dtype(np.int64)], proto.ELEM_TYPES[np.dtype(np.float64)]]
    graph = proto.graph("taps", b.nodes, b.initializers, [proto.value_info("x", types[1], ["n"])],
                        [proto.value_info(o, t, None) for o, t in zip(outputs, types)])
    session = ort.InferenceSession(proto.model(graph, 17, 8, "test"), providers=["CPUExecutionProvider"])
    found = session.run(None, {"x": np.zeros(n)})
    assert found[0].min() >= 0 and found[0].max() < n          # clipped to the axis
    return weight_matrix(out, n, (found[0], found[1] if weights is not None else np.ones(found[0].shape)))


LENGTHS = [(1, 5), (5, 1), (2, 7), (10, 7), (13, 5), (10, 21), (37, 7), (26, 11), (11, 26), (64, 3), (3, 64),
           (100, 33)]


@pytest.mark.parametrize("antialias", [False, True], ids=["plain", "antialias"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_runtime_taps_are_glassnets_weights(interpolation, antialias):
    """Bit for bit: the same float32 steps (a tie of "nearest" at 26 -> 11, the bicubic table,
    the kernels' sines, the normalising sums, antialias' widened reach)."""
    from glassnet.layers.resizing import axis_weights
    for n, out in LENGTHS:
        np.testing.assert_array_equal(_runtime_weights(interpolation, n, out, antialias),
                                      axis_weights(interpolation, out, n, antialias), err_msg=f"{n} -> {out}")


def test_runtime_bilinear_taps_in_float64_positions_are_upsamplings():
    from glassnet.layers.resample import weight_matrix
    from glassnet.layers.resizing import bilinear_taps
    for n, factor in ((1, 3), (5, 2), (7, 3), (13, 4)):
        np.testing.assert_array_equal(_runtime_weights("bilinear", n, n * factor, False, bilinear_float32=False),
                                      weight_matrix(n * factor, n, bilinear_taps(n * factor, n)))


# -- Resizing -------------------------------------------------------------------------------------
RESIZES = [dict(), dict(crop_to_aspect_ratio=True), dict(pad_to_aspect_ratio=True, fill_value=0.5),
           dict(antialias=True)]
SAMPLES = [(10, 13, 3), (37, 13, 3), (4, 13, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("settings", RESIZES, ids=["plain", "crop", "pad", "antialias"])
@pytest.mark.parametrize("size", [(7, 5), (21, 30)], ids=["down", "up"])
def test_resizing_any_size(dtype, interpolation, settings, size, rng, tmp_path):
    layer = L.Resizing(*size, interpolation=interpolation, **settings)
    _at_sizes(_model(layer, (None, None, 3), dtype), SAMPLES, tmp_path, dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("settings", RESIZES, ids=["plain", "crop", "pad", "antialias"])
def test_resizing_one_open_axis_and_channels_first(dtype, settings, rng, tmp_path):
    """The fixed width keeps constant taps unless the aspect ratio ties it to the open height."""
    _at_sizes(_model(L.Resizing(6, 9, interpolation="bicubic", **settings), (None, 13, 3), dtype), SAMPLES,
              tmp_path, dtype, rng)
    first = L.Resizing(6, 9, **settings, data_format="channels_first")
    _at_sizes(_model(first, (3, None, None), dtype), [(3, 10, 13), (3, 5, 31)], tmp_path, dtype, rng)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("settings", RESIZES, ids=["plain", "crop", "pad", "antialias"])
def test_resizing_any_size_against_keras(interpolation, settings, keras, rng, tmp_path):
    for size in ((7, 5), (21, 30)):
        model = _model(L.Resizing(*size, interpolation=interpolation, **settings), (None, None, 3))
        theirs = keras.Sequential([keras.Input((None, None, 3)),
                                   keras.layers.Resizing(*size, interpolation=interpolation, **settings)])
        _against_keras(model, theirs, SAMPLES[:2], tmp_path, rng)


def test_fixed_resizes_are_taps_not_matrices(rng, tmp_path):
    """A 512 x 512 image resized to 1024 x 768: the file holds each axis' taps (out x 2 indices and
    weights, the columns' weights repeated over the 3 channels), not (out, in) matrices (3.7 MB in
    float32), and no MatMul; a same-size resize no node."""
    model = _model(L.Resizing(1024, 768), (512, 512, 3))
    path, session = _exported(model, tmp_path)
    graph = onnx.load(str(path)).graph
    assert not [n for n in graph.node if n.op_type == "MatMul"]
    assert sum(int(np.prod(t.dims)) for t in graph.initializer) <= 2 * 2 * 1024 + 2 * 768 * (1 + 3) + 8
    x = rng.uniform(size=(1, 512, 512, 3)).astype("float32")
    np.testing.assert_allclose(session.run(None, {"input_layer": x})[0], model.predict(x, verbose=0),
                               **TOLERANCES["float32"])
    path, _ = _exported(_model(L.Resizing(10, 13), (10, 13, 3)), tmp_path, "same.onnx")
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == ["Identity", "Identity"]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
def test_crop_box_of_the_target_size(interpolation, rng, tmp_path):
    """A crop's box that starts at row 0 but is one row short of the image (10 -> 9 rows kept for
    a 9 x 13 target), already of the target's size: sliced to the box, not left whole (found
    while building: the file gave 10 rows). Against predict and Keras 3.15."""
    for dtype in DTYPES:
        layer = L.Resizing(9, 13, interpolation=interpolation, crop_to_aspect_ratio=True)
        _at_sizes(_model(layer, (10, 13, 3), dtype), [(10, 13, 3)], tmp_path, dtype, rng)
    _at_sizes(_model(L.RandomCrop(9, 13), (10, 13, 3)), [(10, 13, 3)], tmp_path, "float32", rng)


def test_crop_box_of_the_target_size_against_keras(keras, rng, tmp_path):
    theirs = keras.Sequential([keras.Input((10, 13, 3)), keras.layers.Resizing(9, 13, crop_to_aspect_ratio=True)])
    _against_keras(_model(L.Resizing(9, 13, crop_to_aspect_ratio=True), (10, 13, 3)), theirs, [(10, 13, 3)],
                   tmp_path, rng)


# -- CenterCrop and RandomCrop --------------------------------------------------------------------
CROP_SAMPLES = [(10, 13, 3), (30, 8, 3), (7, 40, 3), (16, 25, 3), (3, 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(7, 5), (10, 13), (12, 5), (14, 20)], ids=["crop", "same", "taller", "larger"])
def test_center_crop_any_size(dtype, size, rng, tmp_path):
    """Crops where the image holds the window, resizes from the centred box where it does not:
    decided per size as the file runs."""
    _at_sizes(_model(L.CenterCrop(*size), (None, None, 3), dtype), CROP_SAMPLES, tmp_path, dtype, rng)
    first = _model(L.CenterCrop(*size, data_format="channels_first"), (3, None, None), dtype)
    _at_sizes(first, [(3, 10, 13), (3, 30, 8)], tmp_path, dtype, rng)


def test_center_crop_any_size_against_keras(keras, rng, tmp_path):
    for size in ((7, 5), (12, 5), (14, 20)):
        theirs = lambda sample: keras.Sequential([keras.Input(sample), keras.layers.CenterCrop(*size)])  # noqa: E731
        _against_keras(_model(L.CenterCrop(*size), (None, None, 3)), theirs, CROP_SAMPLES[:4], tmp_path, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(7, 5), (10, 13), (21, 30)], ids=["smaller", "same", "larger"])
def test_random_crop_at_inference(dtype, size, rng, tmp_path):
    """glassnet's RandomCrop resizes from the centred box at inference (Keras 3.15 returns the
    images uncropped there, against its docs: no Keras oracle); fixed and open sizes."""
    _at_sizes(_model(L.RandomCrop(*size, seed=1), (None, None, 3), dtype), CROP_SAMPLES[:4], tmp_path, dtype, rng)
    _at_sizes(_model(L.RandomCrop(*size, seed=1), (10, 13, 3), dtype), [(10, 13, 3)], tmp_path, dtype, rng)
    first = _model(L.RandomCrop(*size, data_format="channels_first"), (3, None, 13), dtype)
    _at_sizes(first, [(3, 10, 13), (3, 4, 13)], tmp_path, dtype, rng)


def test_random_crop_equals_resizing_with_crop(rng, tmp_path):
    """The hand-derived rule: RandomCrop's inference is Resizing(crop_to_aspect_ratio=True)."""
    x = rng.uniform(size=(2, 17, 9, 3)).astype("float32")
    _, session = _exported(_model(L.RandomCrop(6, 8), (None, None, 3)), tmp_path)
    want = _model(L.Resizing(6, 8, crop_to_aspect_ratio=True), (17, 9, 3)).predict(x, verbose=0)
    np.testing.assert_allclose(session.run(None, {"input_layer": x})[0], want, **TOLERANCES["float32"])


# -- adaptive poolings ----------------------------------------------------------------------------
POOL_SAMPLES = {1: [(7, 2), (3, 2), (20, 2)], 2: [(7, 5, 2), (2, 11, 2)], 3: [(4, 5, 6, 2), (9, 1, 3, 2)]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("output_size", [1, 3, 9])
def test_adaptive_pooling_any_size(dtype, kind, rank, output_size, rng, tmp_path):
    """Windows worked out from the sizes the file runs: fewer and more outputs than pixels."""
    make = getattr(L, f"Adaptive{kind}Pooling{rank}D")
    _at_sizes(_model(make(output_size), (*[None] * rank, 2), dtype), POOL_SAMPLES[rank], tmp_path, dtype, rng)
    first = _model(make(output_size, data_format="channels_first"), (2, *[None] * rank), dtype)
    _at_sizes(first, [(2, *s[:-1]) for s in POOL_SAMPLES[rank]], tmp_path, dtype, rng)


def test_adaptive_pooling_one_open_axis(rng, tmp_path):
    model = _model(L.AdaptiveAveragePooling2D((3, 4)), (None, 6, 2), "float64")
    _at_sizes(model, [(7, 6, 2), (2, 6, 2)], tmp_path, "float64", rng)


@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_pooling_any_size_against_keras(kind, rank, keras, rng, tmp_path):
    for output_size in (3, 9):
        model = _model(getattr(L, f"Adaptive{kind}Pooling{rank}D")(output_size), (*[None] * rank, 2))
        theirs = lambda sample: keras.Sequential([keras.Input(sample),  # noqa: E731
                                                  getattr(keras.layers, f"Adaptive{kind}Pooling{rank}D")(output_size)])
        # (Keras 3.15's 3-D poolings fail on an axis of 1 pixel pooled into 3: "Negative dimension size")
        samples = POOL_SAMPLES[rank] if rank < 3 else [(4, 5, 6, 2), (9, 3, 7, 2)]
        _against_keras(model, theirs, samples, tmp_path, rng)


# -- UpSampling and Cropping ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_upsampling2d_every_interpolation(dtype, interpolation, rng, tmp_path):
    """Fixed and open sizes, channels last and first; float64 too (glassnet's taps, where ONNX's
    Resize had no float64 kernel)."""
    layer = lambda **kw: L.UpSampling2D((2, 3), interpolation=interpolation, **kw)      # noqa: E731
    _at_sizes(_model(layer(), (5, 7, 3), dtype), [(5, 7, 3)], tmp_path, dtype, rng)
    _at_sizes(_model(layer(), (None, None, 3), dtype), [(5, 7, 3), (2, 1, 3)], tmp_path, dtype, rng)
    first = _model(layer(data_format="channels_first"), (3, None, None), dtype)
    _at_sizes(first, [(3, 5, 7), (3, 1, 2)], tmp_path, dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
def test_upsampling_and_cropping_any_size(dtype, rng, tmp_path):
    _at_sizes(_model(L.UpSampling1D(3), (None, 3), dtype), [(5, 3), (1, 3)], tmp_path, dtype, rng)
    _at_sizes(_model(L.UpSampling3D((2, 1, 3)), (None, 4, None, 2), dtype), [(3, 4, 2, 2), (1, 4, 5, 2)],
              tmp_path, dtype, rng)
    _at_sizes(_model(L.Cropping1D((1, 2)), (None, 3), dtype), [(5, 3), (9, 3)], tmp_path, dtype, rng)
    _at_sizes(_model(L.Cropping2D(((1, 0), (2, 3))), (None, None, 3), dtype), [(5, 7, 3), (9, 6, 3)],
              tmp_path, dtype, rng)
    first = L.Cropping3D(((0, 1), (1, 1), (0, 0)), data_format="channels_first")
    _at_sizes(_model(first, (2, None, None, None), dtype), [(2, 5, 7, 3), (2, 2, 3, 1)], tmp_path, dtype, rng)


def test_upsampling_and_cropping_against_keras(keras, rng, tmp_path):
    for interpolation in INTERPOLATIONS:
        theirs = lambda sample: keras.Sequential([keras.Input(sample),  # noqa: E731
                                                  keras.layers.UpSampling2D((2, 3), interpolation=interpolation)])
        model = _model(L.UpSampling2D((2, 3), interpolation=interpolation), (None, None, 3))
        _against_keras(model, theirs, [(5, 7, 3), (2, 1, 3)], tmp_path, rng)
    theirs = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Cropping2D(((1, 0), (2, 3))),
                               keras.layers.UpSampling2D(2)])         # (nearest: Keras takes open sizes)
    model = gn.Sequential([gn.Input((None, None, 3)), L.Cropping2D(((1, 0), (2, 3))), L.UpSampling2D(2)])
    _against_keras(model, theirs, [(5, 7, 3), (9, 6, 3)], tmp_path, rng)


# -- ReversibleEmbedding --------------------------------------------------------------------------
def _language_model(lib, tie, cap, dtype=None):
    """ids -> ReversibleEmbedding lookup -> Dense -> the same layer reversed onto the vocabulary
    (Keras' language-model pattern), drawn with ``lib`` (glassnet or keras)."""
    ids = lib.Input((None,), dtype="int32", name="ids")
    embedding = lib.layers.ReversibleEmbedding(20, 6, tie_weights=tie, logit_soft_cap=cap)
    hidden = lib.layers.Dense(6, activation="tanh")(embedding(ids))
    kwargs = {"dtype": dtype} if dtype else {}
    return lib.Model(ids, embedding(hidden, reverse=True), **kwargs)


SETTINGS = [(True, None), (False, None), (True, 2.5), (False, 30.0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tie, cap", SETTINGS, ids=["tied", "untied", "tied-cap", "untied-cap"])
def test_reversible_embedding(dtype, tie, cap, rng, tmp_path):
    """Its lookup and its reverse call (one layer called both ways), any number of steps."""
    model = _language_model(gn, tie, cap, dtype)
    model.set_weights([rng.normal(size=w.shape).astype(dtype) for w in model.get_weights()])
    _, session = _exported(model, tmp_path)
    for steps in (3, 8):
        ids = rng.integers(0, 20, size=(7, steps))
        for rows in (slice(0, 1), slice(0, 7)):
            got = session.run(None, {"ids": ids[rows]})[0]
            want = model.predict(ids[rows].astype("int32"), verbose=0)
            assert got.dtype == np.dtype(dtype) and got.shape == want.shape == (len(ids[rows]), steps, 20)
            np.testing.assert_allclose(got, want, **TOLERANCES[dtype])


@pytest.mark.parametrize("tie, cap", SETTINGS, ids=["tied", "untied", "tied-cap", "untied-cap"])
def test_reversible_embedding_against_keras(tie, cap, keras, rng, tmp_path):
    model = _language_model(gn, tie, cap)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    theirs = _language_model(keras, tie, cap)
    theirs.set_weights(model.get_weights())
    _, session = _exported(model, tmp_path)
    for steps in (3, 8):
        ids = rng.integers(0, 20, size=(4, steps))
        np.testing.assert_allclose(session.run(None, {"ids": ids})[0], theirs.predict(ids, verbose=0),
                                   rtol=1e-5, atol=1e-5)


# -- SpectralNormalization ------------------------------------------------------------------------
def _spectral(lib, dtype=None):
    SN = lib.layers.SpectralNormalization
    layers = [lib.Input((6, 6, 2)), SN(lib.layers.Conv2D(3, 3, activation="relu")), lib.layers.Flatten(),
              SN(lib.layers.Dense(4), power_iterations=2)]
    return gn.Sequential(layers, dtype=dtype, seed=0) if lib is gn else lib.Sequential(layers)


@pytest.mark.parametrize("dtype", DTYPES)
def test_spectral_normalization_after_training(dtype, rng, tmp_path):
    """At inference its layer with the kernel as training left it (divided by its estimated
    largest singular value)."""
    model = _spectral(gn, dtype)
    model.compile(loss="mse", optimizer="sgd")
    x = rng.normal(size=(7, 6, 6, 2)).astype(dtype)
    model.fit(x, rng.normal(size=(7, 4)).astype(dtype), epochs=2, verbose=0)
    _check(model, x, tmp_path, dtype)


def test_spectral_normalization_against_keras(keras, rng, tmp_path):
    model = _spectral(gn, "float32")
    model.compile(loss="mse", optimizer="sgd")
    x = rng.normal(size=(7, 6, 6, 2)).astype("float32")
    model.fit(x, rng.normal(size=(7, 4)).astype("float32"), epochs=2, verbose=0)
    theirs = _spectral(keras)
    theirs.set_weights(model.get_weights())         # (Keras' order: kernel, vector_u, bias)
    _, session = _exported(model, tmp_path)
    np.testing.assert_allclose(session.run(None, {"input_layer": x})[0], theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


# -- AutoContrast ---------------------------------------------------------------------------------
def _contrast_images(rng, shape, dtype, flat_axis=-1):
    """Images of values in [0, 100) with image 1's first channel flat (one value: kept as it is)."""
    x = (rng.uniform(size=(4, *shape)) * 100).astype(dtype)
    index = [1, slice(None), slice(None), slice(None)]
    index[flat_axis] = 0
    x[tuple(index)] = 7.0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_auto_contrast(dtype, rng, tmp_path):
    """Stretched at inference too; fixed and open sizes, channels first, a flat channel kept."""
    for value_range, shape in (((0, 255), (None, None, 3)), ((0, 1), (5, 6, 2))):
        model = _model(L.AutoContrast(value_range=value_range), shape, dtype)
        _, session = _exported(model, tmp_path)
        for sample in ((5, 6, 3), (9, 4, 3)) if shape[0] is None else (shape,):
            x = _contrast_images(rng, sample, dtype)
            np.testing.assert_allclose(session.run(None, {"input_layer": x})[0], model.predict(x, verbose=0),
                                       **TOLERANCES[dtype])
    first = _model(L.AutoContrast(value_range=(-1, 1), data_format="channels_first"), (3, None, None), dtype)
    _, session = _exported(first, tmp_path, "first.onnx")
    x = _contrast_images(rng, (3, 5, 6), dtype, flat_axis=1)
    np.testing.assert_allclose(session.run(None, {"input_layer": x})[0], first.predict(x, verbose=0),
                               **TOLERANCES[dtype])


def test_auto_contrast_against_keras(keras, rng, tmp_path):
    for value_range in ((0, 255), (0, 1)):
        model = _model(L.AutoContrast(value_range=value_range), (None, None, 3))
        theirs = lambda sample: keras.Sequential([keras.Input(sample),  # noqa: E731
                                                  keras.layers.AutoContrast(value_range=value_range)])
        _, session = _exported(model, tmp_path)
        for sample in ((5, 6, 3), (9, 4, 3)):
            x = _contrast_images(rng, sample, "float32")
            np.testing.assert_allclose(session.run(None, {"input_layer": x})[0],
                                       theirs(sample).predict(x, verbose=0), rtol=1e-5, atol=1e-5)


# -- float64 convolutions and average poolings over open sizes (window slices) --------------------
WINDOWS = {
    "conv1d": ((None, 3), lambda: [L.Conv1D(4, 3)], [(9, 3), (5, 3)]),
    "conv1d_causal_dilated": ((None, 3), lambda: [L.Conv1D(4, 3, padding="causal", dilation_rate=2)], [(9, 3), (5, 3)]),
    "conv1d_same": ((None, 3), lambda: [L.Conv1D(4, 3, padding="same")], [(9, 3), (4, 3)]),
    "conv1d_strides": ((None, 3), lambda: [L.Conv1D(4, 3, strides=2)], [(9, 3), (6, 3)]),
    "conv2d_strides": ((None, None, 2), lambda: [L.Conv2D(3, (2, 3), strides=(1, 2), activation="relu")],
                       [(7, 9, 2), (4, 5, 2)]),
    "conv2d_same_dilated": ((None, None, 2), lambda: [L.Conv2D(3, 3, padding="same", dilation_rate=2)],
                            [(7, 9, 2), (5, 6, 2)]),
    "conv2d_channels_first": ((2, None, None), lambda: [L.Conv2D(3, 2, data_format="channels_first")],
                              [(2, 7, 9), (2, 3, 4)]),
    "conv3d": ((None, None, None, 2), lambda: [L.Conv3D(2, 2)], [(3, 4, 5, 2), (4, 3, 3, 2)]),
    "average1d": ((None, 3), lambda: [L.AveragePooling1D(2)], [(9, 3), (6, 3)]),
    "average1d_same": ((None, 3), lambda: [L.AveragePooling1D(3, strides=1, padding="same")], [(9, 3), (4, 3)]),
    "average2d_strides": ((None, None, 3), lambda: [L.AveragePooling2D((2, 3), strides=(1, 2))], [(7, 9, 3), (4, 5, 3)]),
    "average2d_same": ((None, None, 3), lambda: [L.AveragePooling2D(3, strides=1, padding="same")],
                       [(7, 9, 3), (4, 5, 3)]),
    "depthwise1d": ((None, 3), lambda: [L.DepthwiseConv1D(3)], [(9, 3), (5, 3)]),
    "separable1d_same": ((None, 3), lambda: [L.SeparableConv1D(2, 2, padding="same")], [(9, 3), (5, 3)]),
    "depthwise2d": ((None, None, 3), lambda: [L.DepthwiseConv2D(2, depth_multiplier=2)], [(7, 9, 3), (4, 5, 3)]),
    "separable2d_same": ((None, None, 3), lambda: [L.SeparableConv2D(4, 3, padding="same", depth_multiplier=2)],
                         [(7, 9, 3), (4, 5, 3)]),
}


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_float64_window_slices_over_open_sizes(name, rng, tmp_path):
    """onnxruntime has no float64 Conv or AveragePool: the window slices, their ends counted from
    the axis' end, take any size ("same" with strides, whose pads need the size, stays refused)."""
    shape, make, samples = WINDOWS[name]
    model = gn.Sequential([gn.Input(shape), *make()], dtype="float64")
    for layer in model.layers:
        for value in layer.params.values():
            value[...] += rng.normal(scale=0.3, size=value.shape)
    _at_sizes(model, samples, tmp_path, "float64", rng)


def test_float64_window_slices_against_keras(keras, rng, tmp_path):
    """The float64 file against Keras 3.15's float32 model of the same weights (1e-5)."""
    def make(lib):
        return [lib.layers.Conv2D(3, 3, padding="same", activation="relu"),
                lib.layers.AveragePooling2D(3, strides=1, padding="same"), lib.layers.DepthwiseConv2D(2)]
    model = gn.Sequential([gn.Input((None, None, 2)), *make(gn)], dtype="float64")
    weights = [rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()]
    model.set_weights(weights)
    theirs = keras.Sequential([keras.Input((None, None, 2)), *make(keras)])
    theirs.set_weights([w.astype("float32") for w in weights])
    _, session = _exported(model, tmp_path)
    for sample in ((7, 9, 2), (4, 5, 2)):
        x = rng.normal(size=(2, *sample))
        np.testing.assert_allclose(session.run(None, {"input_layer": x})[0],
                                   theirs.predict(x.astype("float32"), verbose=0), rtol=1e-5, atol=1e-5)
