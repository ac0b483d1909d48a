"""Second-order gradients (glassnet._tape_second): a nested tape's gradient recorded on the outer tape,
as keras.io's WGAN-GP gradient penalty needs. Against Keras 3.15 + nested tf.GradientTape (the
keras.io discriminator, same weights and interpolation: d_loss, every weight's gradient, two Adam
steps), torch autograd with create_graph=True in float64 (Dense and Conv1D models, a Dropout mask),
float64 central differences; refusals by name; first-order results unchanged."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from central_differences import numeric

L = gn.layers


def _discriminator(lib, rate=0.0, dtype="float32"):
    """keras.io's WGAN-GP critic, cut to two conv blocks (28x28x1 images, padded to 32x32)."""
    K = lib.layers
    inp = K.Input((28, 28, 1))
    x = K.ZeroPadding2D((2, 2))(inp)
    x = K.LeakyReLU(0.2)(K.Conv2D(64, 5, strides=2, padding="same")(x))
    x = K.Dropout(rate)(K.LeakyReLU(0.2)(K.Conv2D(128, 5, strides=2, padding="same")(x)))
    out = K.Dense(1)(K.Dropout(rate)(K.Flatten()(x)))
    return lib.Model(inp, out, **({"dtype": dtype, "seed": 0} if lib is gn else {}))


def _generator(lib, dtype="float32"):
    K = lib.layers
    kw = {"seed": 3, "dtype": dtype} if lib is gn else {}
    return lib.Sequential([K.Input((8,)), K.Dense(28 * 28, activation="tanh"), K.Reshape((28, 28, 1))], **kw)


