"""Every element-wise merge (Add, Subtract, Multiply, Average, Maximum, Minimum) broadcasts as Keras
3.15's merges do (keras/src/layers/merging/base_merge.py): an axis of size 1 against the others',
an input of fewer axes expanded after its batch axis; each input's gradient summed back to its
shape. Compared live with Keras 3.15 (shapes, values, masks, one fit step, tf.GradientTape first
and second order) and with float64 central finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

NAMES = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
SHAPES = [((3,), (4, 4, 3)), ((4, 4, 3), (3,)), ((4, 1, 3), (1, 4, 1)), ((1,), (5,)), ((2, 1), (2, 3)),
          ((4,), (4, 4, 3)), ((2,), (4, 4, 3)), ((3,), (4,)), ((None, 3), (5, 3)), ((None, 3), (1, 3)),
          ((1, 3), (4, 4, 3), (4, 1, 1)), ((4, 1), (1, 3), (4, 3))]


def _cases():
    for name in NAMES:
        for shapes in SHAPES:
            if name == "Subtract" and len(shapes) != 2:
                continue
            yield name, shapes


@pytest.mark.parametrize("name,shapes", list(_cases()))
def test_shapes_values_and_refusals_as_keras(keras, name, shapes):
    try:
        want = getattr(keras.layers, name)()([keras.Input(s) for s in shapes]).shape
    except ValueError:
        with pytest.raises(ValueError, match=f"{name} needs inputs of one shape .or of size 1 on an axis"):
            getattr(gn.layers, name)()([gn.Input(s) for s in shapes])
        with pytest.raises(ValueError, match="got samples of shapes"):
            getattr(gn.layers, name)().compute_output_shape([(None, *s) for s in shapes])
        return
    assert tuple(getattr(gn.layers, name)()([gn.Input(s) for s in shapes]).shape) == tuple(want)
    assert tuple(getattr(gn.layers, name)().compute_output_shape([(None, *s) for s in shapes])) == tuple(want)
    rng = np.random.default_rng(0)
    sizes = [tuple(5 if d is None else d for d in s) for s in shapes]
    arrays = [rng.normal(size=(2, *s)).astype("float32") for s in sizes]
    arrays[0][0, ...] = 0.25            # ties for Maximum/Minimum's rule: the first input keeps them
    arrays[1][0, ...] = 0.25
    np.testing.assert_allclose(getattr(gn.layers, name)()(arrays), getattr(keras.layers, name)()(arrays).numpy(),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shapes", [((3,), (4, 2, 3)), ((4, 1, 3), (1, 2, 1)), ((2, 1), (2, 3))])
def test_gradients_summed_back_against_finite_differences(name, shapes):
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(2, *s)) for s in shapes]
    layer = getattr(gn.layers, name)(dtype="float64")
    out = layer(arrays)
    g = rng.normal(size=out.shape)
    grads = layer.backward(g)
    eps = 1e-6
    for i, x in enumerate(arrays):
        assert grads[i].shape == x.shape
        numeric = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            probe = getattr(gn.layers, name)(dtype="float64")
            numeric[idx] = ((probe(plus) - probe(minus)) * g).sum() / (2 * eps)
        np.testing.assert_allclose(grads[i], numeric, rtol=1e-6, atol=1e-7)


def _model(L, M, name):
    """A sequence (batch, 4, 3) merged with a gate of its features (batch, 3) and a column
    (batch, 4, 1): three ranks/shapes broadcast (Subtract: the sequence and the gate)."""
    inp = M.Input((4, 3))
    x = L.Dense(3)(inp)
    gate = L.Dense(3, activation="tanh")(L.GlobalAveragePooling1D()(inp))
    column = L.Dense(1)(inp)
    merged = getattr(L, name)()([x, gate] if name == "Subtract" else [x, gate, column])
    return M.Model(inp, L.Dense(1)(L.Flatten()(merged)))


@pytest.mark.parametrize("name", NAMES)
def test_model_predicts_trains_and_differentiates_as_keras(keras, name, tmp_path):
    import tensorflow as tf
    km, gm = _model(keras.layers, keras, name), _model(gn.layers, gn, name)
    gm.set_weights(km.get_weights())
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 4, 3)).astype("float32")
    y = rng.normal(size=(5, 1)).astype("float32")
    np.testing.assert_allclose(gm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    # tf.GradientTape: first order, and second order (a gradient penalty on the input)
    xv = tf.constant(x)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(xv)
            pred = km(xv)
        gx = inner.gradient(pred, xv)
        penalty = tf.reduce_mean(tf.reduce_sum(tf.square(gx), axis=[1, 2]))
        loss = tf.reduce_mean(tf.square(pred))
    k_first = outer.gradient(loss, km.trainable_weights)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(xv)
            pred = km(xv)
        gx = inner.gradient(pred, xv)
        penalty = tf.reduce_mean(tf.reduce_sum(tf.square(gx), axis=[1, 2]))
    k_second = outer.gradient(penalty, km.trainable_weights)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(gm(x)))
    for a, b in zip(tape.gradient(loss, gm.trainable_weights), k_first):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-4, atol=1e-5)
    with gn.GradientTape() as tape:
        with gn.GradientTape() as inner:
            inner.watch(x)
            pred = gm(x)
        g = inner.gradient(pred, x)
        penalty = ops.mean(ops.sum(ops.square(g), axis=[1, 2]))
    for a, b, w in zip(tape.gradient(penalty, gm.trainable_weights), k_second, km.trainable_weights):
        want = np.zeros(w.shape) if b is None else b.numpy()
        got = np.zeros(w.shape) if a is None else np.asarray(a)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # one fit step from the same weights (plain SGD, the whole batch)
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    gm.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    km.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    gm.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(gm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the model file: no new config keys, the same values back
    gm.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), gm.predict(x, verbose=0))
    assert set(getattr(gn.layers, name)().get_config()) == set(gn.layers.Concatenate().get_config()) - {"axis"}


def _masked_model(L, M, name):
    """Tokens (batch, 5) embedded twice with mask_zero: (batch, 5, 3) and (batch, 5, 1), both
    masked; merged (broadcast along the features), the OR of the masks read by the pooling."""
    tok = M.Input((5,), dtype="int32")
    a = L.Embedding(7, 3, mask_zero=True)(tok)
    b = L.Embedding(7, 1, mask_zero=True)(tok)
    merged = getattr(L, name)()([a, b])
    return M.Model(tok, L.Dense(1)(L.GlobalAveragePooling1D()(merged)))


def _half_masked_model(L, M, name):
    """A masked sequence (batch, 5, 3) and an unmasked gate (batch, 3): Keras gives the merge no
    mask (one input has none), though Maximum/Minimum/Multiply read the sequence's mask."""
    tok, side = M.Input((5,), dtype="int32"), M.Input((2,))
    a = L.Embedding(7, 3, mask_zero=True)(tok)
    gate = L.Dense(3)(side)
    merged = getattr(L, name)()([gate, a] if name != "Subtract" else [a, gate])
    return M.Model([tok, side], L.Dense(1)(L.GlobalAveragePooling1D()(merged)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("half", [False, True])
def test_masks_of_broadcast_inputs_as_keras(keras, name, half):
    import tensorflow as tf
    make = _half_masked_model if half else _masked_model
    km, gm = make(keras.layers, keras, name), make(gn.layers, gn, name)
    gm.set_weights(km.get_weights())
    rng = np.random.default_rng(3)
    tok = rng.integers(1, 7, size=(4, 5)).astype("int32")
    tok[0, 3:] = 0
    tok[1, 1:] = 0
    tok[2, 0] = 0
    inputs = [tok, rng.normal(size=(4, 2)).astype("float32")] if half else tok
    np.testing.assert_allclose(gm.predict(inputs, verbose=0), km.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(km(inputs)))
    kg = tape.gradient(loss, km.trainable_weights)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(gm(inputs)))
    for a, b in zip(tape.gradient(loss, gm.trainable_weights), kg):
        np.testing.assert_allclose(np.asarray(a), tf.convert_to_tensor(b).numpy(), rtol=1e-4, atol=1e-6)


def test_second_order_tape_through_broadcast_maximum_against_finite_differences():
    """d/dw of ||d out/dx||^2 through Maximum of a (batch, 3) branch and a (batch, 2, 3) one: the
    tape's against float64 central differences of the first-order tape's."""
    rng = np.random.default_rng(4)
    inp = gn.Input((2, 3), dtype="float64")
    gate = gn.layers.Dense(3, dtype="float64")(gn.layers.Flatten(dtype="float64")(inp))
    x = gn.layers.Dense(3, activation="tanh", dtype="float64")(inp)
    out = gn.layers.Dense(1, dtype="float64")(gn.layers.Flatten(dtype="float64")(
        gn.layers.Maximum(dtype="float64")([gate, x])))
    model = gn.Model(inp, out, dtype="float64")
    data = rng.normal(size=(3, 2, 3))

    def penalty():
        with gn.GradientTape() as inner:
            inner.watch(data)
            pred = model(data)
        return ops.sum(ops.square(inner.gradient(pred, data)))

    with gn.GradientTape() as tape:
        value = penalty()
    grads = tape.gradient(value, model.trainable_weights)
    weights = model.get_weights()
    eps = 1e-6
    for w_i, (w, g) in enumerate(zip(weights, grads)):
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            vals = []
            for step in (eps, -eps):
                moved = [v.copy() for v in weights]
                moved[w_i][idx] += step
                model.set_weights(moved)
                vals.append(float(np.asarray(penalty())))
            numeric[idx] = (vals[0] - vals[1]) / (2 * eps)
        model.set_weights(weights)
        got = np.zeros_like(w) if g is None else np.asarray(g)
        np.testing.assert_allclose(got, numeric, rtol=1e-5, atol=1e-7)


def test_add_of_a_column_broadcasts_as_numpy_where_keras_transposes(keras):
    """Keras 3.15's Add and Average of (batch, k) and (batch, 1) add the column as if it were a row
    (docs/layers.md says so); its Subtract broadcasts as NumPy, and so do glassnet's merges, all of them."""
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[10.0], [20.0]], np.float32)
    for name in ("Add", "Average", "Subtract", "Multiply", "Maximum", "Minimum"):
        ours = np.asarray(getattr(gn.layers, name)()([a, b]))
        numpy = {"Add": a + b, "Average": (a + b) / 2, "Subtract": a - b, "Multiply": a * b,
                 "Maximum": np.maximum(a, b), "Minimum": np.minimum(a, b)}[name]
        np.testing.assert_allclose(ours, numpy, rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(np.asarray(keras.layers.Add()([a, b])), a + b.reshape(1, -1), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(keras.layers.Subtract()([a, b])), a - b, rtol=1e-6)
