"""glassnet.ops' keras.ops.nn functions (_ops_nn.py, _ops_attention.py, _ops_crossentropy.py):
values and dtypes against Keras 3.15, tape gradients against float64 central differences and
tf.GradientTape, functional models against the same Keras models, refusals by name."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

R = np.random.default_rng(0)
X = R.standard_normal((2, 4, 6, 8)).astype(np.float32)
P = R.random((2, 4, 6, 8)).astype(np.float32)


def _same(ours, theirs, tol=1e-5):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours.shape, theirs.shape, ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


CASES = [("layer_normalization", {}), ("layer_normalization", {"axis": [1, 3]}),
         ("layer_normalization", {"axis": -2, "epsilon": 0.1}), ("rms_normalization", {}),
         ("rms_normalization", {"axis": (1, 2)}), ("normalize", {"axis": 1}), ("normalize", {"order": 1}),
         ("normalize", {"order": 3, "epsilon": 1e-3}), ("depth_to_space", {"block_size": 2}),
         ("space_to_depth", {"block_size": 2}), ("depth_to_space", {"block_size": 2, "data_format": "channels_first"}),
         ("space_to_depth", {"block_size": 2, "data_format": "channels_first"}),
         ("unfold", {"kernel_size": 3, "padding": 1, "stride": 2}), ("unfold", {"kernel_size": (2, 3), "dilation": 2})]


@pytest.mark.parametrize("name, settings", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_input_functions_match_keras(keras, name, settings, dtype):
    x = X.astype(dtype)
    _same(getattr(ops, name)(x, **settings), getattr(keras.ops, name)(x, **settings))


def test_normalizations_keep_integer_dtypes_and_take_gamma_beta_scale_as_keras(keras):
    xi = np.arange(12, dtype=np.int32).reshape(3, 4)
    _same(ops.layer_normalization(xi), keras.ops.layer_normalization(xi))
    _same(ops.rms_normalization(xi, scale=np.ones(4)), keras.ops.rms_normalization(xi, scale=np.ones(4)))
    g = R.standard_normal((4, 8)).astype(np.float32)
    _same(ops.layer_normalization(X, g, g, axis=[1, 3]), keras.ops.layer_normalization(X, g, g, axis=[1, 3]))
    _same(ops.layer_normalization(X, np.arange(8.0), np.ones(8)), keras.ops.layer_normalization(X, np.arange(8.0), np.ones(8)))
    _same(ops.rms_normalization(X, np.arange(8.0)), keras.ops.rms_normalization(X, np.arange(8.0)))
    with pytest.warns(UserWarning, match="rms_scaling"):
        ours = ops.layer_normalization(X, g[0], rms_scaling=True)
    _same(ours, keras.ops.layer_normalization(X, g[0], rms_scaling=True))


@pytest.mark.parametrize("axes", [[0], [0, 1, 2], -1, (1, 3), []])
@pytest.mark.parametrize("keepdims", [False, True])
def test_moments_match_keras(keras, axes, keepdims):
    for ours, theirs in zip(ops.moments(X, axes, keepdims), keras.ops.moments(X, axes, keepdims)):
        _same(ours, theirs)


@pytest.mark.parametrize("axis", [1, -1, 3])
def test_batch_normalization_matches_keras(keras, axis):
    c = X.shape[axis]
    mean, var = R.standard_normal(c).astype(np.float32), R.random(c).astype(np.float32)
    for settings in ({}, {"offset": mean, "scale": var}, {"scale": var, "epsilon": 0.1}):
        _same(ops.batch_normalization(X, mean, var, axis, **settings),
              keras.ops.batch_normalization(X, mean, var, axis, **settings))


def test_multi_hot_psnr_polar_fold_match_keras(keras):
    ids = np.array([[0, 2, 2], [1, 4, 0]])
    for settings in ({}, {"dtype": "bool"}, {"axis": 0}, {"dtype": "int32"}):
        _same(ops.multi_hot(ids, 5, **settings), keras.ops.multi_hot(ids, 5, **settings))
    _same(ops.multi_hot(np.array([1, 3]), num_tokens=5), keras.ops.multi_hot(np.array([1, 3]), num_tokens=5))
    _same(ops.psnr(X, P, 1.0), keras.ops.psnr(X, P, 1.0))
    _same(ops.psnr(X.astype("float64"), P.astype("float64"), 2.0), keras.ops.psnr(X.astype("float64"), P.astype("float64"), 2.0))
    _same(ops.polar(X, P), keras.ops.polar(X, P))
    _same(ops.polar(X.astype("float64"), P.astype("float64")), keras.ops.polar(X.astype("float64"), P.astype("float64")))
    for settings in ({"kernel_size": 3, "padding": 1}, {"kernel_size": 2, "stride": 2}, {"kernel_size": (2, 3), "dilation": (2, 1)}):
        cols = np.asarray(keras.ops.unfold(X, **settings))
        _same(ops.fold(cols, (6, 8), **settings), keras.ops.fold(cols, (6, 8), **settings))


@pytest.mark.parametrize("from_logits", [False, True])
def test_crossentropies_match_keras(keras, from_logits):
    target = np.eye(8, dtype=np.float32)[R.integers(0, 8, (2, 4, 6))]
    output = X if from_logits else np.asarray(keras.ops.softmax(X))
    for axis in (-1, 1):
        _same(ops.categorical_crossentropy(target, output, from_logits, axis),
              keras.ops.categorical_crossentropy(target, output, from_logits, axis))
    _same(ops.binary_crossentropy(P, output, from_logits), keras.ops.binary_crossentropy(P, output, from_logits))
    labels = target.argmax(-1)
    _same(ops.sparse_categorical_crossentropy(labels, output, from_logits),
          keras.ops.sparse_categorical_crossentropy(labels, output, from_logits))
    _same(ops.sparse_categorical_crossentropy(labels[..., None], output.astype("float64"), from_logits),
          keras.ops.sparse_categorical_crossentropy(labels[..., None], output.astype("float64"), from_logits))


def test_dot_product_attention_matches_keras(keras):
    q = R.standard_normal((2, 5, 4, 3)).astype(np.float32)
    k, v = (R.standard_normal((2, 7, 2, 3)).astype(np.float32) for _ in range(2))      # grouped heads
    bias = R.standard_normal((2, 4, 5, 7)).astype(np.float32)
    mask = R.random((2, 1, 5, 7)) > 0.3
    _same(ops.dot_product_attention(q, k, v), keras.ops.dot_product_attention(q, k, v))
    _same(ops.dot_product_attention(q, k, v, bias=bias, mask=mask, scale=0.3),
          keras.ops.dot_product_attention(q, k, v, bias=bias, mask=mask, scale=0.3))
    k5 = R.standard_normal((2, 5, 4, 3))
    _same(ops.dot_product_attention(q.astype("float64"), k5, k5, is_causal=True),
          keras.ops.dot_product_attention(q.astype("float64"), k5, k5, is_causal=True))


# -- gradients on a tape ----------------------------------------------------------------------------
def _tape_and_numeric(f, args):
    args = [np.array(a, np.float64) for a in args]
    weights = np.cos(np.arange(np.asarray(f(*args)).size)).reshape(np.shape(f(*args)))
    with gn.GradientTape() as tape:
        for a in args:
            tape.watch(a)
        loss = ops.sum(ops.multiply(f(*args), weights))
    analytic = [np.asarray(g) for g in tape.gradient(loss, args)]
    numeric = []
    for i, a in enumerate(args):
        grad = np.zeros_like(a)
        for j in range(a.size):
            step = np.zeros_like(a)
            step.flat[j] = 1e-6
            up, down = list(args), list(args)
            up[i], down[i] = a + step, a - step
            grad.flat[j] = (np.sum(np.asarray(f(*up)) * weights) - np.sum(np.asarray(f(*down)) * weights)) / 2e-6
        numeric.append(grad)
    return args, weights, analytic, numeric


S = np.random.default_rng(1)
X3, G4 = S.standard_normal((2, 3, 4)), S.standard_normal(4)
PR, TR = S.random((3, 4)), S.random((3, 4))
# distributions (TensorFlow's softmax_cross_entropy_with_logits' gradient assumes targets summing to 1)
TR1, TR0 = TR / TR.sum(1, keepdims=True), TR / TR.sum(0, keepdims=True)
GRADIENTS = {
    "layer_normalization": (lambda m: lambda x, g, b: m.layer_normalization(x, g, b), [X3, G4, G4 + 1]),
    "rms_normalization": (lambda m: lambda x, g: m.rms_normalization(x, g, axis=1), [X3, G4[:3, None]]),
    "moments": (lambda m: lambda x: m.add(*m.moments(x, [1])), [X3]),
    "normalize": (lambda m: lambda x: m.normalize(x, axis=1), [X3]),
    "normalize3": (lambda m: lambda x: m.normalize(x, order=3), [X3]),
    "batch_normalization": (lambda m: lambda x, mu, v, o, s: m.batch_normalization(x, mu, v, 1, o, s),
                            [X3, G4[:3], G4[:3] ** 2 + 1, G4[1:], G4[:3]]),
    "psnr": (lambda m: lambda a, b: m.psnr(a, b, 1.0), [X3, X3 * 0.5]),
    "depth_to_space": (lambda m: lambda x: m.depth_to_space(x, 2, "channels_first"), [S.standard_normal((1, 8, 2, 2))]),
    "space_to_depth": (lambda m: lambda x: m.space_to_depth(x, 2), [S.standard_normal((1, 4, 4, 2))]),
    "unfold": (lambda m: lambda x: m.unfold(x, 3, padding=1, stride=2), [S.standard_normal((1, 2, 4, 4))]),
    "fold": (lambda m: lambda x: m.fold(x, 4, 2, stride=2), [S.standard_normal((1, 8, 4))]),
    "binary_crossentropy": (lambda m: lambda t, o: m.binary_crossentropy(t, o), [TR, PR]),
    "binary_crossentropy_logits": (lambda m: lambda t, o: m.binary_crossentropy(t, o, True), [TR, X3[0]]),
    "categorical_crossentropy": (lambda m: lambda t, o: m.categorical_crossentropy(t, o), [TR1, PR]),
    "categorical_crossentropy_logits": (lambda m: lambda t, o: m.categorical_crossentropy(t, o, True, 0), [TR0, X3[0]]),
    "sparse_categorical_crossentropy": (lambda m: lambda o: m.sparse_categorical_crossentropy(np.array([0, 3, 1]), o), [PR]),
    "sparse_categorical_crossentropy_logits": (
        lambda m: lambda o: m.sparse_categorical_crossentropy(np.array([0, 3, 1]), o, True), [X3[0]]),
    "dot_product_attention": (
        lambda m: lambda q, k, v, b: m.dot_product_attention(q, k, v, bias=b, mask=np.array([[1, 1, 0, 1]], bool)),
        [S.standard_normal((1, 3, 4, 2)), S.standard_normal((1, 4, 2, 2)), S.standard_normal((1, 4, 2, 2)),
         S.standard_normal((1, 4, 3, 4))]),
    "dot_product_attention_causal": (lambda m: lambda q, k: m.dot_product_attention(q, k, k, is_causal=True),
                                     [S.standard_normal((1, 3, 2, 2)), S.standard_normal((1, 3, 2, 2))]),
}


@pytest.mark.parametrize("case", sorted(GRADIENTS))
def test_tape_gradients_match_finite_differences_and_tensorflow(case, keras):
    import tensorflow as tf
    make, values = GRADIENTS[case]
    args, weights, analytic, numeric = _tape_and_numeric(make(ops), values)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-6)
    theirs = [tf.Variable(a) for a in args]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(make(keras.ops)(*theirs) * weights)
    for a, t in zip(analytic, tape.gradient(loss, theirs)):
        np.testing.assert_allclose(a, np.asarray(t), rtol=1e-7, atol=1e-9)


def test_second_order_and_polar_on_a_tape_are_refused_by_name():
    x = np.array(X3)
    with pytest.raises(TypeError, match="ops.polar"):
        with gn.GradientTape() as tape:
            tape.watch(x)
            ops.polar(x, x)
    with pytest.raises((TypeError, NotImplementedError), match="GradientTape"):
        with gn.GradientTape() as outer:
            outer.watch(x)
            with gn.GradientTape() as inner:
                inner.watch(x)
                y = ops.sum(ops.layer_normalization(x) ** 3)
            z = ops.sum(inner.gradient(y, x))
        outer.gradient(z, x)


# -- symbolic tensors -------------------------------------------------------------------------------
def _attention_net(module):
    """keras.io-style self-attention written with dot_product_attention, then the other tensor ops."""
    kops, layers = module.ops, module.layers
    tokens = module.Input((6, 8))
    q, k, v = (kops.reshape(layers.Dense(8, name=n)(tokens), (-1, 6, 4, 2)) for n in ("q", "k", "v"))
    k, v = k[:, :, :2], v[:, :, :2]                     # grouped-query heads: 2 key heads for 4 query heads
    h = kops.dot_product_attention(q, k, v, is_causal=True)
    h = kops.reshape(h, (-1, 6, 8))
    h = kops.layer_normalization(tokens + h, np.linspace(0.5, 1.5, 8, dtype="float32"))
    h = kops.rms_normalization(h, np.linspace(1.0, 2.0, 8, dtype="float32"))
    h = kops.normalize(layers.Dense(8, name="d")(h), axis=-1)
    mean, var = kops.moments(h, axes=[1], keepdims=True)
    # (Keras 3.15's graph refuses batch_normalization with per-sample tensor statistics: arithmetic here)
    h = (h - mean) * kops.rsqrt(var + 1e-3)
    h = kops.batch_normalization(h, np.full(8, 0.2, "float32"), np.full(8, 2.0, "float32"), axis=-1)
    image = kops.reshape(h, (-1, 4, 6, 2))
    h = kops.depth_to_space(kops.space_to_depth(image, 2), 2)
    logits = layers.Dense(3, name="out")(kops.reshape(h, (-1, 48)))
    return tokens, logits


def test_attention_model_of_ops_predicts_and_trains_as_keras(rng, keras):
    ours = gn.Model(*_attention_net(gn), seed=0)
    theirs = keras.Model(*_attention_net(keras))
    # by name: the two order the Dense layers q, k, v differently once k and v are sliced
    for name in ("q", "k", "v", "d", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((8, 6, 8)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    ours.compile(loss=gn.losses.CategoricalCrossentropy(from_logits=True), optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True), optimizer=keras.optimizers.SGD(0.1))
    ours_loss = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)
    for name in ("q", "k", "v", "d", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), theirs.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _loss_net(module):
    kops, layers = module.ops, module.layers
    x = module.Input((5,))
    ids = module.Input((3,))
    target = kops.multi_hot(ids, 4)
    logits = layers.Dense(4, name="out")(x)
    probs = kops.softmax(logits)
    return [x, ids], kops.stack([kops.categorical_crossentropy(target, logits, from_logits=True),
                                 kops.categorical_crossentropy(target, probs),
                                 kops.sparse_categorical_crossentropy(ids[:, 0], logits, from_logits=True),
                                 kops.sum(kops.binary_crossentropy(target, kops.sigmoid(logits)), axis=-1)], axis=1)


def test_crossentropies_and_multi_hot_as_model_outputs_match_keras_and_survive_files(rng, keras, tmp_path):
    ours = gn.Model(*_loss_net(gn), seed=0)
    theirs = keras.Model(*_loss_net(keras))
    theirs.set_weights(ours.get_weights())
    data = [rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 4, (6, 3)).astype(np.float32)]
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-5)
    ours.save(tmp_path / "losses.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "losses.npz").predict(data, verbose=0),
                                  ours.predict(data, verbose=0))


def test_attention_model_survives_its_file(rng, tmp_path):
    model = gn.Model(*_attention_net(gn), seed=2)
    x = rng.standard_normal((3, 6, 8)).astype(np.float32)
    model.save(tmp_path / "attention.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "attention.npz").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


# -- refusals ---------------------------------------------------------------------------------------
def test_tensors_are_refused_by_name_where_not_built():
    x = gn.Input((2, 4, 4))
    for call in (lambda: ops.psnr(x, x, 1.0), lambda: ops.unfold(x, 2), lambda: ops.fold(x, 4, 2),
                 lambda: ops.polar(x, x)):
        with pytest.raises(TypeError, match=r"ops\.\w+: \w+ is a tensor"):
            call()


@pytest.mark.parametrize("call, error, words", [
    (lambda: ops.dot_product_attention(X, X, X, flash_attention=True), ValueError, "flash_attention"),
    (lambda: ops.dot_product_attention(X[0], X[0], X[0]), ValueError, "4 axes"),
    (lambda: ops.dot_product_attention(X, X[:, :, :4], X[:, :, :4]), ValueError, "heads"),
    (lambda: ops.dot_product_attention(X, X, X, attn_logits_soft_cap=2.0), ValueError, "attn_logits_soft_cap"),
    (lambda: ops.batch_normalization(X, X[0, 0, 0], X[0, 0, 0], axis=1.5), TypeError, "axis"),
    (lambda: ops.batch_normalization(X, X[0, 0, 0], X[0, 0, 0], axis=4), ValueError, "axis"),
    (lambda: ops.layer_normalization(X, foo=1), TypeError, "foo"),
    (lambda: ops.normalize(X, order=0), ValueError, "order"),
    (lambda: ops.moments(X, 1, synchronized="yes"), TypeError, "synchronized"),
    (lambda: ops.multi_hot(np.array([1]), None), ValueError, "num_classes"),
    (lambda: ops.multi_hot(np.array([1]), 3, sparse=True), ValueError, "sparse"),
    (lambda: ops.psnr(X, X[0], 1.0), ValueError, "x1 and x2"),
    (lambda: ops.depth_to_space(X, 3), ValueError, "multiple of block_size"),
    (lambda: ops.depth_to_space(X, 1), ValueError, "block_size"),
    (lambda: ops.space_to_depth(X[0], 2), ValueError, "4 axes"),
    (lambda: ops.space_to_depth(X, 2, "nhwc"), ValueError, "data_format"),
    (lambda: ops.unfold(X, 9), ValueError, "does not fit"),
    (lambda: ops.unfold(X, (1, 2, 3)), ValueError, "kernel_size"),
    (lambda: ops.fold(X[0], 4, 2), ValueError, r"x's shape"),
    (lambda: ops.binary_crossentropy(X, X[0]), ValueError, "target and output"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0, 1]), X[0, 0, :2], axis=0), ValueError, "axis=-1"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0, 9]), X[0, 0, :2]), ValueError, r"\[0, 8\)"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0.5, 1]), X[0, 0, :2]), TypeError, "integer"),
    (lambda: ops.polar("a", X), TypeError, "abs_"),
])
def test_bad_arguments_are_refused_by_name(call, error, words):
    with pytest.raises(error, match=words):
        call()
