"""Review of GradientTape with the day's other features (rev38f): a differential fuzzer against
Keras 3.15 + tf.GradientTape in float64 (same weights) over functional models with call-blocks,
add_weight, masks, recurrent layers, TimeDistributed(model), BatchNormalization, shared layers,
nested models and several inputs. What it found: a model of several inputs gave its inputs no
gradient (a conditional GAN's generator, fed to D([G(z), labels]), got None), a shared layer all of
whose calls read the model's inputs gave none either, and a model with a shared layer recorded in
inference mode (training=False, as for input gradients) failed with KeyError at gradient."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


@pytest.fixture
def keras64(keras):
    """Keras computing in float64 (floatx and the dtype policy both set, then both put back)."""
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    keras.backend.clear_session()
    yield keras
    keras.config.set_floatx(previous)
    keras.config.set_dtype_policy(policy)


def _model(lib, inputs, outputs):
    return gn.Model(inputs, outputs, dtype="float64") if lib is gn else lib.Model(inputs, outputs)


def _same_weights(ours, theirs, seed=0):
    rng = np.random.default_rng(seed)
    weights = [w + 0.1 * rng.normal(size=w.shape) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)


def _assert_gradients(mine, expected):
    assert len(mine) == len(expected)
    for k, (a, b) in enumerate(zip(mine, expected)):
        assert a is not None, f"gradient {k} is None, TensorFlow's is not"
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6, atol=1e-10, err_msg=f"gradient {k}")


def _shared(lib):
    inputs = lib.Input((4,))
    dense = lib.layers.Dense(4, activation="tanh")
    return _model(lib, inputs, lib.layers.Dense(1)(dense(dense(inputs))))


@pytest.mark.parametrize("training", [False, None])
def test_shared_layer_recorded_in_inference_mode(keras64, training):
    """A functional model with a shared layer, called under the tape in inference mode (input
    gradients, FGSM): the shared layer's per-call caches were kept in training mode only, and
    gradient failed with KeyError. TF's gradients, for the input and the weights."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4))
    ours, theirs = _shared(gn), _shared(keras64)
    _same_weights(ours, theirs)
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        value = tf.reduce_sum(theirs(x_tf, training=bool(training)))
    expected = tape.gradient(value, [x_tf] + theirs.trainable_weights)
    with gn.GradientTape() as tape:
        tape.watch(x)
        value = gn.ops.sum(ours(x) if training is None else ours(x, training=training))
    _assert_gradients(tape.gradient(value, [x] + ours.trainable_weights), expected)


def _generator(lib):
    inputs = lib.Input((3,))
    return _model(lib, inputs, lib.layers.Dense(4, activation="tanh")(inputs))


def _discriminator(lib):
    images, labels = lib.Input((4,), name="image"), lib.Input((2,), name="label")
    h = lib.layers.Dense(3, activation="relu")(images)
    return _model(lib, [images, labels], lib.layers.Dense(1)(lib.layers.Concatenate()([h, labels])))


@pytest.mark.parametrize("form", ["list", "dict"])
def test_conditional_gan_generator_gets_its_gradient(keras64, form):
    """D([G(z), labels]) (a conditional GAN's generator step): the model of several inputs took
    no node for its inputs, so G's weights silently got None (and a watched label input too)."""
    import tensorflow as tf
    rng = np.random.default_rng(1)
    z, labels = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    g, d = _generator(gn), _discriminator(gn)
    kg, kd = _generator(keras64), _discriminator(keras64)
    _same_weights(g, kg, 1)
    _same_weights(d, kd, 2)
    labels_tf = tf.constant(labels)
    with tf.GradientTape() as tape:
        tape.watch(labels_tf)
        value = tf.reduce_mean(kd([kg(z, training=True), labels_tf], training=True))
    expected = tape.gradient(value, [labels_tf] + kg.trainable_weights + kd.trainable_weights)
    with gn.GradientTape() as tape:
        tape.watch(labels)
        fake = g(z, training=True)
        both = [fake, labels] if form == "list" else {"label": labels, "image": fake}
        value = gn.ops.mean(d(both, training=True))
    _assert_gradients(tape.gradient(value, [labels] + g.trainable_weights + d.trainable_weights), expected)


def _siamese(lib):
    encoder = lib.Sequential([lib.Input((4,)), lib.layers.Dense(5, activation="tanh"), lib.layers.BatchNormalization(),
                              lib.layers.Dense(3, activation="sigmoid")], **({"dtype": "float64"} if lib is gn else {}))
    a, b = lib.Input((4,)), lib.Input((4,))
    ea, eb = encoder(a), encoder(b)
    merged = lib.layers.Concatenate()([lib.layers.Subtract()([ea, eb]), lib.layers.Multiply()([ea, eb])])
    return _model(lib, [a, b], lib.layers.Dense(2)(merged))


@pytest.mark.parametrize("training", [True, False])
def test_siamese_input_gradients(keras64, training):
    """A shared encoder whose every call reads a model input: its per-call caches restored the
    forward pass's needs_input_gradient (False: nothing below learns) over the tape's True, so
    the watched inputs got None."""
    import tensorflow as tf
    rng = np.random.default_rng(2)
    a, b, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    ours, theirs = _siamese(gn), _siamese(keras64)
    _same_weights(ours, theirs, 3)
    a_tf, b_tf = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_tf, b_tf])
        value = tf.reduce_mean(tf.square(theirs([a_tf, b_tf], training=training) - y))
    expected = tape.gradient(value, [a_tf, b_tf] + theirs.trainable_weights)
    with gn.GradientTape() as tape:
        tape.watch([a, b])
        value = gn.ops.mean(gn.ops.square(ours([a, b], training=training) - y))
    _assert_gradients(tape.gradient(value, [a, b] + ours.trainable_weights), expected)


def test_several_inputs_against_finite_differences():
    """Input gradients of a model of two inputs with a shared convolution, float64 central
    differences (independent of Keras)."""
    rng = np.random.default_rng(6)
    a, b = gn.Input((6, 2)), gn.Input((3,))
    conv = L.Conv1D(3, 3, activation="tanh")
    h1 = L.GlobalAveragePooling1D()(conv(a))
    h2 = L.Flatten()(conv(L.Reshape((6, 2))(L.Dense(12)(b))))
    model = gn.Model([a, b], L.Dense(2)(L.Concatenate()([h1, h2, b])), dtype="float64", seed=0)
    xa, xb, y = rng.normal(size=(4, 6, 2)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    with gn.GradientTape() as tape:
        tape.watch([xa, xb])
        value = gn.ops.mean(gn.ops.square(model([xa, xb]) - y))
    grads = tape.gradient(value, [xa, xb])

    def loss():
        return float(np.mean((model.predict([xa, xb], verbose=0) - y) ** 2))
    for array, grad in zip((xa, xb), grads):
        numeric = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            old = array[i]
            array[i] = old + 1e-6
            up = loss()
            array[i] = old - 1e-6
            numeric[i] = (up - loss()) / 2e-6
            array[i] = old
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
