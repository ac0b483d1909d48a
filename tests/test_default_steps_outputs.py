"""Keras 3's default steps (glassnet.default_steps) on a model of several outputs: ``super().train_step``,
``super().test_step``, ``compute_loss`` overrides, evaluate; list and dict outputs, ``loss_weights``,
None losses, per-output metrics and sample weights. Each against Keras 3.15 on TensorFlow from the
same weights (shuffle=False): history keys and values, evaluate's list and dict, final weights.

Keras' per-output losses ("<output>_loss") are a ``Mean`` its ``CompileLoss`` updates with
``sample_weight`` = the batch size; its compiled TensorFlow step reads that size statically (None
for a batch axis of unknown size) and so weighs each batch once, while ``run_eagerly=True`` (and
the total "loss", read dynamically) weighs each by its rows: the two disagree when the last batch is
smaller. glassnet weighs by rows (Keras' code, its eager steps, and the sum "loss" = sum of weight x
"<output>_loss" kept); those tests compare with Keras run eagerly, and check the graph's weighting.
Also: the gradient the default step applies against float64 central differences, and the weights
only an unscored output reads: None under the tape as tf.GradientTape's, skipped by fit as Keras."""
import numpy as np
import pytest

import glassnet as gn


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    ya = rng.normal(size=(n, 2)).astype(np.float32)
    yb = (rng.uniform(size=(n, 1)) > 0.5).astype(np.float32)
    w = rng.uniform(0.5, 1.5, size=n).astype(np.float32)
    return x, ya, yb, w


def _first(values):
    """The first output's: of a list, or of a dict by its first key ("a")."""
    return values[0] if isinstance(values, (list, tuple)) else values[sorted(values)[0]]


def _classes(lib):
    class Steps(lib.Model):
        def train_step(self, data):
            return super().train_step(data)

        def test_step(self, data):
            return super().test_step(data)

    class Smooth(lib.Model):        # compute_loss of its own, on the compiled one
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            return loss + 0.1 * lib.ops.mean(lib.ops.square(_first(y_pred)))

    class Bare(lib.Model):          # never calls the compiled loss: Keras logs no "<output>_loss"
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return lib.ops.mean(lib.ops.square(_first(y_pred) - _first(y)))
    return {"steps": Steps, "smooth": Smooth, "bare": Bare}


def _net(lib, cls, outputs="list", seed=None, dtype=None, third=False):
    inputs = lib.Input((3,))
    hidden = lib.layers.Dense(4, activation="tanh", name="h")(inputs)
    made = [lib.layers.Dense(2, name="o0")(hidden), lib.layers.Dense(1, activation="sigmoid", name="o1")(hidden)]
    if third:       # an output read by nothing but predict (compiled with a None loss)
        made.append(lib.layers.Dense(2, name="o2")(hidden))
    out = made if outputs == "list" else dict(zip(["a", "b", "c"], made))
    kw = {} if seed is None else {"seed": seed}
    if dtype is not None:
        kw["dtype"] = dtype
    return cls(inputs, out, **kw)


def _compiled(lib, model, outputs="list", optimizer="sgd", eager=False):
    opt = {"sgd": lambda: lib.optimizers.SGD(0.1), "adam": lambda: lib.optimizers.Adam(0.02)}[optimizer]()
    kw = {"run_eagerly": True} if eager else {}
    if outputs == "list":
        model.compile(loss=["mse", "binary_crossentropy"], optimizer=opt, loss_weights=[1.0, 0.5],
                      metrics=[["mae"], ["accuracy"]], weighted_metrics=[["mse"], None], **kw)
    else:
        model.compile(loss={"a": "mse", "b": "binary_crossentropy"}, optimizer=opt, loss_weights={"a": 0.7, "b": 2.0},
                      metrics={"a": ["mae"], "b": ["accuracy"]}, **kw)
    return model