def _d_step(lib, D, G, z, real, alpha, tape_class, math):
    """keras.io's WGAN-GP train_step's critic loss: d_cost + 10 gp; gradients for D's and G's weights."""
    with tape_class() as tape:
        fake = G(z, training=True)
        d_cost = math.mean(D(fake, training=True)) - math.mean(D(real, training=True))
        interpolated = real + alpha * (fake - real)
        with tape_class() as gp_tape:
            gp_tape.watch(interpolated)
            pred = D(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = math.sqrt(math.sum(math.square(grads), axis=[1, 2, 3]))
        gp = math.mean((norm - 1.0) ** 2)
        d_loss = d_cost + 10.0 * gp
    d_grads, g_grads = tape.gradient(d_loss, [D.trainable_weights, G.trainable_weights])
    return float(d_loss), [np.asarray(g) for g in d_grads], [np.asarray(g) for g in g_grads]


def test_wgan_gp_critic_matches_keras(keras):
    """d_loss, every critic weight's gradient and the generator's (through the interpolated
    images' recorded parent) against Keras 3.15 + nested tf.GradientTape, then two Adam steps."""
    import tensorflow as tf

    class TFMath:
        mean, sqrt, sum, square = tf.reduce_mean, tf.sqrt, tf.reduce_sum, tf.square

    D, KD = _discriminator(gn), _discriminator(keras)
    G, KG = _generator(gn), _generator(keras)
    KD.set_weights(D.get_weights())
    KG.set_weights(G.get_weights())
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 8)).astype(np.float32)
    real = rng.normal(size=(4, 28, 28, 1)).astype(np.float32)
    alpha = rng.uniform(size=(4, 1, 1, 1)).astype(np.float32)
    ours = _d_step(gn, D, G, z, real, alpha, gn.GradientTape, ops)
    theirs = _d_step(keras, KD, KG, tf.constant(z), tf.constant(real), tf.constant(alpha), tf.GradientTape, TFMath)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-5)
    for a, b in zip(ours[1] + ours[2], theirs[1] + theirs[2]):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * (np.abs(b).max() + 1e-3))
    # two critic steps with the keras.io example's Adam, in float64: in float32 a weight whose
    # gradient is rounding noise (or a LeakyReLU input at 0) moves by +-lr either way
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        _adam_steps(keras, tf, TFMath, z, real, alpha)
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def _adam_steps(keras, tf, TFMath, z, real, alpha):
    D, KD = _discriminator(gn, dtype="float64"), _discriminator(keras)
    G, KG = _generator(gn, dtype="float64"), _generator(keras)
    KD.set_weights(D.get_weights())
    KG.set_weights(G.get_weights())
    z, real, alpha = (v.astype(np.float64) for v in (z, real, alpha))
    # (epsilon 1e-12: Keras adds it before the bias correction, glassnet after, as torch does)
    opt = gn.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.9, epsilon=1e-12)
    kopt = keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.9, epsilon=1e-12)
    for _ in range(2):
        ours = _d_step(gn, D, G, z, real, alpha, gn.GradientTape, ops)
        theirs = _d_step(keras, KD, KG, tf.constant(z), tf.constant(real), tf.constant(alpha), tf.GradientTape,
                         TFMath)
        assert ours[0] == pytest.approx(theirs[0], rel=1e-7)
        opt.apply_gradients(zip(ours[1], D.trainable_weights))
        kopt.apply_gradients(zip(theirs[1], KD.trainable_weights))
    for a, b in zip(D.get_weights(), KD.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def _penalty_grads(model, x, sources_of, output_gradients=None):
    """mean((|dD/dx| - 1)^2) and its gradients w.r.t. the model's weights and x (watched on both tapes)."""
    with gn.GradientTape() as tape:
        tape.watch(x)
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        g = gp_tape.gradient(pred, x, output_gradients=output_gradients)
        axes = list(range(1, x.ndim))
        pen = ops.mean((ops.sqrt(ops.sum(ops.square(g), axis=axes)) - 1.0) ** 2)
    return float(pen), np.asarray(g), tape.gradient(pen, sources_of(model) + [x])


def _mlp(activations):
    layers = [L.Input((5,))] + [L.Dense(6, activation=a) for a in activations] + [L.Dense(1)]
    return gn.Sequential(layers, seed=0, dtype="float64")


TORCH_ACTIVATIONS = {"tanh": "tanh", "sigmoid": "sigmoid", "elu": "elu", "softplus": "softplus", "gelu": "gelu",
                     "relu": "relu", "linear": None}


def _torch_penalty(torch, forward, params, x, seed=None):
    xt = torch.tensor(x, requires_grad=True)
    pred = forward(xt)
    g, = torch.autograd.grad(pred, xt, torch.ones_like(pred) if seed is None else torch.tensor(seed), create_graph=True)
    pen = ((g.square().flatten(1).sum(1).sqrt() - 1) ** 2).mean()
    return float(pen), g.detach().numpy(), [None if r is None else r.numpy() for r in
                                            torch.autograd.grad(pen, params + [xt], allow_unused=True)]


@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("elu", "softplus"), ("gelu", "relu", "linear")])
def test_dense_penalty_matches_torch_float64(torch, acts):
    model = _mlp(acts)
    x = np.random.default_rng(1).normal(size=(4, 5))
    seed = np.random.default_rng(2).normal(size=(4, 1))
    W = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]

    def forward(h):
        for k, a in enumerate(acts + (None,)):
            h = h @ W[2 * k] + W[2 * k + 1]
            h = h if TORCH_ACTIVATIONS.get(a) is None else getattr(torch.nn.functional, TORCH_ACTIVATIONS[a])(h)
        return h
    for out_grads in (None, seed):
        pen, g, grads = _penalty_grads(model, x, lambda m: m.trainable_weights, out_grads)
        tpen, tg, tgrads = _torch_penalty(torch, forward, W, x, out_grads)
        assert pen == pytest.approx(tpen, abs=1e-12)
        np.testing.assert_allclose(g, tg, rtol=0, atol=1e-12)
        for a, b in zip(grads, tgrads):
            assert (a is None) == (b is None)       # the last bias: None, as torch's unused and TF's
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def _conv1d_model(rate=0.0):
    return gn.Sequential([L.Input((9, 2)), L.Conv1D(4, 3, strides=2, activation="tanh"),
                          L.Conv1D(3, 2, dilation_rate=2, padding="causal", activation="softplus"),
                          L.Dropout(rate), L.Flatten(), L.Dense(2, activation="elu"), L.Dense(1)],
                         seed=0, dtype="float64")


