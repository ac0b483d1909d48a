"""GradientTape over layer calls given masks (``lstm(x, mask=m)``, MultiHeadAttention's
``attention_mask``), subclassed models called on a list, tuple or dict of inputs, and the refusals
of NumPy functions: against Keras 3.15 + tf.GradientTape (the same weights), PyTorch autograd
where it says the same, and float64 central finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops
from central_differences import numeric as _numeric      # float64 central differences

MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)     # (batch 3, steps 5)

# each maker takes the library's layers module and the dtype
MASKED = {
    "lstm": lambda lib, dt: lib.LSTM(4, dtype=dt),
    "gru_sequences": lambda lib, dt: lib.GRU(3, return_sequences=True, dtype=dt),
    "simple_rnn": lambda lib, dt: lib.SimpleRNN(3, dtype=dt),
    # (glassnet's wrapper gives the wrapped layer its own dtype, and refuses one given to it)
    "bidirectional": lambda lib, dt: lib.Bidirectional(
        lib.LSTM(2, return_sequences=True, **({} if lib is L else {"dtype": dt})), dtype=dt),
    "global_average_pooling_1d": lambda lib, dt: lib.GlobalAveragePooling1D(dtype=dt),
}




def _tf_loss(tf, y):
    return tf.reduce_sum(y * y) + tf.reduce_sum(tf.sin(y))


def _gn_loss(y):
    return ops.sum(y * y) + ops.sum(ops.sin(y))


@pytest.mark.parametrize("name", sorted(MASKED))
def test_a_layer_called_with_mask_matches_tf_gradient_tape(keras, name):
    """x's gradient and every weight's equal tf.GradientTape's over Keras' layer (the same weights)."""
    import tensorflow as tf
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    mine, theirs = MASKED[name](L, "float32"), MASKED[name](keras.layers, "float32")
    theirs(x)
    mine(x)
    if theirs.get_weights():
        mine.set_weights(theirs.get_weights())
    with gn.GradientTape() as tape:
        tape.watch(x)
        loss = _gn_loss(mine(x, mask=MASK))
    grads = tape.gradient(loss, [x] + list(mine.trainable_weights))
    xt = tf.constant(x)
    with tf.GradientTape() as k_tape:
        k_tape.watch(xt)
        k_loss = _tf_loss(tf, theirs(xt, mask=tf.constant(MASK)))
    expected = k_tape.gradient(k_loss, [xt] + list(theirs.trainable_weights))
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    assert len(grads) == len(expected)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-5)
    # the masked steps of x take no gradient (a recurrent layer skips them; the pooling leaves them out)
    if name != "bidirectional":
        assert np.all(grads[0][~MASK] == 0) and np.all(np.abs(grads[0][MASK]).sum(axis=-1) > 0)


@pytest.mark.parametrize("name", sorted(MASKED))
def test_a_layer_called_with_mask_against_finite_differences(name):
    """float64: x's and the weights' gradients; the layer is called again on other data (and
    without the mask) between the recorded call and gradient, so its forward runs again at
    gradient and must use the recorded call's mask."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 4))
    other = rng.normal(size=(2, 5, 4))
    layer = MASKED[name](L, "float64")
    layer(x)

    def loss():
        return _gn_loss(layer(x, mask=MASK))

    weights = list(layer.trainable_weights)
    with gn.GradientTape() as tape:
        tape.watch(x)
        value = loss()
        layer(other)                # another call: the layer's caches are now this one's
    grads = tape.gradient(value, [x] + weights)
    assert float(value) == pytest.approx(float(loss()), rel=1e-12)
    for got, numeric in zip(grads, _numeric(loss, [x] + weights)):
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)
    # the mask mattered: without it the value differs
    assert abs(float(value) - float(_gn_loss(layer(x)))) > 1e-3


def _mha_pair(keras, q, v):
    mine, theirs = L.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3)
    theirs(q, v)
    mine(q, v)
    mine.set_weights(theirs.get_weights())
    return mine, theirs


