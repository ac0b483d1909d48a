"""Keras 3's overridable steps (glassnet.default_steps): ``super().train_step(data)`` and
``super().test_step(data)`` from a subclass's own step, ``compute_loss`` and ``compute_metrics``
overrides run by plain ``fit``/``evaluate``, and ``predict_step`` run by ``predict``; each against
Keras 3.15 on TensorFlow (the same initial weights, shuffle=False: histories, evaluate, predict and
final weights to 1e-5), the gradient the default step applies against float64 central finite
differences, and plain models kept on glassnet's compiled step."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops
from central_differences import numeric as central_differences      # float64


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=n) > 0).astype(np.float32).reshape(-1, 1)
    w = rng.uniform(0.5, 1.5, size=n).astype(np.float32)
    return x, y, w


def _net(lib, cls, seed=None):
    inputs = lib.Input((3,))
    hidden = lib.layers.Dense(4, activation="tanh", kernel_regularizer=lib.regularizers.L2(0.01))(inputs)
    outputs = lib.layers.Dense(1, activation="sigmoid")(hidden)
    return cls(inputs, outputs) if seed is None else cls(inputs, outputs, seed=seed)


def _optimizer(lib, name):
    return {"sgd": lambda: lib.optimizers.SGD(0.1), "adam": lambda: lib.optimizers.Adam(0.02)}[name]()


def _pair(keras, mine, theirs, optimizer="adam", metrics=("accuracy",), weighted=None):
    """The glassnet model of class ``mine`` and the Keras one of ``theirs``, compiled alike, from the
    same weights."""
    model = _net(gn, mine, seed=0)
    model.compile(loss="binary_crossentropy", optimizer=_optimizer(gn, optimizer), metrics=list(metrics),
                  weighted_metrics=weighted)
    other = _net(keras, theirs)
    other.compile(loss="binary_crossentropy", optimizer=_optimizer(keras, optimizer), metrics=list(metrics),
                  weighted_metrics=weighted)
    other.set_weights(model.get_weights())
    return model, other


def _same(history, keras_history, model, other, tol=1e-5):
    """Histories to ``tol``; weights to ``tol`` with SGD, to 1e-4 with Adam, whose division by
    sqrt(v) magnifies float32 rounding: glassnet's plain compiled fit of these models and Keras'
    differ by 3.3e-5 after 12 Adam steps too (measured), the default step by the same."""
    assert set(history) == set(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=tol, atol=tol, err_msg=key)
    wtol = 1e-4 if isinstance(model.optimizer, gn.optimizers.Adam) else tol
    for mine, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=wtol, atol=wtol)


# -- 1. super().train_step(data), super().test_step(data) ---------------------------------------
class Counting(gn.Model):
    """A step that does something, then Keras' default one (the guide's pattern)."""
    seen = 0

    def train_step(self, data):
        self.seen += 1
        return super().train_step(data)

    def test_step(self, data):
        return super().test_step(data)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_super_train_step_matches_keras(keras, optimizer):
    class KCounting(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

        def test_step(self, data):
            return super().test_step(data)

    x, y, w = _data()
    model, other = _pair(keras, Counting, KCounting, optimizer, metrics=("accuracy", "mae"))
    fit = dict(epochs=3, batch_size=6, shuffle=False, verbose=0, validation_data=(x[:9], y[:9]))
    history = model.fit(x, y, **fit).history
    keras_history = other.fit(x, y, **fit).history
    _same(history, keras_history, model, other)
    assert model.seen == 3 * 4
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=7), other.evaluate(x, y, batch_size=7, verbose=0),
                               rtol=1e-5)


def test_super_train_step_with_sample_weight_and_weighted_metrics_matches_keras(keras):
    class KCounting(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

    x, y, w = _data()
    model, other = _pair(keras, Counting, KCounting, "adam", weighted=["accuracy"])
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0, sample_weight=w)
    _same(model.fit(x, y, **fit).history, other.fit(x, y, **fit).history, model, other)
    mine = model.train_on_batch(x[:5], y[:5], sample_weight=w[:5], return_dict=True)
    theirs = other.train_on_batch(x[:5], y[:5], sample_weight=w[:5], return_dict=True)
    assert set(mine) == set(theirs)
    for key in theirs:
        assert mine[key] == pytest.approx(float(theirs[key]), rel=1e-5, abs=1e-6)


def test_super_train_step_equals_plain_fit_and_plain_models_keep_the_compiled_step(monkeypatch):
    import glassnet.default_steps as default_steps
    x, y, _ = _data()
    plain = _net(gn, gn.Model, seed=0)
    stepping = _net(gn, Counting, seed=0)
    for model in (plain, stepping):
        model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.02), metrics=["accuracy"])
    stepping.set_weights(plain.get_weights())
    expected = stepping.fit(x, y, epochs=2, batch_size=6, shuffle=False, verbose=0).history

    def refuse(*args):
        raise AssertionError("a model overriding nothing ran the default (tape) step")
    monkeypatch.setattr(default_steps, "train_step", refuse)
    monkeypatch.setattr(default_steps, "test_step", refuse)
    history = plain.fit(x, y, epochs=2, batch_size=6, shuffle=False, verbose=0, validation_data=(x, y)).history
    assert not plain._own_steps and not plain._own_tests and not plain._own_predicts
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-6)
    for a, b in zip(plain.get_weights(), stepping.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- 2. compute_loss overridden, trained by plain fit -------------------------------------------
class ExtraLoss(gn.Model):
    """keras.io's pattern: the compiled loss plus a term of your own."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        return loss + 0.1 * ops.mean(ops.square(y_pred - 0.5))


