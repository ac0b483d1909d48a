"""Review of the train_step refusals, compile of a model with its own train_step, and
initializers.get's short Keras form: bugs found, each checked against Keras 3.15's behaviour."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import initializers
from glassnet import layers as L


def _data(n=8):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("step", ["predict_step", "compute_loss", "compute_metrics", "test_step"])
def test_a_subclass_given_inputs_and_outputs_defining_a_keras_step_runs_it(step):
    # Keras' guide writes CustomModel(inputs, outputs); its compute_loss (or predict_step, ...) was
    # ignored, silently, then refused by name: now fit, evaluate or predict run it (Keras' default
    # steps, glassnet.default_steps; compared with Keras in tests/test_default_steps.py)
    cls = type("Custom", (gn.Model,), {step: lambda self, *args, **kwargs: 0.0})
    inputs = gn.Input((3,))
    model = cls(inputs, L.Dense(1)(inputs))
    assert model._own_predicts if step == "predict_step" else model._own_steps and model._own_tests


class Stepping(gn.Model):
    """Keras' guide's CustomModel(inputs, outputs): a train_step running glassnet's compiled step on
    the batch (super().train_step(data) runs Keras' default one: tests/test_default_steps.py)."""

    def train_step(self, data):
        x, y = data
        return self.train_on_batch(x, y, return_dict=True)

    def test_step(self, data):
        x, y = data
        return self.test_on_batch(x, y, return_dict=True)


def _stepping(seed=0):
    inputs = gn.Input((3,))
    return Stepping(inputs, L.Dense(1)(inputs), seed=seed)


def test_compile_of_a_model_with_its_own_train_step_keeps_name_metric_pairs():
    # metrics were kept as (name, (name, metric)): train_on_batch in the step failed with
    # "'tuple' object is not callable", and a Metric object in them was never reset
    model = _stepping()
    mae = gn.metrics.MeanAbsoluteError(name="m")
    model.compile(loss="mse", optimizer="sgd", metrics=["mae", mae])
    # (the pairs glassnet's loops read; model.metrics is Keras' trackers: tests/test_guide_metrics_loop.py)
    assert [name for name, _ in model._compiled_metrics] == ["mae", "m"] and model._compiled_metrics[1][1] is mae
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    assert [m.name for m in model.metrics[1].metrics] == ["mae", "m"]
    x, y = _data()
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0, validation_data=(x, y)).history
    assert set(history) == {"loss", "mae", "m", "val_loss", "val_mae", "val_m"}
    assert np.isfinite(history["mae"]).all() and history["mae"] == history["m"]
    # a Metric object in them is reset as Keras' are (at the epoch's start, and here at each
    # train_on_batch the step runs, which updates compile's objects themselves as Keras' does):
    # after fit it holds the last batch's 4 rows, not the 2 counted by hand before
    mae.update_state(np.ones((2, 1)), np.zeros((2, 1)))
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert mae.count == 4


def test_train_on_batch_of_a_model_without_call_says_why_not_compile_first():
    # compiled by super().compile(), Keras' GAN heard "call compile(loss=..., optimizer=...) first"
    class GAN(gn.Model):
        def __init__(self):
            super().__init__()
            self.discriminator = gn.Sequential([L.Dense(1, input_dim=2)])
            self.discriminator.compile(loss="mse", optimizer="sgd")

        def train_step(self, data):
            return {"d_loss": self.discriminator.train_on_batch(data, np.ones((len(data), 1)))}

    gan = GAN()
    gan.compile()
    x = np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"GAN has no call, so no layers of its own to step.*call fit"):
        gan.trace(x, x)
    # train_on_batch runs train_step on (x, y, sample_weight), as Keras 3's (tests/test_train_step_batches.py);
    # test_on_batch would run test_step, which GAN has not
    with pytest.raises(NotImplementedError, match=r"test_on_batch: GAN defines train_step but neither test_step"):
        gan.test_on_batch(x, x)
    assert np.isfinite(gan.fit(x, epochs=1, verbose=0).history["d_loss"]).all()


@pytest.mark.parametrize("cls", ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                                 "LecunNormal"])
def test_keras_3_short_config_with_fan_axes_at_none_is_read(cls):
    # keras.initializers.GlorotUniform().get_config() in Keras 3.15 is {"seed": None, "input_axes": None,
    # "output_axes": None}: the short form dropped the seed only, and refused the class ("takes no
    # arguments"), where the long form serialize() writes is read
    made = initializers.get({"class_name": cls, "config": {"seed": None, "input_axes": None, "output_axes": None}})
    assert type(made) is initializers.INITIALIZER_CLASSES[cls]
    scaling = initializers.get({"class_name": "VarianceScaling", "config": {
        "scale": 2.0, "mode": "fan_out", "distribution": "uniform", "seed": None, "input_axes": None,
        "output_axes": None}})
    assert scaling == initializers.VarianceScaling(2.0, "fan_out", "uniform")
    with pytest.raises(ValueError, match=rf"'{cls}' with input_axes=\[0\] is not supported by glassnet"):
        initializers.get({"class_name": cls, "config": {"seed": None, "input_axes": [0], "output_axes": None}})


def test_a_subclass_given_inputs_and_outputs_with_train_step_alone_evaluates_by_its_compiled_loss():
    # its class has no call, so evaluate was refused ("defines train_step but neither test_step nor
    # call") where a subclass with call evaluates, as Keras' default test_step, by the compiled loss
    class TrainOnly(gn.Model):
        def train_step(self, data):
            x, y = data
            return self.train_on_batch(x, y, return_dict=True)

    inputs = gn.Input((3,))
    model = TrainOnly(inputs, L.Dense(1)(inputs), seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    inputs = gn.Input((3,))
    plain = gn.Model(inputs, L.Dense(1)(inputs))
    plain.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    plain.set_weights(model.get_weights())
    assert model.evaluate(x, y, return_dict=True) == plain.evaluate(x, y, return_dict=True)
