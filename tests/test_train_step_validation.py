"""fit's validation of a model with its own train_step but no test_step (glassnet.own_steps): one
with a graph of layers and a compiled loss is validated as evaluate scores it, by the compiled
loss and metrics (Keras 3's default test_step), with ordinary fit's own validation code; one
without a graph (Keras' GAN: no call) or without a loss is still refused by name."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


class SteppingValidation(gn.Model):
    """Keras' guide's CustomModel(inputs, outputs) ported: train_step runs glassnet's step on the
    batch (self.train_on_batch); no test_step, so Keras would run its default one."""

    def train_step(self, data):
        x, y, w = (*data, None)[:3]
        return self.train_on_batch(x, y, w, return_dict=True)


class Drawn(gn.Model):
    """The same, drawn by its call on the first data (Keras' model subclassing)."""

    def __init__(self):
        super().__init__(seed=0)
        self.hidden, self.out = L.Dense(4, activation="tanh"), L.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        return self.train_on_batch(x, y, return_dict=True)


def _layers(lib, inputs):
    return lib.layers.Dense(1)(lib.layers.Dense(4, activation="tanh")(inputs))


def _stepping(cls=SteppingValidation, lr=0.05, compiled=True):
    inputs = gn.Input((3,))
    model = cls(inputs, _layers(gn, inputs), seed=0)
    if compiled:
        model.compile(loss="mse", optimizer=gn.optimizers.SGD(lr), metrics=["mae"])
    return model


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (np.sin(x).sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)


def _validation():
    vx, vy = _data(11, seed=1)
    return vx, vy, np.random.default_rng(2).uniform(0.5, 2.0, size=11).astype(np.float32)


class _Tests(gn.callbacks.Callback):
    """Records the test hooks fit calls, with their logs."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_test_begin(self, logs=None):
        self.calls.append(("begin", dict(logs or {})))

    def on_test_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_test_end(self, logs=None):
        self.calls.append(("end", dict(logs or {})))


def test_validation_equals_keras_default_test_step(keras):
    """Keras 3.15: the same functional subclass, its train_step the guide's plain step (GradientTape,
    SGD), no test_step: its default one gives val_loss and val_mae. Same weights, same data."""
    import tensorflow as tf

    class KStepping(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            for metric in self.metrics:         # the guide's: its default test_step needs them built
                metric.update_state(loss) if metric.name == "loss" else metric.update_state(y, y_pred)
            return {metric.name: metric.result() for metric in self.metrics}

    model = _stepping()
    inputs = keras.Input((3,))
    theirs = KStepping(inputs, _layers(keras, inputs))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05), metrics=["mae"])
    theirs.set_weights(model.get_weights())
    x, y = _data()
    validation = _validation()
    kwargs = dict(epochs=4, batch_size=6, shuffle=False, verbose=0, validation_data=validation,
                  validation_batch_size=4)
    keras_history = theirs.fit(x, y, **kwargs).history
    history = model.fit(x, y, **kwargs).history
    assert sorted(history) == ["loss", "mae", "val_loss", "val_mae"]
    for key in ("val_loss", "val_mae"):
        assert len(history[key]) == 4
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-6)
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)
    # the last epoch's validation is evaluate's numbers (Keras' too)
    assert model.evaluate(*validation[:2], sample_weight=validation[2], batch_size=4,
                          return_dict=True) == {"loss": history["val_loss"][-1], "mae": history["val_mae"][-1]}
    keras_values = theirs.evaluate(*validation[:2], sample_weight=validation[2], batch_size=4, verbose=0,
                                   return_dict=True)
    np.testing.assert_allclose([keras_values["loss"], keras_values["mae"]],
                               [history["val_loss"][-1], history["val_mae"][-1]], rtol=1e-6)


def _plain():
    inputs = gn.Input((3,))
    plain = gn.Model(inputs, _layers(gn, inputs), seed=0)
    plain.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05), metrics=["mae"])
    return plain


@pytest.mark.parametrize("options", [
    dict(validation_data=_validation(), validation_batch_size=4),
    dict(validation_data=_validation()[:2]),
    dict(validation_split=0.25),
])
def test_validation_and_its_test_hooks_equal_ordinary_fits(options):
    # train_on_batch per batch is ordinary fit's step: the same weights, the same validation
    # numbers, and the test hooks called with the same logs
    model, plain = _stepping(), _plain()
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), plain.get_weights()))
    x, y = _data()
    mine, ordinary = _Tests(), _Tests()
    kwargs = dict(epochs=3, batch_size=5, shuffle=False, verbose=0, **options)
    history = model.fit(x, y, callbacks=[mine], **kwargs).history
    expected = plain.fit(x, y, callbacks=[ordinary], **kwargs).history
    for key in ("val_loss", "val_mae"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-6)
    assert [call[:2] for call in mine.calls] == [call[:2] for call in ordinary.calls]
    assert mine.calls[0][0] == "begin" and mine.calls[-1][0] == "end"
    assert mine.calls[-1][1] == {"loss": history["val_loss"][-1], "mae": history["val_mae"][-1]}
    for a, b in zip(mine.calls, ordinary.calls):
        if a[0] in ("batch_end", "end"):
            assert a[-1].keys() == b[-1].keys()
            np.testing.assert_allclose(list(a[-1].values()), list(b[-1].values()), rtol=1e-6)


def test_validation_split_holds_out_the_last_samples_as_evaluate_scores_them():
    model = _stepping()
    x, y = _data()
    history = model.fit(x, y, epochs=2, batch_size=5, validation_split=0.25, verbose=0).history
    # the last quarter, before shuffling (Keras' rule), evaluated after the last epoch
    assert model.evaluate(x[15:], y[15:], batch_size=5, return_dict=True) == {
        "loss": history["val_loss"][-1], "mae": history["val_mae"][-1]}
    with pytest.raises(ValueError, match="validation_split: SteppingValidation is validated by its compiled loss .* "
                                         "needs targets; give fit y"):
        model.fit(x, epochs=1, validation_split=0.25, verbose=0)


def test_validation_freq_and_early_stopping_on_val_loss_as_ordinary_fit():
    # epochs 1 and 3 are not validated (no val_ values): EarlyStopping skips them instead of refusing
    # a missing monitor; with min_delta beyond any change, the second validated epoch (4) stops it
    model, plain = _stepping(), _plain()
    x, y = _data()
    stoppers = [gn.callbacks.EarlyStopping("val_loss", patience=0, min_delta=1e6) for _ in range(2)]
    kwargs = dict(epochs=10, batch_size=5, shuffle=False, verbose=0, validation_data=_validation()[:2],
                  validation_freq=2)
    history = model.fit(x, y, callbacks=[stoppers[0]], **kwargs)
    expected = plain.fit(x, y, callbacks=[stoppers[1]], **kwargs)
    assert len(history.history["loss"]) == len(expected.history["loss"]) == 4
    assert stoppers[0].stopped_epoch == stoppers[1].stopped_epoch == 3
    assert len(history.history["val_loss"]) == 2
    np.testing.assert_allclose(history.history["val_loss"], expected.history["val_loss"], rtol=1e-6)


class _Batches(gn.utils.PyDataset):
    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, index):
        part = slice(index * self.size, (index + 1) * self.size)
        return self.x[part], self.y[part]


def test_a_pydataset_and_a_generator_validate_as_evaluate_scores_them():
    model = _stepping()
    x, y = _data()
    vx, vy = _validation()[:2]
    history = model.fit(x, y, epochs=2, batch_size=5, verbose=0, validation_data=_Batches(vx, vy, 4)).history
    assert model.evaluate(_Batches(vx, vy, 4), return_dict=True) == {
        "loss": history["val_loss"][-1], "mae": history["val_mae"][-1]}

    def batches():
        while True:
            yield vx[:8], vy[:8]
            yield vx[8:], vy[8:]

    history = model.fit(_Batches(x, y, 5), epochs=2, verbose=0, validation_data=batches(),
                        validation_steps=2).history
    assert model.evaluate(vx, vy, return_dict=True) == pytest.approx(
        {"loss": history["val_loss"][-1], "mae": history["val_mae"][-1]}, rel=1e-6)


def test_a_subclass_drawn_by_its_call_validates_as_it_evaluates():
    model = Drawn()
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])      # held until the first data draws it
    x, y = _data()
    vx, vy = _validation()[:2]
    history = model.fit(x, y, epochs=2, batch_size=5, verbose=0, validation_data=(vx, vy)).history
    assert model.evaluate(vx, vy, batch_size=5, return_dict=True) == {
        "loss": history["val_loss"][-1], "mae": history["val_mae"][-1]}


def test_a_model_without_call_or_without_a_compiled_loss_is_still_refused():
    class GAN(gn.Model):        # Keras' GAN: no call, its step steps a sub-model
        def __init__(self):
            super().__init__()
            self.discriminator = gn.Sequential([L.Dense(1, input_dim=3)])
            self.discriminator.compile(loss="mse", optimizer="sgd")

        def train_step(self, data):
            x, y = data
            return {"d_loss": self.discriminator.train_on_batch(x, y)}

    x, y = _data()
    for compile_args in ({}, {"loss": "mse"}):      # a loss compiled without a graph to score: refused too
        gan = GAN()
        gan.compile(**compile_args)
        with pytest.raises(NotImplementedError, match=r"^validation_data: GAN defines train_step but no test_step, "
                                                      r"which validation runs .*leave validation out$"):
            gan.fit(x, y, validation_data=(x, y), verbose=0)
    assert np.isfinite(gan.fit(x, y, epochs=1, verbose=0).history["d_loss"]).all()
    # a graph, but compiled without a loss (super().compile()): nothing to validate by; the message says so
    model = _stepping(compiled=False)
    model.compile()
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match=r"SteppingValidation defines train_step but no test_step.*compile it "
                                                  r"with a loss: validation then evaluates by it"):
        model.fit(x, y, validation_split=0.2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))       # before any step


def test_a_test_steps_validation_freq_is_skipped_by_early_stopping_too():
    # the same params tell EarlyStopping that an epoch without "val_" values was not validated,
    # for a model validated by its own test_step (it refused the missing monitor at epoch 1)
    class Own(gn.Model):
        def train_step(self, data):
            return {"loss": 1.0}

        def test_step(self, data):
            return {"score": 2.0}

    model = Own()
    model.compile()
    stopper = gn.callbacks.EarlyStopping("val_score", patience=0, min_delta=1e6)
    x = np.ones((4, 2), np.float32)
    history = model.fit(x, epochs=6, validation_data=x, validation_freq=2, verbose=0, callbacks=[stopper]).history
    assert history["val_score"] == [2.0, 2.0] and len(history["loss"]) == 4 and stopper.stopped_epoch == 3
