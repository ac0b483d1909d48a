"""The loss cases stop 52 left out (session 47, losses3): CategoricalCrossentropy(from_logits=True)'s
direct gradient on targets not summing to 1, reduction="none" after a sigmoid or softmax output, and
the classes' dtype= and axis= (Keras 3.15's), against PyTorch, Keras 3.15 and finite differences."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import numerical_gradient

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _numeric(f, x):
    """Central differences of ``f(x)`` at ``x`` (float64, changed in place and restored)."""
    return numerical_gradient(lambda: f(x), x)


# -- 1. CategoricalCrossentropy(from_logits=True).gradient on any targets -----------------------------

@pytest.mark.parametrize("smoothing, weighted", [(0.0, False), (0.2, False), (0.0, True), (0.3, True)])
def test_cce_from_logits_direct_gradient_is_torch_for_rows_not_summing_to_one(torch, smoothing, weighted):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 4)) * 3
    y = rng.uniform(0, 1, size=(6, 4))
    y[0] = 0.0                                   # a row of zeros
    y[1] = [1, 1, 0, 0]                          # multi-hot
    w = rng.uniform(0.5, 2, size=6) if weighted else None
    loss = gn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    zt = torch.tensor(z, requires_grad=True)
    t = torch.tensor(y) * (1 - smoothing) + smoothing / 4
    values = -(t * torch.log_softmax(zt, -1)).sum(-1)
    total = (values if w is None else values * torch.tensor(w)).mean()
    total.backward()
    value = loss(z, y) if w is None else loss(z, y, sample_weight=w)
    grad = loss.gradient(z, y) if w is None else loss.weighted_gradient(z, y, w)
    assert value == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-13)
    f = (lambda v: loss(v, y)) if w is None else (lambda v: loss.weighted(v, y, w))
    np.testing.assert_allclose(grad, _numeric(f, z.copy()), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight", "none"])
def test_cce_from_logits_general_gradient_under_other_reductions(torch, reduction):
    rng = np.random.default_rng(1)
    z, y, w = rng.normal(size=(5, 3)), rng.uniform(0, 1, size=(5, 3)), rng.uniform(0.5, 2, size=5)
    loss = gn.losses.CategoricalCrossentropy(from_logits=True, reduction=reduction)
    zt = torch.tensor(z, requires_grad=True)
    values = -(torch.tensor(y) * torch.log_softmax(zt, -1)).sum(-1) * torch.tensor(w)
    if reduction == "none":
        np.testing.assert_allclose(loss(z, y, sample_weight=w), values.detach().numpy(), rtol=1e-12)
        return
    total = values.sum() if reduction == "sum" else values.sum() / float(w.sum())
    total.backward()
    np.testing.assert_allclose(loss.weighted_gradient(z, y, w), zt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_fit_keeps_softmax_minus_y_and_its_bits():
    """fit trains on _fit_gradient, softmax - y: the public gradient equals it bit for bit on one-hot
    rows (sum exactly 1); fit still refuses targets that are not distributions."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(8, 5)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
    loss = gn.losses.CategoricalCrossentropy(from_logits=True)
    assert np.array_equal(loss.gradient(z, y), loss._fit_gradient(z, y))
    assert loss.gradient(z, y).dtype == np.float32
    soft = rng.uniform(0, 1, size=(8, 5)).astype(np.float32)
    assert not np.allclose(loss.gradient(z, soft), loss._fit_gradient(z, soft))
    model = gn.Sequential([gn.layers.Dense(5, input_dim=3)], seed=0)
    model.compile(loss=loss, optimizer="sgd")
    with pytest.raises(ValueError, match="distribution"):
        model.fit(rng.normal(size=(8, 3)).astype(np.float32), soft, epochs=1, verbose=0)


