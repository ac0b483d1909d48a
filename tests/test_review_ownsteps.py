"""Review of Keras 3's train_step/test_step on a subclass of gn.Model (glassnet.own_steps): bugs found
by porting Keras' examples and trying fit's options, each checked against Keras 3.15's behaviour."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


class Logs(gn.Model):
    """A step logging ``loss`` (``self.returned``, 1.0 unless set) and the steps run so far."""

    def __init__(self):
        super().__init__()
        self.steps, self.returned = 0, 1.0

    def train_step(self, data):
        self.steps += 1
        return {"loss": self.returned, "steps": self.steps}

    def test_step(self, data):
        return {"loss": 0.5}


def _x(n=10):
    return np.arange(2 * n, dtype=np.float32).reshape(n, 2)


def test_a_model_with_call_and_train_step_compiled_with_a_loss_fits_before_its_draw():
    # compile(loss=...) before the draw is held until the first data draws the model; fit refused it as
    # "call compile() first" (Keras runs the step; predict then runs call)
    class Both(gn.Model):
        def __init__(self):
            super().__init__(seed=0)
            self.dense, self.steps = L.Dense(1), 0

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            self.steps += 1
            return {"steps": self.steps}

    model = Both()
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(_x(), np.ones((10, 1)), epochs=2, batch_size=4, verbose=0).history
    assert history == {"steps": [3.0, 6.0]} and model.steps == 6
    assert model.predict(_x(2), verbose=0).shape == (2, 1)


def test_terminate_on_nan_stops_at_a_step_logging_a_nan_loss(capsys):
    # Keras' TerminateOnNaN reads the batch's logged "loss": Keras 3.15 stops at the first NaN
    # (here its second step, "Batch 1"); glassnet trained on through every epoch
    model = Logs()
    model.compile()
    model.returned = float("nan")
    terminator = gn.callbacks.TerminateOnNaN()
    history = model.fit(_x(), epochs=3, batch_size=5, verbose=0, callbacks=[terminator]).history
    assert model.steps == 1 and history == {}
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out
    assert terminator.error.epoch == 1 and terminator.error.batch == 1
    # without TerminateOnNaN the NaN is logged and training goes on, as in Keras
    model.steps = 0
    assert np.isnan(model.fit(_x(), epochs=2, batch_size=5, verbose=0).history["loss"]).all() and model.steps == 4


@pytest.mark.parametrize("options, message", [
    ({"steps_per_epoch": 2}, "steps_per_epoch: with arrays an epoch is one pass"),
    ({"validation_data": _x(), "validation_steps": 1}, "validation_steps: it counts the batches of validation_data"),
    ({"validation_batch_size": 3}, "validation_batch_size: it sets the batches in which validation arrays"),
])
def test_options_counting_batches_of_arrays_are_refused_as_fit_refuses_them(options, message):
    # they were ignored, silently (steps_per_epoch=2 ran all 5 batches an epoch); a model's ordinary fit refuses them
    model = Logs()
    model.compile()
    with pytest.raises(ValueError, match=message):
        model.fit(_x(), epochs=1, batch_size=2, verbose=0, **options)
    assert model.steps == 0
    with pytest.raises(ValueError, match="evaluate: steps counts the batches of a PyDataset"):
        model.evaluate(_x(), steps=1)


def test_super_train_step_and_test_step_run_keras_default_steps():
    # they were refused by name; Keras' default steps now run (against Keras: tests/test_default_steps.py)
    class Super(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            return super().train_step(data)

        def test_step(self, data):
            return super().test_step(data)

    model = Super()
    model.compile(loss="mse")
    x, y = _x(), np.ones((10, 1))
    assert set(model.fit(x, y, verbose=0).history) == {"loss"}
    assert np.isfinite(model.evaluate(x, y))
    with pytest.raises(TypeError, match="subclass Model and define call"):
        type("Nothing", (gn.Model,), {})()
    # test_step alone: fit runs Keras' default train_step, validation and evaluate the test_step
    only = type("OnlyTest", (gn.Model,), {"test_step": lambda self, data: {"v": 1.0}, "call": lambda self, x: x})()
    assert only._own_steps and only._own_tests


def test_summary_of_a_model_without_call_says_so():
    # it said "not built yet; give the first layer input_dim/input_shape", which a GAN cannot
    model = Logs()
    with pytest.raises(ValueError, match=r"summary: Logs has no call, so no layers of its own.*sub-models"):
        model.summary()


def test_dask_sweep_refuses_a_model_with_its_own_train_step_by_name():
    # it said the model "is not compiled; call model.compile(loss=..., ...)", of a model compiled
    pytest.importorskip("dask")
    from glassnet.dask import sweep

    def build(unused=0):
        model = Logs()
        model.compile()
        return model

    with pytest.raises(ValueError, match=r"returned Logs, whose own train_step trains it; sweep scores"):
        sweep(build, {"unused": [0]}, _x(), np.ones(10), fit_kwargs={"epochs": 1}, scheduler="synchronous")
