"""keras.ops' arctan2, glu, threshold, sparsemax, the Fourier transforms (fft, fft2, ifft2, rfft,
irfft) on arrays and tensors, and the array-only nonzero, count_nonzero, median, quantile, scatter,
scatter_update, adaptive_average_pool and adaptive_max_pool: values and dtypes against Keras 3.15 on
TensorFlow, node gradients against float64 finite differences and PyTorch autograd, an FNet block
and a model of glu/sparsemax/arctan2/threshold training as Keras'."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_layer
from glassnet.layers.tensor_functions import TensorFunction


def _data(dtype, shape, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "i":
        return rng.integers(-5, 6, shape).astype(dtype)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _close(ours, theirs, dtype):
    theirs = np.asarray(theirs)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * max(1.0, float(np.abs(theirs).max(initial=0))))


def _shapes(seed, count=6, low=1, high=4):
    rng = np.random.default_rng(seed)
    return [tuple(int(n) for n in rng.integers(2, 6, rng.integers(low, high + 1))) for _ in range(count)]


# -- arrays against Keras 3.15 ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_arctan2_threshold_glu_on_arrays_are_keras(dtype, keras):
    for k, shape in enumerate(_shapes(1)):
        a, b = _data(dtype, shape, k), _data(dtype, shape, k + 50)
        _close(ops.arctan2(a, b), keras.ops.arctan2(a, b), dtype)
        _close(ops.arctan2(a, 0.5), keras.ops.arctan2(a, 0.5), dtype)
        if dtype != "int32":        # Keras' threshold on TensorFlow keeps integers; glassnet's gives float32
            _close(ops.threshold(a, 0.3, -2.0), keras.ops.threshold(a, 0.3, -2.0), dtype)
            axis = int(np.random.default_rng(k).integers(-len(shape), len(shape)))
            even = tuple(n * 2 if i == axis % len(shape) else n for i, n in enumerate(shape))
            x = _data(dtype, even, k)
            _close(ops.glu(x, axis=axis), keras.ops.glu(x, axis=axis), dtype)


def _paper_sparsemax(x, axis):
    """The projection onto the simplex, written from the paper's sort-and-threshold rule."""
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    z = -np.sort(-x, axis=-1)
    k = np.arange(1, x.shape[-1] + 1)
    support = 1 + k * z > np.cumsum(z, -1)
    n = support.sum(-1, keepdims=True)
    tau = (np.take_along_axis(np.cumsum(z, -1), n - 1, -1) - 1) / n
    return np.moveaxis(np.maximum(x - tau, 0), -1, axis)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparsemax_is_the_papers_and_keras_where_one_entry_stays(dtype, keras):
    for k, shape in enumerate(_shapes(2)):
        axis = -1 - k % len(shape)
        x = _data(dtype, shape, k, scale=0.7)
        ours = ops.sparsemax(x, axis=axis)
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_allclose(ours, _paper_sparsemax(x, axis), atol=2e-6 if dtype == "float32" else 1e-12)
        np.testing.assert_allclose(ours.sum(axis), 1, rtol=1e-5)
        # one entry far above the others: Keras 3.15's formula (wrong for two or more) is exact there
        peaked = x + 10 * (np.arange(x.shape[axis]) == 0).reshape((-1,) + (1,) * (-axis - 1)).astype(dtype)
        _close(ops.sparsemax(peaked, axis=axis), keras.ops.sparsemax(peaked, axis=axis), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["fft", "fft2", "ifft2"])
