"""Review of the losses (session 46, losses2): the corners a differential fuzz against PyTorch and
Keras 3.15 found open. Each test is small; the oracles are skipped when absent."""
import itertools

import numpy as np
import pytest

import glassnet as gn


# -- 1. CategoricalCrossentropy objects on a GradientTape, targets whose rows do not sum to 1 -------

def _torch_cce_grads(torch, x, W, b, y, w, label_smoothing, reduction, rank):
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    z = torch.tensor(x) @ Wt + bt
    t = torch.tensor(y) * (1 - label_smoothing) + label_smoothing / y.shape[-1]
    values = -(t * torch.log_softmax(z, -1)).sum(-1)
    weights = torch.ones(x.shape[0], dtype=torch.float64) if w is None else torch.tensor(w)
    weights = weights.reshape((x.shape[0],) + (1,) * (rank - 2)).expand(values.shape)
    weighted = values * weights
    total = {"sum": weighted.sum(), "mean_with_sample_weight": weighted.sum() / weights.sum()}.get(
        reduction, weighted.mean())
    total.backward()
    return total.item(), Wt.grad.numpy(), bt.grad.numpy()


CCE_CASES = [c for c in itertools.product([2, 3], [0.0, 0.1], ["sum_over_batch_size", "sum", "mean_with_sample_weight"],
                                          [False, True], [False, True], ["object", "function"])
             if c[5] == "object" or (c[2] == "sum_over_batch_size" and not c[3])]


@pytest.mark.parametrize("rank, smoothing, reduction, weighted, from_logits, form", CCE_CASES)
def test_cce_on_a_tape_takes_the_general_gradient_for_rows_not_summing_to_1(torch, rank, smoothing, reduction,
                                                                             weighted, from_logits, form):
    """The loss object (any reduction, sample weights, label smoothing; on logits or after a softmax
    output) and the function after a softmax output took dL/dz = softmax - y, the loss's own only
    for rows summing to 1; multi-hot rows (and a row of zeros) gave another gradient than the value's
    (0.12 to 0.37 off). Now PyTorch's to 1e-10 (Keras-TF's kernel keeps softmax - y: docs/losses.md)."""
    rng = np.random.default_rng(1)
    shape = (4, 5) if rank == 2 else (4, 3, 5)
    x = rng.normal(size=shape)
    y = rng.integers(0, 2, size=shape[:-1] + (3,)).astype(float)
    y[0] = 0.0
    w = rng.uniform(0.5, 2.0, size=4) if weighted else None
    model = gn.Sequential([gn.layers.Dense(3, activation=None if from_logits else "softmax")], dtype="float64", seed=0)
    model.build((None,) + shape[1:])
    W, b = model.get_weights()
    with gn.GradientTape() as tape:
        p = model(x, training=True)
        if form == "object":
            loss = gn.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=smoothing,
                                                     reduction=reduction)(p, y, sample_weight=w)
        else:
            loss = gn.ops.mean(gn.losses.categorical_crossentropy(y, p, from_logits=from_logits,
                                                                  label_smoothing=smoothing))
    grads = tape.gradient(loss, model.trainable_weights)
    value, gW, gb = _torch_cce_grads(torch, x, W, b, y, w, smoothing, reduction, rank)
    assert float(np.asarray(loss)) == pytest.approx(value, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]), gW, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(grads[1]), gb, rtol=0, atol=1e-10)


def test_cce_object_on_watched_logits_takes_the_general_gradient(torch):
    """The plain case of the note: CategoricalCrossentropy(from_logits=True) on a watched tensor."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3))
    y = np.array([[1, 1, 0], [0, 0, 0], [0.2, 0.3, 0.1], [0, 1, 0]], float)
    v = gn.Variable(z)
    with gn.GradientTape() as tape:
        loss = gn.losses.CategoricalCrossentropy(from_logits=True)(v, y)
    g = np.asarray(tape.gradient(loss, v))
    zt = torch.tensor(z, requires_grad=True)
    (-(torch.tensor(y) * torch.log_softmax(zt, -1)).sum(-1)).mean().backward()
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=0, atol=1e-12)


# -- 2. a float64 run with a regularizer drifts from Keras-TF: its factor is rounded to float32 ------

def test_keras_tf_float64_regularizer_factor_is_float32_rounded(keras):
    """Explains the float64 run (hard_sigmoid Dense, activity regularizer, Adadelta) ending away from
    Keras: Keras-TF's L2 casts its Python factor through a float32 constant (docs/keras_parity.md)."""
    x = np.ones((2, 2))
    assert float(keras.regularizers.L2(0.01)(x)) == 4 * float(np.float32(0.01)) != 4 * 0.01
    assert float(gn.regularizers.L2(0.01)(x)) == 4 * 0.01


