"""Weights that get no gradient in a step are left as they are, as Keras 3.15 leaves them.

Keras' optimizer drops a weight whose gradient is None (``_filter_empty_gradients``): no
weight_decay, no update of it or of its state, no constraint. glassnet steps a model's weights as one
flat buffer (glassnet.optimizers._ungraded): checked against Keras 3.15 for a block's call reaching
no output in ``fit`` (glassnet._dead_calls), for ``tape.gradient``'s None against tf.GradientTape's,
and for ``apply_gradients`` of None gradients in a loop of one's own, where a weight gets a gradient
at some steps and None at others (its momentum and moments must wait). Gradients of the new
add_loss-only walk against float64 central finite differences.
"""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from central_differences import numeric as _numeric      # float64 central differences


def _block(base, L, o, constraint=None, regularizer=None, with_term=False):
    """keras.io-style block: ``probe`` called on a branch going nowhere; with ``with_term`` an add_loss
    term reads ``c``'s output, which no output reads either."""
    class Probe(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = L.Dense(3, activation="tanh")
            self.b = L.Dense(2, kernel_constraint=constraint)
            self.probe = L.Dense(7, kernel_constraint=constraint, kernel_regularizer=regularizer)
            if with_term:
                self.c = L.Dense(5)

        def call(self, x):
            h = self.a(x)
            _ = o.relu(self.probe(h))        # computed, never returned
            if with_term:
                self.add_loss(0.5 * o.mean(o.square(self.c(h))))
            return self.b(h)
    return Probe


def _pair(keras, **options):
    """The same model in Keras and glassnet (a functional model over the block), same weights."""
    keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (Keras: the block has no build() of its own)
        kb = _block(keras.layers.Layer, keras.layers, keras.ops, **{k: v[0] for k, v in options.items()})()
        ki = keras.Input((4,))
        theirs = keras.Model(ki, keras.layers.Dense(1)(kb(ki)))
    gb = _block(gn.Layer, gn.layers, ops, **{k: v[1] for k, v in options.items()})()
    gi = gn.Input((4,))
    ours = gn.Model(gi, gn.layers.Dense(1)(gb(gi)))
    ours.set_weights(theirs.get_weights())
    return theirs, kb, ours, gb


def _data(rng, n=12):
    return rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def _optimizers(keras, name):
    return {"adamw": (keras.optimizers.AdamW(0.01, weight_decay=0.3, epsilon=1e-12),
                      gn.optimizers.AdamW(learning_rate=0.01, weight_decay=0.3, epsilon=1e-12)),
            "sgd_decay": (keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.2),
                          gn.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.2)),
            "sgd": (keras.optimizers.SGD(0.1), gn.optimizers.SGD(learning_rate=0.1)),
            "adam_ema": (keras.optimizers.Adam(0.01, epsilon=1e-12, use_ema=True, ema_momentum=0.9),
                         gn.optimizers.Adam(learning_rate=0.01, epsilon=1e-12, use_ema=True, ema_momentum=0.9))}[name]


def _assert_weights_match(ours, theirs, atol=1e-6):
    assert len(ours.get_weights()) == len(theirs.get_weights())
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)


# -- 1. fit: a block's call reaching no output ----------------------------------------------------------

@pytest.mark.parametrize("name,constrained", [("adamw", False), ("sgd_decay", False), ("sgd", True),
                                              ("adam_ema", False)])
