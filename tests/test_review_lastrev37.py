"""Review (today's features together, a seeded cross-feature fuzz against Keras 3.15): a Keras-style
block (gn.Layer with call) holding add_weight weights, sub-layers, glassnet.ops and add_loss, in a
functional model with a (None,) output beside a (None, k) one and in (lazily drawn) Sequentials,
trained with a metric function of one's own, uneven last batches and sample weights, from Keras'
weights: predictions, model.losses, count_params, 2 SGD epochs (loss, val_loss, the metric,
weights), evaluate, save_weights/load_weights.

Found: a metric function of one's own on an output of one number per sample, (None,), was given
the output as (n, 1) rows; Keras 3.15 gives it as the model gives it, (n,), so
``mean(abs(y_true - y_pred))`` against targets (n, 1) broadcasts to (n, n) there (0.8265 vs
glassnet's 0.8753); and in ``weighted_metrics`` such a function's one number per batch was
counted by samples, where Keras counts it once (0.8064 vs 0.7249)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

ACTS = ["tanh", "relu", "sigmoid", "square", "softplus", "silu", "sin", "negative", "elu"]


def _block(base, L, o, chain, add_loss, residual):
    class Block(base):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d1 = L.Dense(units, activation="tanh")
            self.d2 = L.Dense(units)

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="random_normal", name="scale")
            self.shift = self.add_weight(shape=(self.units,), initializer="zeros", name="shift")

        def call(self, x):
            h = self.d1(x) * self.scale + self.shift
            for name in chain:
                h = getattr(o, name)(h)
            if add_loss:
                self.add_loss(0.1 * o.mean(o.square(h)))
            out = self.d2(h)
            return out + h if residual else out
    return Block


def _own_metric(o):
    def own_mae(y_true, y_pred):            # one number per batch, as keras.io's PSNR-like metrics
        return o.mean(o.abs(y_true - y_pred))
    return own_mae


@pytest.fixture(autouse=True)
def _fresh_keras(request):
    if "keras" in request.fixturenames:
        request.getfixturevalue("keras").backend.clear_session()


def _close(got, expected, what, tol=2e-5):
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=what)


@pytest.mark.parametrize("seed", range(4))
def test_block_with_weights_ops_add_loss_beside_a_scalar_output_as_keras(keras, seed, tmp_path):
    rng = np.random.default_rng(seed)
    chain = list(rng.choice(ACTS, size=int(rng.integers(1, 3))))
    add_loss, residual = bool(seed % 2 == 0), bool(seed // 2)
    d, u, k, n, bs = int(rng.integers(2, 5)), int(rng.integers(2, 4)), int(rng.integers(1, 3)), 11, 4
    x = rng.normal(size=(n, d)).astype("float32")
    ya, ys = rng.normal(size=(n, k)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")
    sw = (rng.random(n) + 0.5).astype("float32")
    xv, yva, yvs = (rng.normal(size=(5, c)).astype("float32") for c in (d, k, 1))
    keras.utils.set_random_seed(seed)
    KB, GB = _block(keras.layers.Layer, keras.layers, keras.ops, chain, add_loss, residual), \
        _block(gn.Layer, gn.layers, ops, chain, add_loss, residual)
    ki = keras.Input((d,))
    kh = KB(u)(ki)
    kmodel = keras.Model(ki, [keras.layers.Dense(k, name="a")(kh), keras.ops.sum(kh, axis=1) if seed % 2 else kh[:, 0]])
    gi = gn.Input((d,))
    gh = GB(u)(gi)
    model = gn.Model(gi, [gn.layers.Dense(k, name="a")(gh), ops.sum(gh, axis=1) if seed % 2 else gh[:, 0]], seed=0)
    assert model.count_params() == kmodel.count_params()
    model.set_weights(kmodel.get_weights())
    for g, e in zip(model.predict(x, verbose=0), kmodel.predict(x, verbose=0)):
        _close(g, e, "predict")
    kmodel(x)
    model(x)
    _close([float(v) for v in model.losses], [float(v) for v in kmodel.losses], "model.losses")
    kmodel.compile(optimizer=keras.optimizers.SGD(0.05), loss=["mse", "mse"],
                   metrics=[[_own_metric(keras.ops)], [_own_metric(keras.ops)]])
    model.compile(optimizer=gn.optimizers.SGD(0.05), loss=["mse", "mse"], metrics=[[_own_metric(ops)], [_own_metric(ops)]])
    fit = dict(sample_weight=sw, batch_size=bs, epochs=2, shuffle=False, verbose=0, validation_data=(xv, [yva, yvs]))
    expected, got = kmodel.fit(x, [ya, ys], **fit).history, model.fit(x, [ya, ys], **fit).history
    # Keras 3.15's per-output loss logs are off after an uneven last batch (tests/test_scalar_outputs_multi.py)
    names = [name for name in got if not name.endswith("_loss") or name in ("loss", "val_loss")]
    assert len(names) == 6
    key = dict(zip([h.name for h in model._heads], kmodel.output_names))
    for name in names:
        theirs = name
        for ours_head, their_head in key.items():
            theirs = theirs.replace(ours_head + "_", their_head + "_")
        _close(got[name], expected[theirs], name)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        _close(a, b, "weights")
    e, g = kmodel.evaluate(xv, [yva, yvs], verbose=0), model.evaluate(xv, [yva, yvs], verbose=0)
    _close([g[0], *g[-2:]], [e[0], *e[-2:]], "evaluate")
    model.save_weights(tmp_path / "w.npz")
    before = model.predict(x, verbose=0)
    model.set_weights([w * 0 for w in model.get_weights()])
    model.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.predict(x, verbose=0), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lazy", [False, True])
def test_block_in_a_sequential_with_an_own_metric_as_keras(keras, lazy, tmp_path):
    rng = np.random.default_rng(5)
    x, y, sw = rng.normal(size=(13, 3)).astype("float32"), rng.normal(size=(13, 2)).astype("float32"), \
        (rng.random(13) + 0.5).astype("float32")
    keras.utils.set_random_seed(5)
    KB, GB = _block(keras.layers.Layer, keras.layers, keras.ops, ["tanh", "square"], False, True), \
        _block(gn.Layer, gn.layers, ops, ["tanh", "square"], False, True)
    kmodel = keras.Sequential(([] if lazy else [keras.Input((3,))]) + [KB(3), keras.layers.Dense(2)])
    model = gn.Sequential(([] if lazy else [gn.Input((3,))]) + [GB(3), gn.layers.Dense(2)])
    if lazy:
        for m in (kmodel, model):
            with pytest.raises(ValueError, match="build"):
                m.count_params()
        kmodel.build((None, 3))
        model.build((3,))
    assert model.count_params() == kmodel.count_params()
    model.set_weights(kmodel.get_weights())
    kmodel.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=[_own_metric(keras.ops)])
    model.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse", metrics=[_own_metric(ops)])
    fit = dict(sample_weight=sw, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_split=0.3)
    expected, got = kmodel.fit(x, y, **fit).history, model.fit(x, y, **fit).history
    assert sorted(got) == sorted(expected)
    for name in got:
        _close(got[name], expected[name], name)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        _close(a, b, "weights")
    _close(model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0), "evaluate")


def _scalar_twins(keras):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)).astype("float32"), rng.normal(size=(10, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    ki = keras.Input((3,))
    kmodel = keras.Model(ki, keras.layers.Dense(2)(ki)[:, 0])
    gi = gn.Input((3,))
    model = gn.Model(gi, gn.layers.Dense(2)(gi)[:, 0])
    model.build((3,))
    model.set_weights(kmodel.get_weights())
    return kmodel, model, x, y


def test_an_own_metric_function_sees_a_scalar_output_as_keras_gives_it(keras):
    seen = []

    def shapes(y_true, y_pred):
        seen.append((tuple(y_true.shape)[1:], tuple(y_pred.shape)[1:]))
        return ops.mean(y_pred)
    kmodel, model, x, y = _scalar_twins(keras)
    kmodel.compile(optimizer="sgd", loss="mse", metrics=[_own_metric(keras.ops)], weighted_metrics=[_own_metric(keras.ops)])
    model.compile(optimizer="sgd", loss="mse", metrics=[_own_metric(ops), shapes], weighted_metrics=[_own_metric(ops)])
    expected = kmodel.evaluate(x, y, batch_size=4, verbose=0)       # batches of 4, 4, 2
    got = model.evaluate(x, y, batch_size=4, verbose=0)
    assert seen[0] == ((1,), ())                    # Keras: y_true (None, 1), y_pred (None,)
    _close([got[0], got[1], got[3]], expected[:3], "evaluate")
    _close(model.test_on_batch(x[:4], y[:4])[:2], kmodel.test_on_batch(x[:4], y[:4])[:2], "test_on_batch")
    kmodel.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=[_own_metric(keras.ops)])
    model.compile(optimizer=gn.optimizers.SGD(0.1), loss="mse", metrics=[_own_metric(ops)])
    fit = dict(batch_size=4, epochs=2, shuffle=False, verbose=0)
    expected, got = kmodel.fit(x, y, **fit).history, model.fit(x, y, **fit).history
    for name in got:
        _close(got[name], expected[name], name)


def test_glassnet_metrics_on_a_scalar_output_still_score_rows(keras):
    kmodel, model, x, y = _scalar_twins(keras)
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae", keras.metrics.MeanSquaredError()])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", gn.metrics.MeanSquaredError()])
    _close(model.evaluate(x, y, batch_size=4, verbose=0), kmodel.evaluate(x, y, batch_size=4, verbose=0), "evaluate")