@pytest.mark.parametrize("factor", ["float32", "exact"])
def test_float64_activity_regularizer_adadelta_run(keras, torch, factor):
    """With Keras-TF's float32-rounded factor glassnet's run is Keras' to 1e-13; with the exact factor
    its first gradient is PyTorch's float64 one to 1e-15 (Keras' 2e-11 from both)."""
    previous = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    try:
        _float64_run(keras, torch, factor)
    finally:
        keras.backend.set_floatx(previous)


def _float64_run(keras, torch, factor):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 6)), rng.normal(size=(32, 1))
    km = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="hard_sigmoid",
                           activity_regularizer=keras.regularizers.L2(0.01)), keras.layers.Dense(1)])
    l2 = float(np.float32(0.01)) if factor == "float32" else 0.01
    gm = gn.Sequential([gn.layers.Dense(8, activation="hard_sigmoid", activity_regularizer=gn.regularizers.L2(l2)),
                        gn.layers.Dense(1)], dtype="float64", seed=0)
    gm.build((None, 6))
    W0 = km.get_weights()
    gm.set_weights(W0)
    if factor == "exact":
        gm.compile(loss="mse", optimizer=gn.optimizers.SGD(1.0))
        gm.train_on_batch(X, Y)
        ts = [torch.tensor(w, requires_grad=True) for w in W0]
        a = torch.clamp((torch.tensor(X) @ ts[0] + ts[1]) / 6 + 0.5, 0, 1)
        total = ((a @ ts[2] + ts[3] - torch.tensor(Y)) ** 2).mean() + 0.01 * (a ** 2).sum() / len(X)
        total.backward()
        for w0, w1, t in zip(W0, gm.get_weights(), ts):
            np.testing.assert_allclose(w0 - w1, t.grad.numpy(), rtol=0, atol=1e-15)
        return
    km.compile(loss="mse", optimizer=keras.optimizers.Adadelta(learning_rate=1.0))
    gm.compile(loss="mse", optimizer=gn.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7))
    hk = km.fit(X, Y, epochs=5, batch_size=8, shuffle=False, verbose=0).history["loss"]
    hg = gm.fit(X, Y, epochs=5, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hg, hk, rtol=1e-13)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


# -- 3. BinaryFocalCrossentropy after a sigmoid output: the cross-entropy of the logits, Keras-TF's --

@pytest.mark.parametrize("layout", ["dense_sigmoid", "activation_layer"])
def test_binary_focal_after_a_saturated_sigmoid_is_keras_tf(keras, layout):
    """glassnet clipped the probabilities (value 10.51, a kernel step of 0.0125) where Keras-TF reads
    the logits behind the sigmoid (12.50, 0.0625), as glassnet's own binary_crossentropy does."""
    X = np.array([[1.0], [2.0], [-1.0], [0.5]], "float32")
    Y = np.array([[0], [1], [1], [0]], "float32")
    if layout == "dense_sigmoid":
        km = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
        gm = gn.Sequential([gn.layers.Dense(1, activation="sigmoid")], seed=0)
    else:
        km = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1), keras.layers.Activation("sigmoid")])
        gm = gn.Sequential([gn.layers.Dense(1), gn.layers.Activation("sigmoid")], seed=0)
    gm.build((None, 1))
    km.set_weights([np.array([[20.0]], "float32"), np.array([0.0], "float32")])
    gm.set_weights(km.get_weights())
    settings = dict(apply_class_balancing=True, alpha=0.4, gamma=1.5, label_smoothing=0.05)
    km.compile(loss=keras.losses.BinaryFocalCrossentropy(**settings), optimizer=keras.optimizers.SGD(0.1))
    gm.compile(loss=gn.losses.BinaryFocalCrossentropy(**settings), optimizer=gn.optimizers.SGD(0.1))
    assert gm.evaluate(X, Y, verbose=0) == pytest.approx(km.evaluate(X, Y, verbose=0), rel=1e-6)
    km.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    gm.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("balancing, gamma, smoothing, weighted",
                         [(False, 2.0, 0.0, False), (True, 1.5, 0.1, True), (True, 0.0, 0.0, True),
                          (False, 0.5, 0.1, False)])