def test_fit_leaves_a_dead_calls_weights_as_keras(keras, rng, name, constrained):
    x, y = _data(rng)
    options = {"constraint": (keras.constraints.MaxNorm(0.1), gn.constraints.MaxNorm(0.1))} if constrained else {}
    theirs, kb, ours, gb = _pair(keras, **options)
    before = [w.copy() for w in gb.probe.get_weights()]
    k_opt, g_opt = _optimizers(keras, name)
    theirs.compile(optimizer=k_opt, loss="mse")
    ours.compile(optimizer=g_opt, loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (Keras: "Gradients do not exist for variables [probe...]")
        k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    _assert_weights_match(ours, theirs)
    # the dead Dense: neither decayed, nor projected (MaxNorm(0.1) would shrink its kernel), nor stepped
    for ours_w, theirs_w, was in zip(gb.probe.get_weights(), kb.probe.get_weights(), before):
        np.testing.assert_array_equal(theirs_w, was)
        np.testing.assert_array_equal(ours_w, was)
    if constrained:         # (the live Dense b has the same constraint: it did project there)
        assert np.linalg.norm(gb.b.get_weights()[0], axis=0).max() <= 0.1 + 1e-6


def test_fit_decays_a_dead_kernel_its_regularizer_reaches_but_not_its_bias(keras, rng):
    """The penalty's gradient reaches the dead kernel (Keras' is not None): decayed and stepped; its
    bias has none: left."""
    x, y = _data(rng)
    theirs, kb, ours, gb = _pair(keras, regularizer=(keras.regularizers.L2(0.01), gn.regularizers.L2(0.01)))
    bias = gb.probe.get_weights()[1].copy()
    kernel = gb.probe.get_weights()[0].copy()
    k_opt, g_opt = _optimizers(keras, "sgd_decay")
    theirs.compile(optimizer=k_opt, loss="mse")
    ours.compile(optimizer=g_opt, loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    _assert_weights_match(ours, theirs)
    np.testing.assert_array_equal(gb.probe.get_weights()[1], bias)
    assert not np.allclose(gb.probe.get_weights()[0], kernel)


def test_a_model_without_dead_calls_keeps_the_fast_path(rng):
    """No weight without a gradient: the optimizer is not told of any (nothing copied per step)."""
    seen = []

    class Watching(gn.optimizers.SGD):
        def update(self, key, param, grad):
            seen.append(self._ungraded)
            super().update(key, param, grad)
    x, y = _data(rng)
    model = gn.Sequential([gn.Input((4,)), gn.layers.Dense(3), gn.layers.Dense(1)])
    model.compile(optimizer=Watching(learning_rate=0.1, weight_decay=0.1), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert seen == [None] * 3
    seen.clear()
    gi = gn.Input((4,))
    gb = _block(gn.Layer, gn.layers, ops)()
    dead = gn.Model(gi, gn.layers.Dense(1)(gb(gi)))
    dead.compile(optimizer=Watching(learning_rate=0.1, weight_decay=0.1), loss="mse")
    dead.fit(x, y, batch_size=4, epochs=1, verbose=0)
    # the probe's kernel and bias: one run of the flat buffer, after a's and b's weights
    start = sum(w.size for w in gb.a.get_weights() + gb.b.get_weights())
    assert seen == [{"params": [(start, start + 3 * 7 + 7)]}] * 3
    assert dead.optimizer._ungraded is None         # (only while a step runs)


# -- 2. tape.gradient: None where TF gives None ---------------------------------------------------------

_TARGETS = ["loss", "losses", "both"]


def _targets(o, out, y, losses):
    loss = o.mean(o.square(out - y))
    return {"loss": loss, "losses": losses[0], "both": loss + losses[0]}


@pytest.mark.parametrize("target", _TARGETS)
@pytest.mark.parametrize("unconnected", ["none", "zero"])
def test_tape_gradient_gives_none_where_tf_does(keras, rng, target, unconnected):
    import tensorflow as tf
    x, y = _data(rng)
    theirs, _, ours, _ = _pair(keras, with_term=(True, True))
    with tf.GradientTape() as tape:
        out = theirs(x, training=True)
        t = _targets(keras.ops, out, y, theirs.losses)[target]
    # (TF's own variables under Keras': "zero" reads their dtypes)
    kg = tape.gradient(t, [w.value for w in theirs.trainable_weights],
                       unconnected_gradients=tf.UnconnectedGradients(unconnected))
    with gn.GradientTape() as tape:
        out = ours(x, training=True)
        t = _targets(ops, out, y, ours.losses)[target]
    gg = tape.gradient(t, ours.trainable_weights, unconnected_gradients=unconnected)
    assert [g is None for g in gg] == [g is None for g in kg]
    # (the probe's weights are None for every target; b's and the head's when only the term is)
    assert sum(g is None for g in kg) == {"none": {"loss": 4, "losses": 6, "both": 2}[target], "zero": 0}[unconnected]
    for a, b, w in zip(gg, kg, ours.trainable_weights):
        if b is not None:
            assert a.shape == w.shape and a.dtype == w.dtype
            np.testing.assert_allclose(a, np.asarray(b), atol=1e-6, rtol=1e-5)


def test_the_add_loss_only_gradients_match_float64_finite_differences(rng):
    """The walk seeded by the add_loss terms alone (no output gradient): the weights it reaches."""
    gi = gn.Input((4,))
    gb = _block(gn.Layer, gn.layers, ops, with_term=True)()
    model = gn.Model(gi, gn.layers.Dense(1)(gb(gi)), dtype="float64", seed=0)
    x = rng.normal(size=(5, 4))

    def term():
        model(x, training=True)
        return float(model.losses[0])
    with gn.GradientTape() as tape:
        model(x, training=True)
        t = model.losses[0]
    grads = tape.gradient(t, model.trainable_weights)
    for w, g in zip(model.trainable_weights, grads):
        (numeric,) = _numeric(term, [w])
        if g is None:       # what the term does not read: no dependence at all
            assert not numeric.any()
        else:
            assert g.dtype == np.float64
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)
    assert sum(g is not None for g in grads) == 4          # a's and c's kernel and bias


# -- 3. apply_gradients of None gradients, in a loop of one's own ----------------------------------------

@pytest.mark.parametrize("name", ["adamw", "sgd_decay", "adam_ema"])
def test_apply_gradients_leaves_a_none_gradients_weight_and_state_as_keras(keras, rng, name):
    """Even steps differentiate the loss and the term (only the probe gets None), odd steps the term
    alone (b, with a MaxNorm constraint, and the head get None): their momentum and moments wait."""
    import tensorflow as tf
    x, y = _data(rng)
    theirs, _, ours, gb = _pair(keras, with_term=(True, True),
                                constraint=(keras.constraints.MaxNorm(0.5), gn.constraints.MaxNorm(0.5)))
    k_opt, g_opt = _optimizers(keras, name)
    ours.compile(optimizer=g_opt, loss="mse")       # (its state then is fit's: one flat buffer)
    for step in range(6):
        target = "both" if step % 2 == 0 else "losses"
        with tf.GradientTape() as tape:
            t = _targets(keras.ops, theirs(x, training=True), y, theirs.losses)[target]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # (Keras: "Gradients do not exist for variables")
            k_opt.apply_gradients(zip(tape.gradient(t, theirs.trainable_weights), theirs.trainable_weights))
        with gn.GradientTape() as tape:
            t = _targets(ops, ours(x, training=True), y, ours.losses)[target]
        grads = tape.gradient(t, ours.trainable_weights)
        if step % 2:
            b_state = {slot: array[_runs(ours, gb.b)].copy() for slot, array in g_opt.slots["params"].items()}
            b_weights = [w.copy() for w in gb.b.get_weights()]
        g_opt.apply_gradients(zip(grads, ours.trainable_weights))
        if step % 2:            # b got None: its weights and its state stay, even its moving average
            for slot, array in g_opt.slots["params"].items():
                if slot != "average":
                    np.testing.assert_array_equal(array[_runs(ours, gb.b)], b_state[slot])
            for now, was in zip(gb.b.get_weights(), b_weights):
                np.testing.assert_array_equal(now, was)
        _assert_weights_match(ours, theirs)
    assert g_opt.iterations == 6 and int(k_opt.iterations) == 6


def _runs(model, layer):
    """A slice of the flat buffer holding ``layer``'s weights (laid end to end in it)."""
    start = 0
    for owner, _, param, _ in model._views:
        if owner is layer:
            return slice(start, start + sum(w.size for w in layer.get_weights()))
        start += param.size
    raise AssertionError("layer not trained")


def test_apply_gradients_with_none_keeps_one_flat_step_for_another_optimizer(rng):
    """An optimizer other than the compiled one steps the model's set as one flat array too (its key
    ``<model>/params``), the None gradients' weights left, as those of weights given alone."""
    x, y = _data(rng)
    gi = gn.Input((4,))
    gb = _block(gn.Layer, gn.layers, ops)()
    model = gn.Model(gi, gn.layers.Dense(1)(gb(gi)), seed=0)
    opt = gn.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.5)
    probe = [w.copy() for w in gb.probe.get_weights()]
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_weights)
    assert [g is None for g in grads] == [False] * 4 + [True] * 2 + [False] * 2
    opt.apply_gradients(zip(grads, model.trainable_weights))
    assert list(opt.slots) == [f"{model.name}/params"]
    for now, was in zip(gb.probe.get_weights(), probe):
        np.testing.assert_array_equal(now, was)
    # a weight given alone with None (not a model's whole set): left as well, no state made for it
    w = np.ones((3,), np.float32)
    v = np.ones((2,), np.float32)
    opt.apply_gradients([(None, w), (np.ones(2, np.float32), v)])
    np.testing.assert_array_equal(w, np.ones(3))
    assert not np.array_equal(v, np.ones(2))