def test_fft_pairs_on_arrays_are_keras(name, dtype, keras):
    for k, shape in enumerate(_shapes(3, low=2)):
        x = (_data(dtype, shape, k), _data(dtype, shape, k + 9))
        ours, theirs = getattr(ops, name)(x), getattr(keras.ops, name)(x)
        assert isinstance(ours, tuple) and len(ours) == 2
        for a, b in zip(ours, theirs):
            _close(a, np.asarray(b), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rfft_and_irfft_on_arrays_are_keras(dtype, keras):
    for k, shape in enumerate(_shapes(4)):
        x = _data(dtype, shape, k)
        for n in (None, shape[-1] + 3, max(1, shape[-1] - 1)):
            for a, b in zip(ops.rfft(x, n), keras.ops.rfft(x, n)):
                _close(a, np.asarray(b), "float32")        # float32 for float64 too, as Keras'
                np.testing.assert_allclose(a, b, atol=1e-4)
            pair = (x, _data(dtype, shape, k + 1))
            _close(ops.irfft(pair, n), np.asarray(keras.ops.irfft(pair, n)), dtype)
    assert ops.rfft(np.arange(6, dtype=np.int32))[0].dtype == np.float32      # integers: float32


# -- tensor nodes: gradients, shapes ---------------------------------------------------------------
NODES = [("arctan2", {}, 2), ("glu", {"axis": -1}, 1), ("glu", {"axis": 1}, 1), ("sparsemax", {"axis": -1}, 1),
         ("sparsemax", {"axis": 2}, 1), ("threshold", {"threshold": 0.2, "default_value": -1.5}, 1),
         ("fft", {"output": "real"}, 2), ("fft", {"output": "imag"}, 2), ("fft2", {"output": "real"}, 2),
         ("fft2", {"output": "imag"}, 2), ("ifft2", {"output": "real"}, 2), ("ifft2", {"output": "imag"}, 2),
         ("rfft", {"fft_length": None, "output": "real"}, 1), ("rfft", {"fft_length": 9, "output": "imag"}, 1),
         ("rfft", {"fft_length": 3, "output": "real"}, 1), ("irfft", {"fft_length": None}, 2),
         ("irfft", {"fft_length": 7}, 2), ("irfft", {"fft_length": 4}, 2)]


@pytest.mark.parametrize("op, arguments, count", NODES, ids=[f"{o}{a}" for o, a, _ in NODES])
def test_nodes_agree_with_finite_differences(op, arguments, count, rng):
    layer = TensorFunction(op, arguments, dtype="float64")
    x = [rng.standard_normal((3, 4, 6)) for _ in range(count)]
    if op == "threshold":       # off its kink by more than the step
        x[0] = np.where(np.abs(x[0] - 0.2) < 0.01, x[0] + 0.05, x[0])
    report = check_layer(layer, x if count == 2 else x[0])
    assert report["max_error"] < 1e-6, report


def test_node_gradients_are_torch_autograd(torch, rng):
    a, b = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 4, 6))
    g = rng.standard_normal((2, 4, 6))

    def ours(op, args, inputs, g):
        layer = TensorFunction(op, args, dtype="float64")
        layer(inputs if len(inputs) > 1 else inputs[0])
        y = layer.forward(inputs if len(inputs) > 1 else inputs[0])
        grads = layer.backward(g if y.shape == g.shape else g[..., :y.shape[-1]])
        return y, grads if isinstance(grads, list) else [grads]

    def theirs(f, inputs, g):
        ts = [torch.tensor(v, requires_grad=True) for v in inputs]
        y = f(*ts)
        gy = torch.tensor(g if tuple(y.shape) == g.shape else g[..., :y.shape[-1]])
        (y * gy).sum().backward()
        return y.detach().numpy(), [t.grad.numpy() for t in ts]

    fft2 = lambda r, i: torch.fft.fft2(torch.complex(r, i))     # noqa: E731
    cases = [("arctan2", {}, [a, b], torch.atan2),
             ("glu", {"axis": -1}, [a], lambda x: torch.nn.functional.glu(x, -1)),
             ("threshold", {"threshold": 0.1, "default_value": 2.0}, [a],
              lambda x: torch.nn.functional.threshold(x, 0.1, 2.0)),
             ("fft2", {"output": "real"}, [a, b], lambda r, i: fft2(r, i).real),
             ("fft2", {"output": "imag"}, [a, b], lambda r, i: fft2(r, i).imag),
             ("fft", {"output": "imag"}, [a, b], lambda r, i: torch.fft.fft(torch.complex(r, i)).imag),
             ("ifft2", {"output": "real"}, [a, b], lambda r, i: torch.fft.ifft2(torch.complex(r, i)).real),
             ("rfft", {"fft_length": 8, "output": "imag"}, [a], lambda x: torch.fft.rfft(x, 8).imag),
             ("irfft", {"fft_length": 5}, [a, b], lambda r, i: torch.fft.irfft(torch.complex(r, i), 5))]
    for op, args, inputs, f in cases:
        y, grads = ours(op, args, inputs, g)
        ty, tgrads = theirs(f, inputs, g)
        np.testing.assert_allclose(y, ty, rtol=1e-10, atol=1e-12, err_msg=op)
        for mine, other in zip(grads, tgrads):
            np.testing.assert_allclose(mine, other, rtol=1e-10, atol=1e-12, err_msg=op)