def test_binary_focal_fused_value_and_gradient_match_torch(torch, balancing, gamma, smoothing, weighted):
    """The fused value and dL/dz (with and without the logits, any reduction of the class) against
    PyTorch's autograd of Keras' formula with the cross-entropy from the logits, float64, to 1e-12."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 3)) * 12            # some sigmoids saturate (|z| > 36: exactly 0 or 1)
    z[0, 0], z[1, 1] = 40.0, -40.0
    y = rng.integers(0, 2, size=(5, 3)).astype(float)
    w = rng.uniform(0.5, 2.0, size=5) if weighted else None
    loss = gn.losses.BinaryFocalCrossentropy(apply_class_balancing=balancing, alpha=0.3, gamma=gamma,
                                             label_smoothing=smoothing)
    a = 1.0 / (1.0 + np.exp(-z))
    zt = torch.tensor(z, requires_grad=True)
    t = torch.tensor(y) * (1 - smoothing) + 0.5 * smoothing
    p = torch.sigmoid(zt)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(zt, t, reduction="none")
    terms = torch.clamp(1 - (t * p + (1 - t) * (1 - p)), min=0) ** gamma * bce
    if balancing:
        terms = terms * (t * 0.3 + (1 - t) * 0.7)
    if weighted:
        terms = terms * torch.tensor(w)[:, None]
    total = terms.mean()
    total.backward()
    value = loss.value_from_logits(z, a, y) if w is None else loss.weighted_from_logits(z, a, y, w)
    assert value == pytest.approx(total.item(), rel=1e-12)
    grads = [loss.gradient_from_logits(a, y) if w is None else loss.weighted_gradient_from_logits(a, y, w)]
    if w is None:
        grads.append(loss.from_logits_and_gradient(z, a, y)[1])
    for g in grads:
        np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-9, atol=1e-12)


# -- 4. CategoricalGeneralizedCrossEntropy on outputs with positions (labels (n, steps)) -------------

@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_generalized_ce_takes_labels_per_position_as_keras(keras, reduction):
    """Keras one-hot encodes labels (n, steps) against outputs (n, steps, k), one value per position;
    glassnet's class refused them ("expected integer class labels of shape (5,)"), fit took them."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 1.0, size=(5, 3, 4))
    p /= p.sum(-1, keepdims=True)
    labels = rng.integers(0, 4, size=(5, 3))
    theirs = keras.losses.CategoricalGeneralizedCrossEntropy(q=0.3, reduction=reduction, dtype="float64")
    v = tf.Variable(p)
    with tf.GradientTape() as tape:
        expected = theirs(labels, v)
        total = tf.reduce_sum(expected)
    expected_grad = tape.gradient(total, v).numpy()
    ours = gn.losses.CategoricalGeneralizedCrossEntropy(q=0.3, reduction=reduction)
    np.testing.assert_allclose(ours(p, labels), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gn.losses.categorical_generalized_cross_entropy(labels, p, q=0.3),
                               keras.losses.categorical_generalized_cross_entropy(labels, p, q=0.3).numpy(), rtol=1e-12)
    if reduction != "none":
        np.testing.assert_allclose(ours.gradient(p, labels), expected_grad, rtol=1e-12, atol=1e-15)