def test_adafactor_leaves_the_factored_moments_of_a_none_gradients_weight(rng):
    """Adafactor's r and c hold each matrix's rows and columns: those of the weights given None stay."""
    x, y = _data(rng)
    gi = gn.Input((4,))
    gb = _block(gn.Layer, gn.layers, ops, with_term=True)()
    model = gn.Model(gi, gn.layers.Dense(1)(gb(gi)), seed=0)
    model.compile(optimizer=gn.optimizers.Adafactor(learning_rate=0.01), loss="mse")
    opt = model.optimizer
    head = model.layers[-1]
    for step in range(3):
        with gn.GradientTape() as tape:
            out = model(x, training=True)
            t = ops.mean(ops.square(out - y)) + model.losses[0] if step != 1 else model.losses[0]
        grads = tape.gradient(t, model.trainable_weights)
        if step == 1:
            before = {name: opt.slots["params"][name].copy() for name in ("r", "c")}
        opt.apply_gradients(zip(grads, model.trainable_weights))
        if step == 1:       # b and the head got None here, the probe at every step: their rows stay
            for name in ("r", "c"):
                left = _factored_rows(model, name, (gb.b, head, gb.probe))
                stepped = _factored_rows(model, name, (gb.a, gb.c))
                np.testing.assert_array_equal(opt.slots["params"][name][left], before[name][left])
                assert (opt.slots["params"][name][stepped] != before[name][stepped]).all()