def _pair(keras, kind, outputs="list", optimizer="sgd", eager=False):
    model = _compiled(gn, _net(gn, _classes(gn)[kind], outputs, seed=0), outputs, optimizer)
    other = _net(keras, _classes(keras)[kind], outputs)
    other.set_weights(model.get_weights())
    return model, _compiled(keras, other, outputs, optimizer, eager)


def _targets(outputs, ya, yb):
    return [ya, yb] if outputs == "list" else {"a": ya, "b": yb}


def _same_logs(mine, theirs, tol=1e-5):
    assert sorted(mine) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=tol, atol=tol, err_msg=key)


def _same_weights(model, other, tol=1e-5):
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("outputs", ["list", "dict"])
@pytest.mark.parametrize("kind", ["steps", "smooth", "bare"])
def test_default_steps_of_several_outputs_log_as_keras(keras, kind, outputs):
    x, ya, yb, _ = _data()
    y = _targets(outputs, ya, yb)
    model, other = _pair(keras, kind, outputs)
    kw = dict(epochs=2, batch_size=4, shuffle=False, verbose=0, validation_data=(x[:4], _targets(outputs, ya[:4], yb[:4])))
    mine, theirs = model.fit(x, y, **kw).history, other.fit(x, y, **kw).history
    _same_logs(mine, theirs)
    names = ["a", "b"] if outputs == "dict" else ["o0", "o1"]
    # Keras builds its per-output trackers at the compiled loss' first call: never, for Bare
    assert (f"{names[0]}_loss" in mine) == (kind != "bare")
    _same_weights(model, other)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4, verbose=0),
                               other.evaluate(x, y, batch_size=4, verbose=0), rtol=1e-5, atol=1e-6)
    _same_logs(model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True),
               other.evaluate(x, y, batch_size=4, verbose=0, return_dict=True))
    np.testing.assert_allclose(model.train_on_batch(x, y), other.train_on_batch(x, y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.test_on_batch(x, y), other.test_on_batch(x, y), rtol=1e-5, atol=1e-6)


def test_adam_and_sample_weights_per_output_and_for_all(keras):
    x, ya, yb, w = _data()
    w2 = np.linspace(0.2, 2.0, len(x)).astype(np.float32)
    model, other = _pair(keras, "steps", optimizer="adam")
    kw = dict(epochs=3, batch_size=4, shuffle=False, verbose=0, sample_weight=w)
    _same_logs(model.fit(x, [ya, yb], **kw).history, other.fit(x, [ya, yb], **kw).history, tol=1e-4)
    # (Adam's sqrt(v) magnifies float32 rounding: weights to 1e-4, as plain fit's against Keras)
    _same_weights(model, other, tol=1e-4)
    np.testing.assert_allclose(model.evaluate(x, [ya, yb], sample_weight=w, verbose=0),
                               other.evaluate(x, [ya, yb], sample_weight=w, verbose=0), rtol=1e-4, atol=1e-5)
    # weights per output, as Keras hands a step them: (fit's own batches take one array for all
    # outputs, refused by name otherwise) the step called directly, its running logs as Keras'
    for weights in ([w, w2], [w, None], w):
        model, other = _pair(keras, "steps", eager=True)
        for b in (slice(0, 4), slice(4, 8)):
            cut = [None if a is None else a[b] for a in weights] if isinstance(weights, list) else weights[b]
            mine = model.train_step((x[b], [ya[b], yb[b]], cut))
            theirs = {k: float(v) for k, v in other.train_step((x[b], (ya[b], yb[b]), cut)).items()}
            _same_logs(mine, theirs)
        _same_weights(model, other)
        _same_logs(model.test_step((x, [ya, yb], weights)),
                   {k: float(v) for k, v in other.test_step((x, (ya, yb), weights)).items()})


def test_none_losses_and_the_scored_outputs_targets(keras):
    x, ya, yb, _ = _data()
    models = []
    for lib in (gn, keras):
        model = _net(lib, _classes(lib)["steps"], third=True, **({"seed": 0} if lib is gn else {}))
        model.compile(loss=["mse", "binary_crossentropy", None], optimizer=lib.optimizers.SGD(0.1),
                      loss_weights=[1.0, 0.5, 3.0], metrics=[["mae"], ["accuracy"], None])
        models.append(model)
    model, other = models
    other.set_weights(model.get_weights())
    kw = dict(epochs=2, batch_size=4, shuffle=False, verbose=0)
    mine, theirs = model.fit(x, [ya, yb, None], **kw).history, other.fit(x, [ya, yb, None], **kw).history
    _same_logs(mine, theirs)
    assert "o2_loss" not in mine
    _same_weights(model, other)
    expected = other.evaluate(x, [ya, yb, None], batch_size=4, verbose=0)
    np.testing.assert_allclose(model.evaluate(x, [ya, yb, None], batch_size=4, verbose=0), expected, rtol=1e-5)
    # compute_loss takes the scored outputs' targets alone, as Keras' CompileLoss does
    y_pred = model(x)
    np.testing.assert_allclose(float(model.compute_loss(x, [ya, yb], y_pred)),
                               float(other.compute_loss(x, [ya, yb], other(x))), rtol=1e-5)


@pytest.mark.parametrize("kind", ["plain", "steps"])
def test_a_smaller_last_batch_weighs_outputs_losses_by_rows_as_keras_eager(keras, kind):
    """(b): 6 samples in batches of 4 and 2. Keras' graph step weighs each batch's "<output>_loss"
    once, its eager step by rows; glassnet's fit, plain and by the default step, by rows."""
    x, ya, yb, w = _data(6)
    classes = {"plain": (gn.Model, keras.Model), "steps": (_classes(gn)["steps"], _classes(keras)["steps"])}[kind]
    model = _compiled(gn, _net(gn, classes[0], seed=0), "list")
    eager, graph = (_compiled(keras, _net(keras, classes[1]), "list", eager=e) for e in (True, False))
    eager.set_weights(model.get_weights())
    kw = dict(epochs=2, batch_size=4, shuffle=False, verbose=0)
    mine = model.fit(x, [ya, yb], **kw).history
    _same_logs(mine, eager.fit(x, [ya, yb], **kw).history)
    _same_weights(model, eager)
    graph.set_weights(model.get_weights())
    # the total loss is the sum of the weighted outputs' losses in glassnet (and Keras eager)
    np.testing.assert_allclose(mine["loss"], np.add(mine["o0_loss"], 0.5 * np.array(mine["o1_loss"])), rtol=1e-5)
    for weights in (None, w):
        logs = model.evaluate(x, [ya, yb], batch_size=4, sample_weight=weights, verbose=0, return_dict=True)
        _same_logs(logs, eager.evaluate(x, [ya, yb], batch_size=4, sample_weight=weights, verbose=0,
                                        return_dict=True))
        # Keras' graph step: the same "loss", but each output's loss the plain mean of its batches' values
        theirs = graph.evaluate(x, [ya, yb], batch_size=4, sample_weight=weights, verbose=0, return_dict=True)
        assert logs["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
        a, b = model.predict(x[:4], verbose=0), model.predict(x[4:], verbose=0)
        per_batch = [gn.losses.MeanSquaredError()(p[0], ya[s]) if weights is None else
                     gn.losses.MeanSquaredError().weighted(p[0], ya[s], weights[s])
                     for p, s in ((a, slice(0, 4)), (b, slice(4, 6)))]
        assert theirs["o0_loss"] == pytest.approx(np.mean(per_batch), rel=1e-4)
        assert logs["o0_loss"] == pytest.approx((4 * per_batch[0] + 2 * per_batch[1]) / 6, rel=1e-4)


def test_default_step_gradient_matches_finite_differences():
    """One default SGD step on a float64 model of three outputs (loss weights, a None loss, sample
    weights per output) moves each weight by lr times the float64 central-difference gradient."""
    x, ya, yb, w = (a.astype(np.float64) for a in _data(5))
    model = _net(gn, _classes(gn)["smooth"], seed=3, dtype="float64", third=True)
    model.compile(loss=["mse", "binary_crossentropy", None], loss_weights=[0.7, 1.6, 1.0],
                  optimizer=gn.optimizers.SGD(0.01))
    y, sw = [ya, yb, None], [w, w[::-1].copy(), None]
    start = model.get_weights()

    def loss():
        return float(model.compute_loss(x, y, model(x), sw))
    expected, eps = [], 1e-6
    for a in model.trainable_weights:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = keep + eps
            up = loss()
            a[i] = keep - eps
            g[i] = (up - loss()) / (2 * eps)
            a[i] = keep
        expected.append(g)
    model.train_step((x, y, sw))       # (fit's batches take one array of weights for all outputs)
    moved = [(before - after) / 0.01 for before, after in zip(start, model.get_weights())]
    for got, want in zip(moved, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    assert not any(np.any(step) for step in moved[-2:])     # o2, unscored: left as it was


def test_unscored_outputs_weights_get_none_under_the_tape_as_tf(keras):
    """(c): compute_loss under gn.GradientTape gives None for the weights only an unscored output
    reads, as tf.GradientTape does; apply_gradients and fit then leave them (momentum, weight decay)
    as Keras does."""
    import tensorflow as tf
    x, ya, yb, _ = _data()
    model = _net(gn, gn.Model, seed=0, third=True)
    other = _net(keras, keras.Model, third=True)
    other.set_weights(model.get_weights())
    for m, lib in ((model, gn), (other, keras)):
        m.compile(loss=["mse", "binary_crossentropy", None], optimizer=lib.optimizers.SGD(0.1, momentum=0.9))
    for y in ([ya, yb, None], [ya, yb]):
        with gn.GradientTape() as tape:
            loss = model.compute_loss(x, y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        with tf.GradientTape() as t2:
            loss2 = other.compute_loss(x, y, other(x, training=True))
        theirs = t2.gradient(loss2, other.trainable_weights)
        assert [g is None for g in grads] == [g is None for g in theirs] == [False] * 6 + [True] * 2
        for g, t in zip(grads, theirs):
            if g is not None:
                np.testing.assert_allclose(g, t.numpy(), rtol=1e-5, atol=1e-6)
    # a target reading one output alone: the others' layers get None (TF's), its own path not
    with gn.GradientTape() as tape:
        out = model(x, training=True)
        only = gn.ops.mean(out[2])
    assert [g is None for g in tape.gradient(only, model.trainable_weights)] == [False] * 2 + [True] * 4 + [False] * 2
    for m, lib in ((model, gn), (other, keras)):      # weight decay would move o2 if it had a gradient
        m.compile(loss=["mse", "binary_crossentropy", None], optimizer=lib.optimizers.AdamW(0.05, weight_decay=0.5))
    kw = dict(epochs=2, batch_size=4, shuffle=False, verbose=0)
    before = model.get_weights()[-2:]
    model.fit(x, [ya, yb, None], **kw)
    other.fit(x, [ya, yb, None], **kw)
    _same_weights(model, other, tol=1e-4)
    for a, b in zip(before, model.get_weights()[-2:]):
        np.testing.assert_array_equal(a, b)


def test_bad_targets_named():
    x, ya, yb, _ = _data()
    model = _compiled(gn, _net(gn, _classes(gn)["steps"], seed=0), "list")
    with pytest.raises(ValueError, match=r"Steps.compute_metrics: y: output 'o1' has compiled metrics .*got None"):
        model.compute_metrics(x, [ya, None], model(x))
    with pytest.raises(ValueError, match=r"Steps.compute_metrics: y: the model has 2 outputs .*got a list of 3"):
        model.compute_metrics(x, [ya, yb, yb], model(x))
    with pytest.raises(ValueError, match=r"Steps.compute_metrics: y_pred: a dict needs the outputs' names"):
        model.compute_metrics(x, [ya, yb], {"zz": ya, "o1": yb})
    with pytest.raises(ValueError, match=r"compute_metrics: y: the compiled metrics .* got None"):
        model.compute_metrics(x, None, model(x))