def _shape_cases(o):
    def run(lib):
        x, y = lib.Input((6, 8)), lib.Input((6, 8))
        return [o(lib).arctan2(x, y), o(lib).arctan2(x, 1.5), o(lib).glu(x), o(lib).glu(x, axis=1),
                o(lib).sparsemax(x, axis=1), o(lib).threshold(x, 0.5, 0.0), *o(lib).fft((x, y)), *o(lib).fft2((x, y)),
                *o(lib).ifft2((x, y)), *o(lib).rfft(x), *o(lib).rfft(x, 5), o(lib).irfft((x, y)),
                o(lib).irfft((x, y), 11)]
    return run


def test_symbolic_shapes_are_keras(keras):
    run = _shape_cases(lambda lib: ops if lib is gn else keras.ops)
    ours, theirs = run(gn), run(keras)
    assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]


def _fnet(lib, o):
    """keras_hub's FNetEncoder (keras.io's FNet): the real part of fft2 over steps and features,
    residual and LayerNormalization, a feed-forward block, residual and LayerNormalization."""
    inputs = lib.Input((8, 6))
    h = lib.layers.Dense(6, name="embed")(inputs)
    real, _ = o.fft2((h, o.zeros_like(h)))
    h = lib.layers.LayerNormalization(epsilon=1e-5, name="norm1")(h + real)
    ff = lib.layers.Dense(6, name="ff2")(lib.layers.Dense(12, activation="gelu", name="ff1")(h))
    h = lib.layers.LayerNormalization(epsilon=1e-5, name="norm2")(h + ff)
    pooled = lib.layers.GlobalAveragePooling1D()(h)
    return gn.Model(inputs, lib.layers.Dense(1, name="out")(pooled), seed=0) if lib is gn else \
        lib.Model(inputs, lib.layers.Dense(1, name="out")(pooled))


def _train_both(ours, theirs, names, x, y, keras, epochs=3, lr=0.01):
    for name in names:
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(lr))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(lr))
    mine = ours.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0).history["loss"]
    other = theirs.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert mine[-1] < mine[0]
    np.testing.assert_allclose(mine, other, rtol=1e-5)
    return mine