class ExtraLossOld(gn.Model):
    """The signature before Keras 3.3 (no ``training``): called without it, as Keras calls it."""

    def compute_loss(self, x, y, y_pred, sample_weight):
        return super().compute_loss(x, y, y_pred, sample_weight) + 0.1 * ops.mean(ops.square(y_pred - 0.5))


@pytest.mark.parametrize("mine", [ExtraLoss, ExtraLossOld])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_compute_loss_override_trained_by_fit_matches_keras(keras, mine, optimizer):
    class KExtra(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            return loss + 0.1 * keras.ops.mean(keras.ops.square(y_pred - 0.5))

    x, y, w = _data()
    model, other = _pair(keras, mine, KExtra, optimizer)
    assert model._own_steps and model._own_tests
    fit = dict(epochs=3, batch_size=6, shuffle=False, verbose=0, validation_split=0.25, sample_weight=w)
    _same(model.fit(x, y, **fit).history, other.fit(x, y, **fit).history, model, other)
    mine_eval = model.evaluate(x, y, batch_size=8, return_dict=True)
    theirs_eval = other.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    assert set(mine_eval) == set(theirs_eval)
    for key in theirs_eval:
        assert mine_eval[key] == pytest.approx(theirs_eval[key], rel=1e-5)
    assert model.test_on_batch(x, y) == pytest.approx(other.test_on_batch(x, y), rel=1e-5)


def test_compute_loss_override_in_a_subclass_with_call_matches_keras(keras):
    class Sub(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = L.Dense(4, activation="relu")
            self.out = L.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            return loss + 0.05 * ops.mean(ops.abs(y_pred)) if training else loss

    class KSub(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(4, activation="relu")
            self.out = keras.layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            return loss + 0.05 * keras.ops.mean(keras.ops.abs(y_pred)) if training else loss

    x, y, _ = _data()
    model, other = Sub(seed=1), KSub()
    model.build((None, 3))
    other(x[:1])
    other.set_weights(model.get_weights())
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05), metrics=["mae"])
    other.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05), metrics=["mae"])
    fit = dict(epochs=3, batch_size=5, shuffle=False, verbose=0, validation_data=(x, y))
    _same(model.fit(x, y, **fit).history, other.fit(x, y, **fit).history, model, other)


def test_default_step_gradient_matches_finite_differences():
    """One SGD step of the default step on the whole batch moves each weight by -lr * gradient of the
    overridden loss: (w0 - w1) / lr against float64 central differences of that loss."""
    x, y, w = (a.astype(np.float64) for a in _data(12))
    inputs = gn.Input((3,))
    hidden = L.Dense(4, activation="tanh", kernel_regularizer=gn.regularizers.L2(0.01))(inputs)
    model = ExtraLoss(inputs, L.Dense(1, activation="sigmoid")(hidden), seed=3, dtype="float64")
    lr = 0.5
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(lr))
    before = [a.copy() for a in model.get_weights()]

    def loss_at(weights):
        model.set_weights(weights)
        y_pred = model.predict(x)
        # the loss the step differentiates: training mode (no Dropout here), with the penalties
        return float(model.compute_loss(x, y, y_pred, w))

    probe = [a.copy() for a in before]      # each entry moved in turn, the others at before
    numeric = central_differences(lambda: loss_at(probe), probe)
    model.set_weights(before)
    model.fit(x, y, sample_weight=w, epochs=1, batch_size=12, shuffle=False, verbose=0)
    for b, a, g in zip(before, model.get_weights(), numeric):
        np.testing.assert_allclose((b - a) / lr, g, rtol=1e-6, atol=1e-8)