def test_a_subclass_overriding_gradient_trains_on_it():
    calls = []

    class Mine(gn.losses.CategoricalCrossentropy):
        def gradient(self, y_pred, y_true):
            calls.append(1)
            return super().gradient(y_pred, y_true)

    assert Mine._fit_gradient is Mine.gradient
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2)], seed=0)
    model.compile(loss=Mine(from_logits=True), optimizer="sgd")
    model.train_on_batch(np.ones((4, 2), np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])
    assert calls


# -- 2. reduction="none" after a sigmoid or softmax output, on a tape ---------------------------------

def _saturating_model(activation, units, dtype="float64"):
    model = gn.Sequential([gn.layers.Dense(units, activation=activation)], dtype=dtype, seed=0)
    model.build((None, 3))
    W, b = model.get_weights()
    model.set_weights([W * 8, b])
    return model


NONE_CASES = [("BinaryCrossentropy", "sigmoid", {}), ("BinaryFocalCrossentropy", "sigmoid", {"gamma": 1.5}),
              ("BinaryFocalCrossentropy", "sigmoid", {"apply_class_balancing": True, "label_smoothing": 0.1}),
              ("CategoricalCrossentropy", "softmax", {}),
              ("CategoricalCrossentropy", "softmax", {"label_smoothing": 0.2}),
              ("SparseCategoricalCrossentropy", "softmax", {})]


@pytest.mark.parametrize("name, activation, settings", NONE_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_reduction_none_on_a_tape_reads_the_logits_as_keras(keras, name, activation, settings, weighted):
    import tensorflow as tf
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 3)) * 4
    model = _saturating_model(activation, 3)
    sparse = name.startswith("Sparse")
    y = rng.integers(0, 3, 6) if sparse else (
        rng.integers(0, 2, (6, 3)).astype(float) if activation == "sigmoid" else np.eye(3)[rng.integers(0, 3, 6)])
    w = rng.uniform(0.5, 2, 6) if weighted else None
    km = keras.Sequential([keras.Input((3,), dtype="float64"), keras.layers.Dense(3, activation=activation, dtype="float64")])
    km.set_weights(model.get_weights())
    theirs = getattr(keras.losses, name)(reduction="none", dtype="float64", **settings)
    with tf.GradientTape() as tape:
        kv = theirs(y, km(x, training=True), sample_weight=w)
    kg = tape.gradient(kv, km.trainable_weights)
    ours = getattr(gn.losses, name)(reduction="none", **settings)
    with gn.GradientTape() as tape:
        out = model(x, training=True)
        v = ours(out, y) if w is None else ours(out, y, sample_weight=w)
    g = tape.gradient(v, model.trainable_weights)
    np.testing.assert_allclose(np.asarray(v), kv.numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(g, kg):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-9, atol=1e-11)
    # the same values on the fused path the tape uses, from the class's methods
    z = x @ model.get_weights()[0] + model.get_weights()[1]
    a = np.asarray(model(x))
    direct = ours.value_from_logits(z, a, ours._targets(a, y)) if w is None else \
        ours.weighted_from_logits(z, a, ours._targets(a, y), w)
    np.testing.assert_allclose(direct, kv.numpy(), rtol=1e-10, atol=1e-12)