def test_an_fnet_block_trains_as_keras(rng, keras):
    x = rng.standard_normal((32, 8, 6)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    _train_both(_fnet(gn, ops), _fnet(keras, keras.ops), ["embed", "norm1", "ff1", "ff2", "norm2", "out"], x, y,
                keras)


def _keras_sparsemax(k):
    """The paper's sparsemax in keras.ops (Keras 3.15's own sums to less than 1 where two entries stay)."""
    def sparsemax(x):
        z = k.ops.flip(k.ops.sort(x, axis=-1), axis=-1)
        sums = k.ops.cumsum(z, axis=-1)
        ranks = k.ops.arange(1, x.shape[-1] + 1, dtype="float32")
        support = k.ops.cast(1 + ranks * z > sums, "float32")
        n = k.ops.sum(support, axis=-1, keepdims=True)
        tau = (k.ops.sum(support * (z - sums + sums), axis=-1, keepdims=True) - 1) / n
        return k.ops.maximum(x - tau, 0.0)
    return sparsemax


def _gated(lib, o, sparsemax):
    inputs = lib.Input((6,))
    h = lib.layers.Dense(8, name="a")(inputs)
    parts = [o.glu(h), sparsemax(h), o.arctan2(h, h * 0.5 + 1.0), o.threshold(h, 0.1, -0.5)]
    h = lib.layers.Dense(4, activation="tanh", name="b")(o.concatenate(parts, axis=-1))
    return inputs, lib.layers.Dense(1, name="out")(h)


def test_a_model_of_glu_sparsemax_arctan2_threshold_trains_as_keras(rng, keras):
    ours = gn.Model(*_gated(gn, ops, ops.sparsemax), seed=0)
    theirs = keras.Model(*_gated(keras, keras.ops, _keras_sparsemax(keras)))
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    _train_both(ours, theirs, ["a", "b", "out"], x, y, keras, epochs=3, lr=0.05)


def test_save_load_round_trip(rng, tmp_path):
    x = gn.Input((4, 6))
    real, imag = ops.fft2((x, ops.zeros_like(x)))
    out = ops.concatenate([ops.glu(real), ops.sparsemax(imag, axis=1)[..., :3], ops.rfft(x, 4)[1],
                           ops.arctan2(x, 2.0)[..., :3] + ops.threshold(x, 0.0, 1.0)[..., :3]], axis=-1)
    model = gn.Model(x, out, seed=0)
    data = rng.standard_normal((5, 4, 6)).astype(np.float32)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


@pytest.mark.parametrize("make, error, message", [
    (lambda x: ops.glu(x, axis=0), ValueError, "batch axis"),
    (lambda x: ops.glu(gn.Input((5,))), ValueError, "even"),
    (lambda x: ops.sparsemax(x, axis=1.5), TypeError, "axis: expected an integer"),
    (lambda x: ops.threshold(x, None, 1.0), TypeError, "threshold needs"),
    (lambda x: ops.fft2((x, np.zeros((4, 6)))), TypeError, "both be tensors"),
    (lambda x: ops.fft2(x), TypeError, "pair"),
    (lambda x: ops.fft2((gn.Input((6,)), gn.Input((6,)))), ValueError, "last 2 axes"),
    (lambda x: ops.fft((x, gn.Input((4, 5)))), ValueError, "one shape"),
    (lambda x: ops.rfft(x, fft_length=0), ValueError, "fft_length"),
])
def test_refusals_name_what_was_wrong(make, error, message):
    with pytest.raises(error, match=message):
        make(gn.Input((4, 6)))


def test_eager_refusals():
    with pytest.raises(TypeError, match="x\\[0\\] must hold floats"):
        ops.fft((np.arange(4), np.zeros(4, np.int64)))
    with pytest.raises(ValueError, match="one shape"):
        ops.fft2((np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32)))
    with pytest.raises(ValueError, match="even"):
        ops.glu(np.zeros((2, 3), np.float32))