# -- compute_metrics overridden, test_step alone -------------------------------------------------
def test_compute_metrics_override_matches_keras(keras):
    class Extra(gn.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.big = gn.metrics.Mean(name="big")

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            results = super().compute_metrics(x, y, y_pred, sample_weight)
            self.big.update_state(np.asarray(y_pred) > 0.5)
            results["big"] = self.big.result()
            return results

    class KExtra(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.big = keras.metrics.Mean(name="big")

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            results = super().compute_metrics(x, y, y_pred, sample_weight)
            self.big.update_state(keras.ops.cast(y_pred > 0.5, "float32"))
            results["big"] = self.big.result()
            return results

    x, y, _ = _data()
    model, other = _pair(keras, Extra, KExtra, "sgd")
    fit = dict(epochs=3, batch_size=6, shuffle=False, verbose=0, validation_data=(x[:10], y[:10]))
    _same(model.fit(x, y, **fit).history, other.fit(x, y, **fit).history, model, other)


def test_test_step_alone_is_run_by_validation_and_evaluate(keras):
    class Halved(gn.Model):
        def test_step(self, data):
            logs = super().test_step(data)
            return {**logs, "half": logs["loss"] / 2}

    class KHalved(keras.Model):
        def test_step(self, data):
            logs = super().test_step(data)
            return {**logs, "half": logs["loss"] / 2}

    x, y, _ = _data()
    model, other = _pair(keras, Halved, KHalved, "adam")
    fit = dict(epochs=2, batch_size=6, shuffle=False, verbose=0, validation_data=(x[:10], y[:10]))
    _same(model.fit(x, y, **fit).history, other.fit(x, y, **fit).history, model, other)
    mine, theirs = model.evaluate(x, y, return_dict=True), other.evaluate(x, y, return_dict=True, verbose=0)
    assert mine == pytest.approx({key: float(v) for key, v in theirs.items()}, rel=1e-5)


# -- 3. predict_step ---------------------------------------------------------------------------
def test_predict_step_override_matches_keras(keras):
    class Both(gn.Model):
        def predict_step(self, data):
            probs = super().predict_step(data)
            return {"probs": probs, "doubled": probs * 2}

    class KBoth(keras.Model):
        def predict_step(self, data):
            probs = super().predict_step(data)
            return {"probs": probs, "doubled": probs * 2}

    x, y, _ = _data()
    model, other = _pair(keras, Both, KBoth, "sgd")
    assert model._own_predicts and not model._own_steps
    mine, theirs = model.predict(x, batch_size=7), other.predict(x, batch_size=7, verbose=0)
    assert set(mine) == set(theirs) == {"probs", "doubled"}
    for key in theirs:
        assert mine[key].shape == theirs[key].shape == (20, 1)
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-6, atol=1e-7)
    # fit is untouched (compiled step), and predict's default batches are Keras' 32
    seen = []
    hook = gn.callbacks.LambdaCallback(on_predict_batch_end=lambda b, logs: seen.append(logs["outputs"]["probs"].shape))
    model.predict(np.concatenate([x, x, x]), callbacks=[hook])
    assert seen == [(32, 1), (28, 1)]


def test_predict_step_of_a_tuple_and_a_dataset():
    class Pair(gn.Model):
        def predict_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            return self(x), x[:, :1]

    x, _, _ = _data()
    model = _net(gn, Pair, seed=0)
    first, second = model.predict(x, batch_size=8)
    np.testing.assert_allclose(first, _net_plain_copy(model).predict(x), rtol=1e-6)
    np.testing.assert_array_equal(second, x[:, :1])
    batches = [(x[:10],), (x[10:],)]
    first, second = model.predict(iter(batches))
    np.testing.assert_array_equal(second, x[:, :1])


def _net_plain_copy(model):
    plain = _net(gn, gn.Model, seed=0)
    plain.set_weights(model.get_weights())
    return plain


# -- refusals ------------------------------------------------------------------------------------
def test_refusals_name_what_was_expected():
    class Vector(gn.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.square(y_pred - y)

    class Scalar(gn.Model):
        def predict_step(self, data):
            return 1.0

    x, y, _ = _data()
    model = _net(gn, Vector, seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"Vector.compute_loss: expected one number.*shape \(20, 1\)"):
        model.fit(x, y, batch_size=20, verbose=0)
    with pytest.raises(TypeError, match="Scalar.predict_step: must return arrays with a batch axis"):
        _net(gn, Scalar, seed=0).predict(x)
    class NoTargets(gn.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.mean(ops.square(y_pred))

    model = _net(gn, NoTargets, seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    with pytest.raises(ValueError, match=r"NoTargets.compute_metrics: y: the compiled metrics \['mae'\].*got None"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="predict: steps counts the batches"):
        _net(gn, Scalar, seed=0).predict(x, steps=2)
    # a Sequential subclass's predict_step runs, as a Model subclass's (refused by name before)
    doubled = type("Seq", (gn.Sequential,), {"predict_step": lambda self, data: 2 * self(gn.utils.unpack_x_y_sample_weight(data)[0], training=False)})(
        [gn.Input((x.shape[1],)), L.Dense(1)], seed=0)
    np.testing.assert_allclose(doubled.predict(x, verbose=0), 2 * doubled(x, training=False), rtol=1e-6)