def test_generalized_ce_on_a_tape_after_a_softmax_with_positions(torch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 5))
    labels = rng.integers(0, 3, size=(4, 3))
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax")], dtype="float64", seed=0)
    model.build((None, 3, 5))
    W, b = model.get_weights()
    with gn.GradientTape() as tape:
        loss = gn.losses.CategoricalGeneralizedCrossEntropy(q=0.4)(model(x, training=True), labels)
    grads = tape.gradient(loss, model.trainable_weights)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    p = torch.softmax(torch.tensor(x) @ Wt + bt, -1).gather(-1, torch.tensor(labels)[..., None])[..., 0]
    total = ((1 - p ** 0.4) / 0.4).mean()
    total.backward()
    assert float(np.asarray(loss)) == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]), Wt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(np.asarray(grads[1]), bt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_log_cosh_float64_differs_from_keras_tf_by_its_float32_log2_alone(keras):
    """The differential fuzz's only value difference in float64 (docs/keras_parity.md)."""
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    theirs = keras.losses.log_cosh(t, p).numpy()
    ours = gn.losses.log_cosh(t, p)
    np.testing.assert_allclose(ours - theirs, float(np.float32(np.log(2.0))) - np.log(2.0), rtol=0, atol=1e-15)
    x = p - t
    np.testing.assert_allclose(ours, np.mean(np.log(np.cosh(x)), axis=-1), rtol=0, atol=1e-15)


# -- 5. dice / tversky functions on a tape with an axis that is not trailing --------------------------

@pytest.mark.parametrize("fn, kwargs", [("dice", {"axis": 1}), ("tversky", {"axis": 1, "alpha": 0.3, "beta": 0.7}),
                                        ("dice", {"axis": (0, 1)}), ("tversky", {"axis": (1, 2)})])
def test_overlap_functions_on_a_tape_with_a_middle_axis_are_keras(keras, fn, kwargs):
    """dice(y, p, axis=1) on (n, steps, k) gives values (n, k); the tape spread their gradient as if
    they were the leading axes, (n, k, 1) against (n, steps, k), and failed to broadcast."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, size=(4, 3, 5))
    t = rng.integers(0, 2, size=(4, 3, 5)).astype(float)
    weights = rng.uniform(0.5, 2.0, size=getattr(keras.losses, fn)(t, p, **kwargs).shape)
    v = tf.Variable(p)
    with tf.GradientTape() as tape:
        expected = getattr(keras.losses, fn)(t, v, **kwargs)
        total = tf.reduce_sum(expected * weights)
    expected_grad = tape.gradient(total, v).numpy()
    ours = gn.Variable(p)
    with gn.GradientTape() as tape:
        values = getattr(gn.losses, fn)(t, ours, **kwargs)
        s = gn.ops.sum(values * weights)
    np.testing.assert_allclose(np.asarray(values), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(tape.gradient(s, ours)), expected_grad, rtol=1e-10, atol=1e-13)


# -- 6. Keras' cross-entropy functions on a tape after a saturated sigmoid: the value of the gradient --

@pytest.mark.parametrize("fn", ["binary_crossentropy", "binary_focal_crossentropy"])
def test_crossentropy_function_on_a_tape_after_a_sigmoid_gives_the_fused_value(keras, fn):
    """The gradient was the fused one (from the logits, Keras-TF's) but the value the clipped one:
    10.515 where Keras-TF (and the loss object) give 12.500."""
    import tensorflow as tf
    X = np.array([[1.0], [2.0], [-1.0], [0.5]], "float32")
    Y = np.array([[0], [1], [1], [0]], "float32")
    weights = [np.array([[20.0]], "float32"), np.array([0.0], "float32")]
    km = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    km.set_weights(weights)
    gm = gn.Sequential([gn.layers.Dense(1, activation="sigmoid")], seed=0)
    gm.build((None, 1))
    gm.set_weights(weights)
    with tf.GradientTape() as tape:
        values = getattr(keras.losses, fn)(Y, km(X))
        total = tf.reduce_mean(values)
    expected = tape.gradient(total, km.trainable_weights)
    with gn.GradientTape() as tape:
        ours = getattr(gn.losses, fn)(Y, gm(X, training=True))
        mean = gn.ops.mean(ours)
    grads = tape.gradient(mean, gm.trainable_weights)
    np.testing.assert_allclose(np.asarray(ours), values.numpy(), rtol=1e-6, atol=1e-12)
    assert float(np.asarray(mean)) == pytest.approx(float(total), rel=1e-6)
    for a, b in zip(grads, expected):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-5, atol=1e-7)