def test_reduction_none_per_position_on_a_tape_is_torch(torch):
    """Values (n, steps): the tape's gradient of them (upstream ones, or given output gradients) is
    that of their weighted sum, PyTorch's autograd, float64."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 5, 3))
    model = gn.Sequential([gn.layers.Dense(2, activation="sigmoid")], dtype="float64", seed=1)
    model.build((None, 5, 3))
    W, b = model.get_weights()
    y = rng.integers(0, 2, (4, 5, 2)).astype(float)
    up = rng.normal(size=(4, 5))
    loss = gn.losses.BinaryCrossentropy(reduction="none")
    with gn.GradientTape() as tape:
        v = loss(model(x, training=True), y)
    g = tape.gradient(v, model.trainable_weights, output_gradients=up)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    values = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x) @ Wt + bt, torch.tensor(y),
                                                                  reduction="none").mean(-1)
    (values * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(np.asarray(v), values.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g[0]), Wt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(np.asarray(g[1]), bt.grad.numpy(), rtol=1e-10, atol=1e-13)


# -- 3. dtype= ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, settings", [("MeanSquaredError", {}), ("Huber", {"delta": 0.5}),
                                            ("BinaryCrossentropy", {}), ("CategoricalCrossentropy", {"from_logits": True}),
                                            ("KLDivergence", {}), ("BinaryFocalCrossentropy", {})])
@pytest.mark.parametrize("given, computes", [("float64", "float32"), ("float32", "float64")])
def test_dtype_computes_in_it_as_keras(keras, name, settings, given, computes):
    import tensorflow as tf
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, size=(6, 3)).astype(given)
    y = rng.uniform(0, 1, size=(6, 3)).astype(given)
    if name == "CategoricalCrossentropy":
        y /= y.sum(-1, keepdims=True)
    ours = getattr(gn.losses, name)(dtype=computes, **settings)
    theirs = getattr(keras.losses, name)(dtype=computes, **settings)
    v = tf.Variable(p)
    with tf.GradientTape() as tape:
        kv = theirs(y, v)
    kg = tape.gradient(kv, v)
    # float32 on either side: float32's rounding (Keras-TF's softmax kernel also reads p - y where the
    # float32 rows sum to 1 +- 1e-7, glassnet p sum(y) - y)
    tol = 1e-6
    assert ours(p, y) == pytest.approx(float(kv), rel=tol)
    g = ours.gradient(p, y)
    assert g.dtype == np.dtype(given) == kg.dtype.as_numpy_dtype        # back in the predictions' dtype
    np.testing.assert_allclose(g, kg.numpy(), rtol=tol, atol=1e-8)
    none = getattr(gn.losses, name)(dtype=computes, reduction="none", **settings)
    k_none = getattr(keras.losses, name)(dtype=computes, reduction="none", **settings)(y, p)
    assert none(p, y).dtype == np.dtype(computes) == k_none.dtype.as_numpy_dtype
    np.testing.assert_allclose(none(p, y), k_none.numpy(), rtol=tol)


def test_dtype_float32_really_computes_in_float32():
    p = np.array([[1 + 1e-12, 2.0]])           # a float64 difference float32 cannot hold
    ours = gn.losses.MeanSquaredError(dtype="float32")
    assert ours(p, np.array([[1.0, 2.0]])) == 0.0
    assert gn.losses.MeanSquaredError()(p, np.array([[1.0, 2.0]])) > 0


def test_dtype_in_fit_and_files(tmp_path, keras):
    """A float32 model with a float64 loss: its gradient is cast back to float32 (Keras' too);
    the file keeps the dtype."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile(loss=gn.losses.CategoricalCrossentropy(dtype="float64"), optimizer=gn.optimizers.SGD(0.5))
    km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    km.set_weights(model.get_weights())
    km.compile(loss=keras.losses.CategoricalCrossentropy(dtype="float64"), optimizer=keras.optimizers.SGD(0.5))
    h = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h, kh, rtol=1e-5)
    for a, b in zip(model.get_weights(), km.get_weights()):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.loss.dtype == "float64" and type(loaded.loss).__name__ == "CategoricalCrossentropy"
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-7)


def test_dtype_refusals():
    with pytest.raises(ValueError, match="float16"):
        gn.losses.MeanSquaredError(dtype="float16")
    with pytest.raises(ValueError, match="dtype must be"):
        gn.losses.Huber(dtype="int32")
    assert gn.losses.Huber(dtype=np.float64).dtype == "float64"
    assert gn.losses.Huber().dtype is None


# -- 4. axis= -----------------------------------------------------------------------------------------

