"""Review "s35new4": DepthToSpace/SpaceToDepth (PyTorch's super-resolution network ported), fit's
validation of train_step models (glassnet.own_steps) and the callbacks' view of it, the
glassnet.preprocessing package, evaluate's order and count_params of a model without call."""
import warnings

import numpy as np
import pytest

import glassnet as gn

L = gn.layers


# ---- a test_step model validated by a generator that runs dry: skipped as ordinary fit skips it ---

class _OwnTestS35(gn.Model):
    def train_step(self, data):
        return {"loss": 1.0}

    def test_step(self, data):
        return {"score": float(np.sum(data))}


def _three_batches():
    for i in range(3):
        yield np.full((2, 2), i + 1, np.float32)


def test_early_stopping_skips_an_epoch_whose_validation_generator_ran_dry_for_a_test_step_model():
    # validation_steps=2 of a generator of 3 batches: epoch 1 reads 2, epoch 2 one, epochs 3 and 4
    # none. Ordinary fit's params say "validation_may_run_dry" and the monitoring callbacks skip such
    # an epoch quietly; the same params, made for a test_step model, read only a Feed, never the raw
    # generator this path keeps, so EarlyStopping refused 'val_score' as a monitor never logged
    stopper = gn.callbacks.EarlyStopping("val_score", patience=10)
    model = _OwnTestS35()
    model.compile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(np.ones((4, 2), np.float32), epochs=4, validation_data=_three_batches(),
                            validation_steps=2, verbose=0, callbacks=[stopper]).history
    assert history["loss"] == [1.0] * 4 and history["val_score"] == [8.0, 12.0]
    assert stopper.params["validation_may_run_dry"] is True


# ---- a graph model listing its own metrics (@property) and no test_step: refused by name ----------

class _Tracked(gn.Model):
    """Keras' guide's "going lower-level" model: its own trackers as ``metrics``, a compiled loss,
    no test_step (Keras' default test_step then reports the trackers it never updates: 0.0)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = gn.metrics.Mean(name="loss")

    def train_step(self, data):
        self.loss_tracker.update_state(1.0)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def test_validation_and_evaluate_of_a_model_with_a_metrics_property_and_no_test_step_are_refused_by_name():
    # validated by evaluate's code, the Metric objects of the property were read as compile's
    # (name, metric) pairs: "TypeError: cannot unpack non-iterable Mean object"
    inputs = gn.Input((3,))
    model = _Tracked(inputs, L.Dense(1)(inputs), seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((6, 3), np.float32), np.ones((6, 1), np.float32)
    before = model.get_weights()
    message = (r"_Tracked lists its own metrics \(@property def metrics\) and defines no test_step.*"
               r"define test_step\(self, data\)")
    with pytest.raises(NotImplementedError, match=r"^validation_data: " + message):
        model.fit(x, y, validation_data=(x, y), verbose=0)
    with pytest.raises(NotImplementedError, match=r"^validation_data: " + message):
        model.fit(x, y, validation_split=0.5, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))      # before any step
    with pytest.raises(NotImplementedError, match=r"^evaluate: " + message):
        model.evaluate(x, y, verbose=0)
    assert model.fit(x, y, epochs=2, verbose=0).history["loss"] == [1.0, 1.0]      # fit alone still trains