# -- array-only functions against Keras 3.15 --------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_counting_and_quantiles_are_keras(dtype, keras):
    for k, shape in enumerate(_shapes(5, count=8)):
        x = _data(dtype, shape, k, scale=1.0)
        x = np.where(np.abs(x) < (0.5 if dtype != "int32" else 2), 0, x).astype(dtype)
        for a, b in zip(ops.nonzero(x), keras.ops.nonzero(x)):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == np.int32
        rng = np.random.default_rng(k)
        axis = None if k % 3 == 0 else int(rng.integers(-len(shape), len(shape)))
        ours = ops.count_nonzero(x, axis=axis)
        theirs = np.asarray(keras.ops.count_nonzero(x, axis=axis))
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == theirs.dtype
        keepdims = bool(k % 2)
        _close(ops.median(x, axis=axis, keepdims=keepdims), keras.ops.median(x, axis=axis, keepdims=keepdims),
               dtype if dtype != "int32" else "float32")
        q = [0.0, 0.1, 0.25, 0.5, 0.66, 1.0] if k % 2 else float(rng.uniform())
        for method in ("linear", "lower", "higher", "midpoint", "nearest"):
            _close(ops.quantile(x, q, axis=axis, method=method, keepdims=keepdims),
                   keras.ops.quantile(x, q, axis=axis, method=method, keepdims=keepdims),
                   dtype if dtype != "int32" else "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_scatter_and_scatter_update_are_keras(dtype, keras):
    rng = np.random.default_rng(7)
    for k in range(6):
        shape = tuple(int(n) for n in rng.integers(2, 5, rng.integers(1, 4)))
        depth = int(rng.integers(1, len(shape) + 1))
        n = int(rng.integers(1, 6))
        indices = np.stack([rng.integers(0, shape[a], n) for a in range(depth)], -1).astype(np.int32)
        values = _data(dtype, (n,) + shape[depth:], k)
        ours, theirs = ops.scatter(indices, values, shape), np.asarray(keras.ops.scatter(indices, values, shape))
        _close(ours, theirs, dtype) if dtype != "int32" else np.testing.assert_array_equal(ours, theirs)
        inputs = _data(dtype, shape, k + 3)
        unique = np.unique(indices, axis=0)     # (repeated indices without reduction: TensorFlow keeps any)
        updates = _data(dtype, (len(unique),) + shape[depth:], k + 5)
        for reduction, idx, upd in ((None, unique, updates), ("add", indices, values), ("max", indices, values),
                                    ("min", indices, values), ("mul", indices, values)):
            ours = ops.scatter_update(inputs, idx, upd, reduction=reduction)
            theirs = np.asarray(keras.ops.scatter_update(inputs, idx, upd, reduction=reduction))
            assert ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("kind", ["average", "max"])
def test_adaptive_pools_are_keras(kind, keras):
    rng = np.random.default_rng(11)
    for k in range(6):
        spatial = 1 + k % 3
        shape = (2,) + tuple(int(n) for n in rng.integers(3, 9, spatial)) + (3,)
        size = tuple(int(rng.integers(1, 5)) for _ in range(spatial)) if k % 2 else int(rng.integers(1, 4))
        x = rng.standard_normal(shape).astype(np.float32)
        ours = getattr(ops, f"adaptive_{kind}_pool")(x, size)
        theirs = np.asarray(getattr(keras.ops, f"adaptive_{kind}_pool")(keras.ops.convert_to_tensor(x), size))
        _close(ours, theirs, "float32")
        first = getattr(ops, f"adaptive_{kind}_pool")(np.moveaxis(x, -1, 1), size, data_format="channels_first")
        np.testing.assert_array_equal(np.moveaxis(first, 1, -1), ours)


def test_array_only_functions_refuse_tensors_and_bad_input():
    x = gn.Input((4,))
    for make in (lambda: ops.nonzero(x), lambda: ops.count_nonzero(x, axis=1), lambda: ops.median(x, axis=1),
                 lambda: ops.quantile(x, 0.5, axis=1), lambda: ops.scatter_update(x, [[0]], [1.0]),
                 lambda: ops.adaptive_max_pool(gn.Input((4, 3)), 2)):
        with pytest.raises(TypeError, match="takes arrays, not tensors"):
            make()
    with pytest.raises(ValueError, match="method must be one of"):
        ops.quantile(np.arange(4.0), 0.5, method="cubic")
    with pytest.raises(ValueError, match="q must be numbers in \\[0, 1\\]"):
        ops.quantile(np.arange(4.0), 1.5)
    with pytest.raises(ValueError, match="updates must have shape"):
        ops.scatter([[0], [1]], np.ones(3, np.float32), (4,))
    with pytest.raises(ValueError, match="indices must be in \\[0, 4\\)"):
        ops.scatter_update(np.zeros(4), [[5]], [1.0])
    with pytest.raises(ValueError, match="reduction must be"):
        ops.scatter_update(np.zeros(4), [[1]], [1.0], reduction="sum")
    with pytest.raises(ValueError, match="output_size must be"):
        ops.adaptive_average_pool(np.zeros((1, 4, 4, 2)), (2, 0))