AXIS_CASES = [("CategoricalCrossentropy", {}), ("CategoricalCrossentropy", {"from_logits": True}),
              ("CategoricalCrossentropy", {"label_smoothing": 0.1}),
              ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}),
              ("BinaryCrossentropy", {}), ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
              ("CategoricalFocalCrossentropy", {}), ("CategoricalFocalCrossentropy", {"from_logits": True, "gamma": 1.0}),
              ("CategoricalFocalCrossentropy", {"label_smoothing": 0.1, "alpha": 0.4}),
              ("BinaryFocalCrossentropy", {"apply_class_balancing": True}),
              ("BinaryFocalCrossentropy", {"from_logits": True, "gamma": 1.0})]


def _axis_data(shape, axis, name, settings, rng):
    logits = settings.get("from_logits", False)
    p = rng.normal(size=shape) if logits else rng.uniform(0.05, 1.0, size=shape)
    if name.startswith("Binary"):
        if not logits:
            p = np.clip(p, 0.05, 0.95)
        y = rng.integers(0, 2, size=shape).astype(float)
    else:
        y = rng.uniform(0, 1, size=shape)
        y /= y.sum(axis=axis, keepdims=True)
    return p, y


@pytest.mark.parametrize("name, settings", AXIS_CASES)
@pytest.mark.parametrize("shape, axis", [((4, 3, 5), 1), ((3, 4, 2, 5), 1), ((4, 3, 5), -2), ((3, 2, 4, 3), 2)])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_axis_values_and_gradients_are_keras(keras, name, settings, shape, axis, reduction):
    import tensorflow as tf
    rng = np.random.default_rng(7)
    p, y = _axis_data(shape, axis, name, settings, rng)
    w = rng.uniform(0.5, 2, size=shape[0])
    ours = getattr(gn.losses, name)(axis=axis, reduction=reduction, **settings)
    theirs = getattr(keras.losses, name)(axis=axis, reduction=reduction, dtype="float64", **settings)
    softmax_kernel = name == "CategoricalCrossentropy" and settings.get("from_logits")
    if softmax_kernel and axis < 0:
        # Keras-TF's softmax_cross_entropy_with_logits fails on a negative axis other than -1
        # ("Requires start <= limit"): the same axis counted from the front is Keras' oracle
        theirs = getattr(keras.losses, name)(axis=axis % len(shape), reduction=reduction, dtype="float64", **settings)
    for weights in (None, w):
        v = tf.Variable(p)
        with tf.GradientTape() as tape:
            # (Keras 3.15 broadcasts weights against values (n, L) only when shaped (n, 1))
            kv = theirs(y, v, sample_weight=None if weights is None else weights.reshape((-1,) + (1,) * (len(shape) - 2)))
            total = tf.reduce_sum(kv)
        kg = tape.gradient(total, v).numpy()
        value = ours(p, y) if weights is None else ours(p, y, sample_weight=weights)
        np.testing.assert_allclose(value, kv.numpy(), rtol=1e-10, atol=1e-13)
        if reduction != "none":
            grad = ours.gradient(p, y) if weights is None else ours.weighted_gradient(p, y, weights)
            if not (softmax_kernel and settings.get("label_smoothing")):
                # (smoothed over the last axis, the targets along another do not sum to 1, and
                # TensorFlow's softmax kernel gives p - t, not the derivative of its value:
                # glassnet's is the derivative, PyTorch's, checked by differences below and
                # in test_axis_one_is_torch_cross_entropy_with_a_class_axis)
                np.testing.assert_allclose(grad, kg, rtol=1e-9, atol=1e-12)
            f = (lambda q: ours(q, y)) if weights is None else (lambda q: ours.weighted(q, y, weights))
            np.testing.assert_allclose(grad, _numeric(f, p.copy()), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_axis_one_is_torch_cross_entropy_with_a_class_axis(torch, smoothing):
    """PyTorch's cross_entropy takes the classes on axis 1 of (N, C, L): Keras' axis=1."""
    rng = np.random.default_rng(8)
    z = rng.normal(size=(4, 3, 6)) * 2
    labels = rng.integers(0, 3, size=(4, 6))
    y = np.moveaxis(np.eye(3)[labels], -1, 1)             # (4, 3, 6), one-hot along axis 1
    zt = torch.tensor(z, requires_grad=True)
    # Keras smooths over the last axis' size (6), whatever the class axis: the same soft targets here
    t = torch.tensor(y) * (1 - smoothing) + smoothing / 6
    total = torch.nn.functional.cross_entropy(zt, t)
    total.backward()
    loss = gn.losses.CategoricalCrossentropy(from_logits=True, axis=1, label_smoothing=smoothing)
    assert loss(z, y) == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(z, y), zt.grad.numpy(), rtol=1e-10, atol=1e-13)
    if not smoothing:
        plain = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(labels), reduction="none")
        np.testing.assert_allclose(gn.losses.CategoricalCrossentropy(from_logits=True, axis=1, reduction="none")(z, y),
                                   plain.numpy(), rtol=1e-12)


