"""Review of glassnet.saving (registered objects of your own in model files): bugs found and fixed."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import saving
from glassnet.initializers import Initializer
from glassnet.losses import Loss
from glassnet.regularizers import Regularizer

register = saving.register_serializable


@register(package="TestReview")
class NoConfigInit(Initializer):
    """A registered initializer whose get_config leaves its argument out: it cannot be saved,
    but it must still initialise."""

    def __init__(self, value=0.5):
        self.value = value

    def __call__(self, shape, rng, dtype):
        return np.full(shape, self.value, dtype)


class UnregisteredNoConfigInit(NoConfigInit):
    pass


def test_einsum_dense_builds_with_a_registered_initializer_it_could_not_save():
    # registering the class must not make a model that builds without it fail to build (the
    # fan check asked for the initializer's file entry, and its TypeError escaped)
    outputs = {}
    for cls in (UnregisteredNoConfigInit, NoConfigInit):
        model = gn.Sequential([gn.layers.EinsumDense("ab,bc->ac", output_shape=4, kernel_initializer=cls(),
                                                     input_shape=(3,))], seed=0)
        outputs[cls] = model.predict(np.ones((2, 3), "float32"))
    assert np.array_equal(outputs[NoConfigInit], outputs[UnregisteredNoConfigInit])


@register(package="TestReview")
class ScaledMSE(Loss):
    name = "scaled_mse"

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return float(self.scale * ((y_pred - y_true) ** 2).mean())

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return self.scale * 2 * (y_pred - y_true) / y_pred.size

    def get_config(self):
        return {"scale": self.scale}


@register(package="TestReview")
class ScaledMAE(ScaledMSE):
    """Another loss with the same get_config as ScaledMSE."""
    name = "scaled_mae"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return float(self.scale * np.abs(y_pred - y_true).mean())

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return self.scale * np.sign(y_pred - y_true) / y_pred.size


class _Interrupt(gn.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt


def _model(loss, several=False):
    if several:
        inputs = gn.Input((3,))
        hidden = gn.layers.Dense(4)(inputs)
        model = gn.Model(inputs, [gn.layers.Dense(1, name="a")(hidden), gn.layers.Dense(1, name="b")(hidden)],
                         seed=0)
        model.compile(loss=[loss, "mse"], optimizer="sgd")
    else:
        model = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0)
        model.compile(loss=loss, optimizer="sgd")
    return model


@pytest.mark.parametrize("several", [False, True])
def test_backup_of_another_loss_of_yours_is_refused(tmp_path, several):
    # as a backup made with "mae" is refused for a model training on "mse": two losses of your own
    # with equal get_config() are still other losses
    X = np.ones((8, 3), "float32")
    y = np.ones((8, 1), "float32")
    y = [y, y] if several else y
    backup = gn.callbacks.BackupAndRestore(tmp_path / "bk")
    with pytest.raises(KeyboardInterrupt):
        _model(ScaledMSE(2.0), several).fit(X, y, epochs=3, verbose=0, callbacks=[backup, _Interrupt()])
    with pytest.raises(ValueError, match="BackupAndRestore.*loss"):
        _model(ScaledMAE(2.0), several).fit(X, y, epochs=3, verbose=0,
                                            callbacks=[gn.callbacks.BackupAndRestore(tmp_path / "bk")])
    # the same loss resumes
    history = _model(ScaledMSE(2.0), several).fit(X, y, epochs=3, verbose=0,
                                                  callbacks=[gn.callbacks.BackupAndRestore(tmp_path / "bk")])
    assert history.epoch == [1, 2]


def test_a_bad_custom_objects_argument_is_named(tmp_path):
    model = _model("mse")
    model.save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"^load_model: custom_objects: expected a dict"):
        gn.load_model(tmp_path / "m.npz", custom_objects=[ScaledMSE])
    with pytest.raises(TypeError, match=r"^load_model: custom_objects: 'x' must map to a class or a function"):
        gn.load_model(tmp_path / "m.npz", custom_objects={"x": 1})
    with pytest.raises(TypeError, match=r"^Sequential.from_config: custom_objects: expected a dict"):
        gn.Sequential.from_config(model.get_config(), custom_objects=[ScaledMSE])
    with pytest.raises(TypeError, match=r"^model_from_json: custom_objects: expected a dict"):
        gn.model_from_json(model.to_json(), custom_objects=[ScaledMSE])


@register(package="TestReview")
class PositivePenalty(Regularizer):
    def __init__(self, factor=0.1):
        if factor <= 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        self.factor = factor

    def __call__(self, w):
        return self.factor * float((w ** 2).sum())

    def add_gradient(self, w, grad):
        grad += 2 * self.factor * w

    def get_config(self):
        return {"factor": self.factor}


def test_a_constructor_refusing_the_files_config_is_named(tmp_path):
    # the error says which registered object, and which setting of which layer, the file got wrong
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3, kernel_regularizer=PositivePenalty(0.1))], seed=0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays["config"].tobytes().decode("utf-8"))
    meta["model"]["layers"][0]["config"]["kernel_regularizer"]["config"]["factor"] = -1
    arrays["config"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(tmp_path / "crafted.npz", **arrays)
    with pytest.raises(gn.ModelFileError, match=r"kernel_regularizer: 'TestReview>PositivePenalty'.*"
                                                r"factor must be > 0"):
        gn.load_model(tmp_path / "crafted.npz")
    with pytest.raises(gn.ModelFileError, match=r"'TestReview>PositivePenalty'.*factor must be > 0"):
        gn.model_from_json(json.dumps({"class_name": "Sequential", "config": meta["model"]}))


@register(package="TestReview")
class CallableMetric:
    """Registered, and callable as f(y_true, y_pred), but not a Metric: a file cannot name it."""
    __name__ = "callable_metric"

    def __init__(self, k=1):
        self.k = k

    def __call__(self, y_true, y_pred):
        return self.k * float(np.mean(y_pred))

    def get_config(self):
        return {"k": self.k}


def test_save_refusing_a_registered_metric_says_why_not_that_it_is_unregistered(tmp_path):
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics=[CallableMetric(2)])
    with pytest.raises(ValueError) as info:
        model.save(tmp_path / "m.npz")
    message = str(info.value)
    assert "is not registered" not in message
    assert "TestReview>CallableMetric" in message and "not a Metric or Loss subclass" in message


def test_an_activation_of_your_own_under_a_built_in_name_is_not_saved_as_the_built_in(tmp_path):
    # the file records the activation's name alone: Activation("celu", celu with alpha=2) loaded as
    # the built-in celu (alpha=1), silently another network
    import functools
    from glassnet import activations as A
    celu_2 = A.Activation("celu", functools.partial(A.celu, alpha=2.0), functools.partial(A.backprop_celu, alpha=2.0))
    model = gn.Sequential([gn.layers.Dense(3, activation=celu_2, input_shape=(2,))], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match="its activation is an Activation of your own named 'celu', a built-in"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    plain = gn.Sequential([gn.layers.Dense(3, activation="celu", input_shape=(2,))], seed=0)
    plain.save(tmp_path / "plain.npz")          # the built-in itself still saves