def _torch_conv1d(torch, W, masks):
    F = torch.nn.functional

    def forward(h):
        h = h.transpose(1, 2)
        h = torch.tanh(F.conv1d(h, W[0].permute(2, 1, 0), W[1], stride=2))
        h = F.softplus(F.conv1d(F.pad(h, (2, 0)), W[2].permute(2, 1, 0), W[3], dilation=2))
        h = h.transpose(1, 2) * masks
        h = F.elu(h.flatten(1) @ W[4] + W[5])
        return h @ W[6] + W[7]
    return forward


@pytest.mark.parametrize("rate", [0.0, 0.4])
def test_conv1d_penalty_matches_torch_float64(torch, rate):
    """Conv1D (strides, dilation, causal padding), Dropout in training (the mask of the recorded
    call, read back after it) and Dense, against torch autograd with create_graph=True."""
    model = _conv1d_model(rate)
    x = np.random.default_rng(3).normal(size=(3, 9, 2))
    pen, g, grads = _penalty_grads(model, x, lambda m: m.trainable_weights)
    mask = model.layers[2].mask if rate else np.ones((3, 4, 3))
    assert rate == 0 or np.any(mask == 0)
    W = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    tpen, tg, tgrads = _torch_penalty(torch, _torch_conv1d(torch, W, torch.tensor(mask)), W, x)
    assert pen == pytest.approx(tpen, abs=1e-12)
    np.testing.assert_allclose(g, tg, rtol=0, atol=1e-12)
    for a, b in zip(grads, tgrads):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_penalty_matches_central_differences():
    """float64 central differences of the penalty with respect to every weight and to x."""
    model = gn.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, strides=2, padding="same"), L.LeakyReLU(0.2),
                           L.AveragePooling2D(2), L.Flatten(), L.Dense(3, activation="sigmoid"),
                           L.Activation("tanh"), L.Dense(1)], seed=0, dtype="float64")
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 1))
    _, _, grads = _penalty_grads(model, x, lambda m: m.trainable_weights)

    def penalty():
        with gn.GradientTape() as tape:
            tape.watch(x)
            pred = model(x)
        g = np.asarray(tape.gradient(pred, x))
        return np.mean((np.sqrt(np.sum(g ** 2, axis=(1, 2, 3))) - 1) ** 2)
    arrays = [p for layer in model.layers for p in layer.params.values()] + [x]
    for a, b in zip(grads, numeric(penalty, arrays)):
        if a is None:
            np.testing.assert_allclose(b, 0, atol=1e-8)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_ops_tail_layer_call_and_persistent_outer_tape():
    """ops.sum / ops.mean after the model are folded into the seed; a Dense layer called alone is
    a chain of one; a persistent outer tape gives the same gradients twice."""
    model = _mlp(("tanh",))
    dense = L.Dense(2, activation="sigmoid", seed=1, dtype="float64")
    x = np.random.default_rng(5).normal(size=(3, 5))
    with gn.GradientTape(persistent=True) as tape:
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            total = ops.mean(model(x, training=True)) + 0.0
            target = ops.sum(dense(x))
        g = gp_tape.gradient(target, x)
        pen = ops.sum(ops.square(g))
    first = tape.gradient(pen, dense.trainable_weights)
    second = tape.gradient(pen, dense.trainable_weights)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)

    def penalty():
        with gn.GradientTape() as t:
            t.watch(x)
            out = ops.sum(dense(x))
        return np.sum(np.asarray(t.gradient(out, x)) ** 2)
    for a, b in zip(first, numeric(penalty, [dense.params["kernel"], dense.params["bias"]])):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    assert total is not None