@pytest.mark.parametrize("called_again", [False, True])
def test_multi_head_attention_with_attention_mask_matches_tf_gradient_tape(keras, called_again):
    """query's, value's and the kernels' gradients with an attention_mask, against tf.GradientTape;
    ``called_again``: a second call without the mask in the same tape (the first call's forward
    runs again at gradient, with its own mask)."""
    import tensorflow as tf
    rng = np.random.default_rng(2)
    q, v = rng.normal(size=(2, 4, 6)).astype(np.float32), rng.normal(size=(2, 3, 6)).astype(np.float32)
    mask = rng.random((2, 4, 3)) > 0.4
    mask[:, :, 0] = True
    mine, theirs = _mha_pair(keras, q, v)
    with gn.GradientTape() as tape:
        tape.watch([q, v])
        loss = _gn_loss(mine(q, v, attention_mask=mask))
        if called_again:
            loss = loss + ops.sum(mine(v, q))
    grads = tape.gradient(loss, [q, v] + list(mine.trainable_weights))
    qt, vt = tf.constant(q), tf.constant(v)
    with tf.GradientTape() as k_tape:
        k_tape.watch([qt, vt])
        k_loss = _tf_loss(tf, theirs(qt, vt, attention_mask=mask))
        if called_again:
            k_loss = k_loss + tf.reduce_sum(theirs(vt, qt))
    expected = k_tape.gradient(k_loss, [qt, vt] + list(theirs.trainable_weights))
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-5)


def test_multi_head_attention_with_masks_against_finite_differences():
    rng = np.random.default_rng(3)
    q, v = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 3, 6))
    mask = rng.random((2, 4, 3)) > 0.4
    mask[:, :, 0] = True
    mha = L.MultiHeadAttention(2, 3, dtype="float64", seed=0)
    mha(q, v)

    def loss():
        return _gn_loss(mha(q, v, attention_mask=mask, use_causal_mask=False))

    weights = list(mha.trainable_weights)
    with gn.GradientTape() as tape:
        tape.watch([q, v])
        value = loss()
        mha(q, q, use_causal_mask=True)     # another call, with another flag
    grads = tape.gradient(value, [q, v] + weights)
    for got, numeric in zip(grads, _numeric(loss, [q, v] + weights)):
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_merging_layers_called_on_arrays_are_recorded(torch):
    """Add, Concatenate and Multiply called on a list under a tape (they were computed unrecorded:
    no gradient reached their inputs), against PyTorch autograd in float64."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    with gn.GradientTape() as tape:
        tape.watch([a, b])
        joined = L.Concatenate(dtype="float64")([L.Add(dtype="float64")([a, b]),
                                                 L.Multiply(dtype="float64")([a, ops.tanh(b)])])
        loss = ops.sum(joined * joined)
    got = tape.gradient(loss, [a, b])
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    t_joined = torch.cat([ta + tb, ta * torch.tanh(tb)], dim=-1)
    (t_joined * t_joined).sum().backward()
    np.testing.assert_allclose(got[0], ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[1], tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_reversible_embedding_reverse_call_is_recorded_as_reverse(keras):
    """``emb(h, reverse=True)`` under a tape gives the logits' gradient (its own flag kept for the
    recorded call), against tf.GradientTape over Keras' ReversibleEmbedding."""
    import tensorflow as tf
    h = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)
    mine, theirs = L.ReversibleEmbedding(7, 4), keras.layers.ReversibleEmbedding(7, 4)
    theirs(np.array([[1, 2]]))
    mine(np.array([[1, 2]]))
    mine.set_weights(theirs.get_weights())
    with gn.GradientTape() as tape:
        tape.watch(h)
        loss = _gn_loss(mine(h, reverse=True))
    grads = tape.gradient(loss, [h] + list(mine.trainable_weights))
    ht = tf.constant(h)
    with tf.GradientTape() as k_tape:
        k_tape.watch(ht)
        k_loss = _tf_loss(tf, theirs(ht, reverse=True))
    expected = k_tape.gradient(k_loss, [ht] + list(theirs.trainable_weights))
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-5)


def test_mask_refusals_under_a_tape_name_the_mask():
    x = np.ones((3, 5, 4), np.float32)
    with gn.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(ValueError, match=r"mask must have shape \(batch, steps\) = \(3, 5\).*got shape \(3, 4\)"):
            L.LSTM(2)(x, mask=np.ones((3, 4), bool))
        with pytest.raises(ValueError, match=r"mask must hold booleans \(or 0 and 1\).*float32"):
            L.GRU(2)(x, mask=np.full((3, 5), 0.5, np.float32))
        with pytest.raises(TypeError, match="takes no mask"):
            L.Dense(2)(x, mask=MASK)