def _factored_rows(model, name, layers):
    """The entries of Adafactor's r (or c) for the kernels of ``layers`` (2-D weights, laid out in
    the flat buffer's order)."""
    rows, offset = [], 0
    for owner, _, param, _ in model._views:
        if param.ndim == 2:
            length = param.shape[0] if name == "r" else param.shape[1]
            if any(owner is layer for layer in layers):
                rows.extend(range(offset, offset + length))
            offset += length
    return np.array(rows)


def test_adafactor_slot_runs_name_each_matrixs_rows_and_columns():
    opt = gn.optimizers.Adafactor()
    opt._shapes_of = {"params": [(4, 3), (3,), (3, 2), (2,), (2, 5, 6)]}
    param = np.zeros(12 + 3 + 6 + 2 + 60, np.float32)
    runs = [(15, 23)]                       # the (3, 2) weight and the (2,) one
    assert opt._slot_runs("r", "params", np.zeros(4 + 3 + 10), param, runs) == [(4, 7)]
    assert opt._slot_runs("c", "params", np.zeros(3 + 2 + 12), param, runs) == [(3, 5)]
    assert opt._slot_runs("v", "params", np.zeros_like(param), param, runs) == runs
    assert opt._slot_runs("r", "params", np.zeros(17), param, [(23, 83)]) == [(7, 17)]


def test_apply_gradients_refuses_what_is_not_a_pair_by_name():
    opt = gn.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(TypeError, match=r"apply_gradients: expected \(gradient, weight\) pairs.*item 0 is ndarray"):
        opt.apply_gradients([np.zeros(2)])
    with pytest.raises(ValueError, match="unconnected_gradients: expected 'none' or 'zero', got 'zeros'"):
        with gn.GradientTape() as tape:
            w = np.ones(2, np.float32)
            tape.watch(w)
            t = ops.sum(w * 2.0)
        tape.gradient(t, w, unconnected_gradients="zeros")