@pytest.mark.parametrize("layer, name", [(L.BatchNormalization(renorm=True), "renorm=True"),
                                         (L.SimpleRNN(3, return_sequences=True), "SimpleRNN"),
                                         (L.Dense(3, activation="mish"), "mish")])
def test_unsupported_layers_refused_by_name(layer, name):
    model = gn.Sequential([L.Input((4, 2)), L.Dense(3), layer, L.Flatten(), L.Dense(1)], seed=0)
    x = np.ones((2, 4, 2), np.float32)
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        with pytest.raises(NotImplementedError, match=f"{name}.*second-order gradient is not built"):
            gp_tape.gradient(pred, x)


def test_other_refusals_by_name():
    model = _mlp(("tanh",))
    x = np.ones((2, 5))
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = ops.std(model(x), axis=1)      # (ops.exp and the other common ops are covered)
        with pytest.raises(NotImplementedError, match="ops.std on the inner tape"):
            gp_tape.gradient(pred, x)
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x)
        with pytest.raises(NotImplementedError, match="with respect to a weight"):
            gp_tape.gradient(pred, [x, model.trainable_weights[0]])
    with gn.GradientTape():
        with gn.GradientTape(persistent=True) as gp_tape:
            gp_tape.watch(x)
            pred = model(x)
            with pytest.raises(NotImplementedError, match="persistent tape inside its `with` block.*higher-order"):
                gp_tape.gradient(pred, x)
    with gn.GradientTape():
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x)
        with pytest.raises(NotImplementedError, match="GradientTape.jacobian: .*higher-order"):
            gp_tape.jacobian(pred, x)


def test_first_order_unchanged_and_constant_inside_stop_recording():
    """The inner gradient outside the outer tape, or inside stop_recording, is the first-order one
    (a plain array, bit for bit); recorded, its value is the same to rounding."""
    model = _mlp(("tanh", "sigmoid"))
    x = np.random.default_rng(6).normal(size=(3, 5))
    with gn.GradientTape() as t:
        t.watch(x)
        plain = t.gradient(model(x), x)
    with gn.GradientTape() as outer:
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = model(x)
        with outer.stop_recording():
            constant = inner.gradient(pred, x)
    assert type(plain) is np.ndarray and type(constant) is np.ndarray
    np.testing.assert_array_equal(plain, constant)
    with gn.GradientTape():
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = model(x)
        recorded = inner.gradient(pred, x)
    assert isinstance(recorded, gn.tape.Recorded)
    np.testing.assert_allclose(np.asarray(recorded), plain, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layers, shape", [
    (lambda: [L.Conv2D(3, 3, padding="same"), L.ELU(0.7), L.GlobalAveragePooling2D(),
              L.Dense(2, activation="gelu(approximate=True)"), L.Dense(1)], (5, 5, 2)),
    (lambda: [L.ZeroPadding1D(1), L.Conv1D(3, 2), L.ReLU(negative_slope=0.1), L.AveragePooling1D(2),
              L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")], (6, 2))])
def test_other_covered_layers_match_central_differences(layers, shape):
    """ELU, ReLU with a slope, the tanh gelu, zero padding and the (global) average poolings."""
    model = gn.Sequential([L.Input(shape)] + layers(), seed=0, dtype="float64")
    x = np.random.default_rng(7).normal(size=(2, *shape))
    with gn.GradientTape() as tape:
        with gn.GradientTape() as gp_tape:
            gp_tape.watch(x)
            pred = model(x, training=True)
        pen = ops.sum(ops.square(gp_tape.gradient(pred, x)))
    params = [p for layer in model.layers for p in layer.params.values()]
    grads = tape.gradient(pen, params)

    def penalty():
        with gn.GradientTape() as t:
            t.watch(x)
            out = model(x)
        return np.sum(np.asarray(t.gradient(out, x)) ** 2)
    for a, b in zip(grads, numeric(penalty, params)):
        if a is None:
            np.testing.assert_allclose(b, 0, atol=1e-8)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