# -- subclassed models called on several inputs ------------------------------------------------------
def _two_input_class(lib, by_key):
    class TwoInputs(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.left = lib.layers.Dense(3, activation="tanh")
            self.right = lib.layers.Dense(3)
            self.out = lib.layers.Dense(2)

        def call(self, inputs):
            a, b = (inputs["a"], inputs["b"]) if by_key else inputs
            return self.out(self.left(a) * self.right(b))
    return TwoInputs


def _structure(form, a, b):
    return {"b": b, "a": a} if form == "dict" else (a, b) if form == "tuple" else [a, b]


@pytest.mark.parametrize("form", ["list", "tuple", "dict"])
@pytest.mark.parametrize("first_call_taped", [False, True])
def test_a_subclass_called_on_several_inputs_matches_tf_gradient_tape(keras, form, first_call_taped):
    """``model([a, b])`` (a tuple, a dict by key) under a tape gives each watched input its own
    gradient and the weights theirs, as tf.GradientTape over the same Keras subclass; the model
    drawn by a call outside the tape first, or by the recorded call itself."""
    import tensorflow as tf
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 5)).astype(np.float32)
    theirs = _two_input_class(keras, form == "dict")()
    theirs(_structure(form, a, b))
    mine = _two_input_class(gn, form == "dict")()
    if not first_call_taped:
        mine(_structure(form, a, b))
        mine.set_weights(theirs.get_weights())
    with gn.GradientTape() as tape:
        tape.watch([a, b])
        out = mine(_structure(form, a, b))
        if first_call_taped:            # drawn and built by that call: now Keras' weights, and again
            mine.set_weights(theirs.get_weights())
            out = mine(_structure(form, a, b))
        loss = _gn_loss(out)
    grads = tape.gradient(loss, [a, b] + list(mine.trainable_weights))
    at, bt = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as k_tape:
        k_tape.watch([at, bt])
        k_loss = _tf_loss(tf, theirs(_structure(form, at, bt)))
    expected = k_tape.gradient(k_loss, [at, bt] + list(theirs.trainable_weights))
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    assert grads[0].shape == a.shape and grads[1].shape == b.shape
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("form", ["list", "dict"])
def test_a_subclass_on_several_inputs_against_finite_differences(form):
    """float64, the model drawn by the recorded call, one input recorded (an op's output) and the
    other watched: both inputs' and every weight's gradient."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 5))
    model = _two_input_class(gn, form == "dict")(dtype="float64", seed=0)

    def loss():
        return _gn_loss(model(_structure(form, ops.tanh(a) * 2.0, b)))

    with gn.GradientTape() as tape:
        tape.watch([a, b])
        value = loss()
    weights = list(model.trainable_weights)
    grads = tape.gradient(value, [a, b] + weights)
    assert len(weights) == 6
    for got, numeric in zip(grads, _numeric(loss, [a, b] + weights)):
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_a_subclass_drawn_from_a_dict_predicts_by_key_and_refuses_a_bad_dict():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 5)).astype(np.float32)
    model = _two_input_class(gn, True)(seed=0)
    first = model({"a": a, "b": b})
    np.testing.assert_allclose(model.predict({"b": b, "a": a}, verbose=0), first, rtol=1e-6)
    with pytest.raises(TypeError, match=r"x: TwoInputs is drawn from its first data.*got a dict of 2"):
        _two_input_class(gn, True)()({"a": a, "b": [1, 2]})
    with pytest.raises(ValueError, match=r"build: expected a dict of input shapes by name.*'b': 5"):
        _two_input_class(gn, True)().build({"a": (None, 2), "b": 5})


# -- NumPy functions on recorded values --------------------------------------------------------------
REFUSED = [
    ("exp", lambda y: np.exp(y), "use glassnet.ops.exp,", lambda y: ops.exp(y)),
    ("add.reduce", lambda y: y.sum(), "use glassnet.ops.sum,", lambda y: ops.sum(y)),
    ("sum", lambda y: np.sum(y), "use glassnet.ops.sum,", lambda y: ops.sum(y)),
    ("amax", lambda y: np.amax(y), "use glassnet.ops.max,", lambda y: ops.max(y)),
    ("maximum.reduce", lambda y: np.maximum.reduce(y, axis=None), "use glassnet.ops.max,", lambda y: ops.max(y)),
    ("divide", lambda y: np.true_divide(y, 2.0, casting="same_kind"), r"use glassnet.ops.divide \(or /\),",
     lambda y: ops.divide(y, 2.0)),
    ("linalg.norm", lambda y: np.linalg.norm(y), "use glassnet.ops.norm,", lambda y: ops.norm(y)),
    ("cumsum", lambda y: np.cumsum(y, axis=1), "use glassnet.ops.cumsum,", lambda y: ops.cumsum(y, axis=1)),
    ("add.accumulate", lambda y: np.add.accumulate(y, axis=1), "use glassnet.ops.cumsum,",
     lambda y: ops.cumsum(y, axis=1)),
    ("concatenate", lambda y: np.concatenate([y, y]), "use glassnet.ops.concatenate,",
     lambda y: ops.concatenate([y, y])),
]


@pytest.mark.parametrize("case", REFUSED, ids=[case[0] for case in REFUSED])
def test_numpy_refusals_name_the_ops_function_that_is_recorded(case):
    """The message names the glassnet.ops function of that meaning (x.sum() reaches NumPy as
    numpy.add.reduce, np.true_divide as numpy.divide); that function, used instead, is recorded and gives NumPy's values and the gradient finite differences give."""
    name, with_numpy, named, with_ops = case
    x = np.random.default_rng(9).normal(size=(3, 4))
    layer = L.Dense(3, dtype="float64", seed=0)
    layer(x)
    with gn.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        with pytest.raises(TypeError, match=rf"numpy\.{name} on a value a GradientTape records.*{named}"
                                            rf" which the tape records"):
            with_numpy(out)
        value = ops.sum(ops.square(with_ops(out)))
    got = tape.gradient(value, x)
    np.testing.assert_allclose(np.asarray(with_ops(out)), with_numpy(np.asarray(out)), rtol=1e-12)
    numeric = _numeric(lambda: np.sum(np.square(with_numpy(layer(x)))), [x])[0]
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_numpy_refusals_say_when_ops_has_no_such_function_or_does_not_record_it():
    out_layer = L.Dense(3)
    x = np.ones((2, 4), np.float32)
    out_layer(x)
    with gn.GradientTape():
        out = out_layer(x)
        with pytest.raises(TypeError, match=r"numpy\.ediff1d .*glassnet\.ops has no ediff1d: write it with the "
                                            r"glassnet\.ops functions the tape records"):
            np.ediff1d(out)
        with pytest.raises(TypeError, match=r"numpy\.median .*glassnet\.ops\.median exists but the tape does not "
                                            r"record it"):
            np.median(out)
        with pytest.raises(TypeError, match=r"numpy\.tensordot .*glassnet\.ops\.tensordot exists but the tape does "
                                            r"not record it"):
            np.tensordot(out, out)
    assert not hasattr(ops, "ediff1d") and callable(ops.median) and callable(ops.tensordot)