def test_axis_one_fits_as_keras(keras):
    """A model ending in (n, classes, steps) with a softmax over axis 1, CategoricalCrossentropy(axis=1):
    the loss does not fuse (the model's softmax is not over the last axis); histories and weights
    as Keras 3.15's."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(24, 5, 4)).astype(np.float32)
    y = np.moveaxis(np.eye(3, dtype=np.float32)[rng.integers(0, 3, (24, 5))], -1, 1)     # (24, 3, 5)
    L = gn.layers
    model = gn.Sequential([L.Input((5, 4)), L.Dense(3), L.Permute((2, 1)), L.Softmax(axis=1)], seed=0)
    loss = gn.losses.CategoricalCrossentropy(axis=1)
    model.compile(loss=loss, optimizer=gn.optimizers.SGD(0.3))
    assert not model._fused
    K = keras.layers
    km = keras.Sequential([keras.Input((5, 4)), K.Dense(3), K.Permute((2, 1)), K.Softmax(axis=1)])
    km.set_weights(model.get_weights())
    km.compile(loss=keras.losses.CategoricalCrossentropy(axis=1), optimizer=keras.optimizers.SGD(0.3))
    h = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h, kh, rtol=1e-5)
    for a, b in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_binary_axis_keeps_the_fused_sigmoid_path(keras):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(16, 4, 3)).astype(np.float32)
    y = rng.integers(0, 2, (16, 4, 2)).astype(np.float32)
    model = gn.Sequential([gn.layers.Input((4, 3)), gn.layers.Dense(2, activation="sigmoid")], seed=0)
    model.compile(loss=gn.losses.BinaryCrossentropy(axis=1), optimizer=gn.optimizers.SGD(0.5))
    assert model._fused
    km = keras.Sequential([keras.Input((4, 3)), keras.layers.Dense(2, activation="sigmoid")])
    km.set_weights(model.get_weights())
    km.compile(loss=keras.losses.BinaryCrossentropy(axis=1), optimizer=keras.optimizers.SGD(0.5))
    h = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    kh = km.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h, kh, rtol=1e-5)


def test_axis_fit_checks_targets_along_the_axis():
    model = gn.Sequential([gn.layers.Input((5, 4)), gn.layers.Dense(3), gn.layers.Permute((2, 1)),
                           gn.layers.Softmax(axis=1)], seed=0)
    model.compile(loss=gn.losses.CategoricalCrossentropy(axis=1), optimizer="sgd")
    x = np.zeros((2, 5, 4), np.float32)
    good = np.moveaxis(np.eye(3, dtype=np.float32)[[[0, 1, 2, 0, 1]] * 2], -1, 1)
    model.train_on_batch(x, good)               # rows along axis 1 sum to 1 (along the last they do not)
    with pytest.raises(ValueError, match="distribution"):
        model.train_on_batch(x, np.ones((2, 3, 5), np.float32))


def test_axis_config_files_and_keras_dicts(tmp_path):
    loss = gn.losses.CategoricalFocalCrossentropy(axis=1, gamma=1.0, dtype="float64")
    assert gn.losses.changed_settings(loss) == {"gamma": 1.0, "axis": 1, "dtype": "float64"} or \
        gn.losses.changed_settings(loss) == {"axis": 1, "dtype": "float64", "gamma": 1.0}
    again = gn.losses.deserialize(gn.saving.serialize_keras_object(loss))
    assert (type(again).__name__, again.axis, again.dtype, again.gamma) == ("CategoricalFocalCrossentropy", 1, "float64", 1.0)
    keras_dict = {"class_name": "CategoricalCrossentropy", "config": {"name": "categorical_crossentropy",
                  "reduction": "sum_over_batch_size", "from_logits": True, "label_smoothing": 0.0, "axis": 1}}
    assert gn.losses.get(keras_dict).axis == 1
    model = gn.Sequential([gn.layers.Input((5, 4)), gn.layers.Dense(3), gn.layers.Permute((2, 1))], seed=0)
    model.compile(loss=gn.losses.CategoricalCrossentropy(from_logits=True, axis=1), optimizer="sgd")
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").loss.axis == 1
    assert "axis=1" in repr(gn.load_model(tmp_path / "m.npz").loss)


def test_axis_refusals():
    with pytest.raises(ValueError, match="batch axis"):
        gn.losses.CategoricalCrossentropy(axis=0)
    with pytest.raises(ValueError, match="axis must be an integer"):
        gn.losses.BinaryCrossentropy(axis=1.0)
    with pytest.raises(ValueError, match="does not fit"):
        gn.losses.CategoricalCrossentropy(axis=3)(np.ones((2, 3, 4)) / 3, np.ones((2, 3, 4)) / 3)
    with pytest.raises(ValueError, match="does not fit"):
        gn.losses.CategoricalCrossentropy(axis=-3)(np.ones((2, 3, 4)) / 3, np.ones((2, 3, 4)) / 3)
    with pytest.raises(ValueError, match="only one its TensorFlow"):
        gn.losses.SparseCategoricalCrossentropy(axis=-2)
    with pytest.raises(ValueError, match="only one Keras' TensorFlow"):       # axis 1 of 2: not the last
        gn.losses.SparseCategoricalCrossentropy(axis=1)(np.ones((2, 3, 4)) / 4, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="one weight per class"):
        gn.losses.CategoricalFocalCrossentropy(alpha=[0.2, 0.3, 0.5], axis=1)
    with pytest.raises(ValueError, match="label_smoothing=1"):
        gn.losses.CategoricalCrossentropy(axis=1, label_smoothing=1.0)(np.ones((2, 3, 4)) / 3, np.ones((2, 3, 4)) / 3)


def test_a_subclass_of_yours_takes_the_axis_and_dtype_of_its_base():
    class Mine(gn.losses.CategoricalCrossentropy):
        pass

    rng = np.random.default_rng(11)
    p = rng.uniform(0.1, 1, (3, 4, 5))
    y = rng.uniform(0, 1, (3, 4, 5))
    y /= y.sum(1, keepdims=True)
    mine = Mine(axis=1, dtype="float32")
    assert isinstance(mine, Mine) and isinstance(mine, gn.losses.CategoricalCrossentropy)
    expected = gn.losses.CategoricalCrossentropy(axis=1, dtype="float32")
    assert mine(p, y) == expected(p, y)
    np.testing.assert_array_equal(mine.gradient(p, y), expected.gradient(p, y))
    assert mine.gradient(p, y).dtype == np.float64


def test_reduction_none_with_another_axis_on_a_tape_is_refused_not_wrong():
    """Values over axis 1 of (n, 3, 3) have the shape of rows of the last axis; the tape does not
    take them as such."""
    model = gn.Sequential([gn.layers.Dense(3, activation="sigmoid")], dtype="float64", seed=0)
    model.build((None, 3, 2))
    x, y = np.ones((2, 3, 2)), np.zeros((2, 3, 3))
    loss = gn.losses.BinaryCrossentropy(axis=1, reduction="none")
    with gn.GradientTape() as tape:
        v = loss(model(x, training=True), y)
    with pytest.raises(ValueError, match="one loss per sample"):
        tape.gradient(v, model.trainable_weights)


def test_axis_of_the_last_axis_keeps_the_fused_softmax_path_bit_for_bit():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    histories = []
    for axis in (-1, 1):
        model = gn.Sequential([gn.layers.Dense(4, activation="softmax", input_dim=3)], seed=0)
        model.compile(loss=gn.losses.CategoricalCrossentropy(axis=axis), optimizer=gn.optimizers.SGD(0.5))
        assert model._fused
        histories.append((model.fit(x, y, epochs=2, batch_size=4, verbose=0).history["loss"], model.get_weights()))
    assert histories[0][0] == histories[1][0]
    for a, b in zip(histories[0][1], histories[1][1]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_axis_one_after_a_softmax_over_the_last_axis_is_torch(torch, smoothing):
    """A model whose softmax runs over the last axis, the loss's classes along axis 1: the value of
    the outputs (divided along axis 1, clipped) and its gradient back through that softmax, as
    PyTorch's autograd of the same formula (float64)."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(5, 4, 3))
    y = rng.uniform(0, 1, size=(5, 4, 3))
    y /= y.sum(1, keepdims=True)
    model = gn.Sequential([gn.layers.Input((4, 3)), gn.layers.Dense(3, activation="softmax")], dtype="float64", seed=0)
    model.compile(loss=gn.losses.CategoricalCrossentropy(axis=1, label_smoothing=smoothing),
                  optimizer=gn.optimizers.SGD(1.0))
    assert model._fused
    W, b = model.get_weights()
    value = model.train_on_batch(x, y)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    p = torch.softmax(torch.tensor(x) @ Wt + bt, -1)
    r = torch.clamp(p / p.sum(1, keepdim=True), 1e-7, 1 - 1e-7)
    t = torch.tensor(y) * (1 - smoothing) + smoothing / 3
    total = -(t * torch.log(r)).sum(1).mean()
    total.backward()
    assert value == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(model.get_weights()[0], W - Wt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.get_weights()[1], b - bt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_axis_with_weights_per_step_is_refused_not_read_as_rows():
    model = gn.Sequential([gn.layers.Input((5, 4)), gn.layers.Dense(3), gn.layers.Permute((2, 1)),
                           gn.layers.Softmax(axis=1)], seed=0)
    model.compile(loss=gn.losses.CategoricalCrossentropy(axis=1), optimizer="sgd")
    y = np.moveaxis(np.eye(3, dtype=np.float32)[np.zeros((2, 5), int)], -1, 1)
    with pytest.raises(ValueError, match="scored as rows of the last axis"):
        model.train_on_batch(np.zeros((2, 5, 4), np.float32), y, sample_weight=np.ones((2, 3), np.float32))


def test_keras_files_keep_axis_and_dtype_both_ways(tmp_path, keras):
    L = gn.layers
    model = gn.Sequential([L.Input((5, 4)), L.Dense(3), L.Permute((2, 1)), L.Softmax(axis=1)], seed=0)
    model.compile(loss=gn.losses.CategoricalCrossentropy(axis=1, dtype="float64", label_smoothing=0.1), optimizer="sgd")
    model.save(tmp_path / "m.keras", save_format="keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert theirs.loss.get_config()["axis"] == 1 and theirs.loss.dtype == "float64"
    ours = gn.load_model(tmp_path / "m.keras").loss
    assert (ours.axis, ours.dtype, ours.label_smoothing) == (1, "float64", 0.1)