def test_gradient_asked_inside_the_tapes_block():
    """TF allows tape.gradient inside ``with`` on a tape that is not persistent: the walk reads the
    recorded values with NumPy (it was refused as numpy.shape on a recorded value), and the tape
    stops recording there, as TF's does. A persistent tape would record the gradient's own
    computation for a higher-order gradient (not built): refused by name."""
    x = np.random.default_rng(10).normal(size=(2, 5, 3))
    layer = L.SimpleRNN(2, dtype="float64", seed=0)
    with gn.GradientTape() as tape:
        tape.watch(x)
        loss = ops.sum(layer(x, mask=MASK[:2]))
        inside = tape.gradient(loss, x)
        again = ops.sum(layer(x))
    assert type(again).__name__ != "Recorded"       # recording stopped at the gradient
    numeric = _numeric(lambda: np.sum(layer(x, mask=MASK[:2])), [x])[0]
    np.testing.assert_allclose(inside, numeric, rtol=1e-6, atol=1e-8)
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = ops.sum(layer(x, mask=MASK[:2]))
        with pytest.raises(NotImplementedError, match="persistent tape inside its `with` block.*higher-order"):
            tape.gradient(loss, x)
    np.testing.assert_allclose(tape.gradient(loss, x), inside, rtol=0, atol=0)


def test_a_recorded_initial_state_is_refused_by_name():
    """Its gradient would be lost (the layer alone records x only): refused, naming initial_state;
    constant states are taken, and the gradient of x is the one finite differences give."""
    rng = np.random.default_rng(11)
    x, h = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 2))
    layer = L.SimpleRNN(2, dtype="float64", seed=0)
    layer(x)
    with gn.GradientTape() as tape:
        tape.watch([x, h])
        with pytest.raises(NotImplementedError, match=r"layer SimpleRNN.*an initial_state that is recorded or "
                                                      r"watched is not recorded yet"):
            layer(x, initial_state=[h])
        value = ops.sum(ops.square(layer(x, mask=MASK[:2], initial_state=[np.array(h)])))
    numeric = _numeric(lambda: np.sum(np.square(layer(x, mask=MASK[:2], initial_state=[h]))), [x])[0]
    np.testing.assert_allclose(tape.gradient(value, x), numeric, rtol=1e-6, atol=1e-8)
