"""Objects of your own in model files (glassnet.saving): a registered loss, metric (class and
function), initializer (class and function), regularizer and constraint save, load, predict and
train on exactly as the saved model; an unregistered one is refused on saving and on loading,
naming it; a crafted file reaches nothing but the constructors of registered classes."""
import json
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import saving
from glassnet.constraints import Constraint
from glassnet.initializers import Initializer
from glassnet.losses import Loss
from glassnet.metrics import Metric
from glassnet.regularizers import Regularizer

register = saving.register_serializable
CALLS = []          # what Recorder's constructor was given, call by call


@register(package="TestCustom")
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


@register(package="TestCustom")
class PlainMSE(ScaledMSE):
    """No arguments, the base Loss's get_config (its name): saved with an empty config."""
    name = "plain_mse"

    def __init__(self):
        super().__init__(1.0)

    get_config = Loss.get_config


@register(package="TestCustom")
class MaxError(Metric):
    default_name = "max_error"

    def __init__(self, scale=1.0, name=None):
        self.scale = scale
        super().__init__(name)

    def reset_state(self):
        self.worst = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.worst = max(self.worst, self.scale * float(np.abs(y_pred - y_true).max()))

    def result(self):
        return self.worst

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@register(package="TestCustom")
def mean_gap(y_true, y_pred):
    return float(np.mean(y_pred - y_true))


@register(package="TestCustom")
class ScaledNormal(Initializer):
    def __init__(self, stddev=0.1):
        self.stddev = stddev

    def __call__(self, shape, rng, dtype):
        return (rng.standard_normal(shape) * self.stddev).astype(dtype)

    def get_config(self):
        return {"stddev": self.stddev}


@register(package="TestCustom")
def small_constant(shape, rng, dtype):
    return np.full(shape, 0.01, dtype=dtype)


@register(package="TestCustom")
class Halved(Regularizer):
    def __init__(self, factor=0.5):
        self.factor = factor

    def __call__(self, w):
        return self.factor * float((w ** 2).sum())

    def add_gradient(self, w, grad):
        grad += 2 * self.factor * w

    def get_config(self):
        return {"factor": self.factor}


@register(package="TestCustom")
class ClipTo(Constraint):
    def __init__(self, limit=1.0):
        self.limit = limit

    def __call__(self, w):
        return np.clip(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


@register(package="TestCustom")
class Recorder(Regularizer):
    """Records what its constructor was given (the only code a file may reach)."""

    def __init__(self, **config):
        CALLS.append(config)
        self.config = config

    def __call__(self, w):
        return 0.0

    def add_gradient(self, w, grad):
        pass

    def get_config(self):
        return dict(self.config)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype("float32")
    return X, X @ np.array([[1.0], [-2.0], [0.5]], "float32")


def _model(loss=None, metrics=None, **dense):
    settings = dict(kernel_initializer=ScaledNormal(0.3), bias_initializer=small_constant,
                    kernel_regularizer=Halved(0.01), kernel_constraint=ClipTo(0.4))
    model = gn.Sequential([gn.layers.Dense(8, activation="tanh", input_dim=3, **{**settings, **dense}),
                           gn.layers.Dense(1)], seed=1)
    model.compile(loss=loss or ScaledMSE(2.0), optimizer="adam",
                  metrics=[MaxError(3.0, name="maxerr"), mean_gap] if metrics is None else metrics)
    return model


def _rewrite_config(path, change):
    """A copy of the model file at ``path`` whose JSON config ``change(meta)`` edited (a crafted file)."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays["config"].tobytes().decode("utf-8"))
    change(meta)
    arrays["config"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    crafted = str(path).replace(".npz", "_crafted.npz")
    np.savez(crafted, **arrays)
    return crafted


def test_round_trip_of_every_kind_predicts_and_trains_on_identically(tmp_path):
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # each object came back as its class with its settings (not a default, not a built-in)
    dense = loaded.layers[0]
    assert type(loaded.loss) is ScaledMSE and loaded.loss.scale == 2.0
    assert [name for name, _ in loaded.metrics] == ["maxerr", "mean_gap"]
    assert type(loaded.metrics[0][1]) is MaxError and loaded.metrics[0][1].scale == 3.0
    assert loaded.metrics[1][1] is mean_gap
    assert dense.kernel_initializer == ScaledNormal(0.3) and dense.bias_initializer is small_constant
    assert dense.kernel_regularizer == Halved(0.01) and dense.kernel_constraint == ClipTo(0.4)
    assert loaded.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)
    # training continues bit for bit: the loss, the penalty, the constraint and the metrics
    h_saved = model.fit(X, y, epochs=2, batch_size=16, verbose=0)
    h_loaded = loaded.fit(X, y, epochs=2, batch_size=16, verbose=0)
    assert h_saved.history == h_loaded.history
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))
    assert np.abs(dense.params["kernel"]).max() <= 0.4 + 1e-6       # the constraint acts after loading


def test_file_entries_are_the_registered_names_and_configs(tmp_path):
    model = _model()
    config = model.get_config()
    layer = config["layers"][0]["config"]
    assert config["compile"]["loss"] == {"registered_name": "TestCustom>ScaledMSE", "config": {"scale": 2.0}}
    assert config["compile"]["metrics"] == [
        {"registered_name": "TestCustom>MaxError", "config": {"name": "maxerr", "scale": 3.0}},
        {"registered_name": "TestCustom>mean_gap"}]
    assert layer["kernel_initializer"] == {"registered_name": "TestCustom>ScaledNormal", "config": {"stddev": 0.3}}
    assert layer["bias_initializer"] == {"registered_name": "TestCustom>small_constant"}
    assert layer["kernel_regularizer"] == {"registered_name": "TestCustom>Halved", "config": {"factor": 0.01}}
    assert layer["kernel_constraint"] == {"registered_name": "TestCustom>ClipTo", "config": {"limit": 0.4}}
    # from_config and model_from_json read them back
    again = gn.Sequential.from_config(config)
    assert type(again.loss) is ScaledMSE and again.layers[0].kernel_constraint == ClipTo(0.4)
    rebuilt = gn.model_from_json(model.to_json())
    assert rebuilt.layers[0].kernel_regularizer == Halved(0.01)


def test_loss_with_the_base_get_config_and_a_loss_of_yours_as_a_metric(tmp_path):
    X, y = _data()
    model = _model(loss=PlainMSE(), metrics=[ScaledMSE(0.5)])
    assert model.get_config()["compile"]["loss"] == {"registered_name": "TestCustom>PlainMSE", "config": {}}
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert type(loaded.loss) is PlainMSE
    name, metric = loaded.metrics[0]
    assert name == "scaled_mse" and type(metric.loss) is ScaledMSE and metric.loss.scale == 0.5
    assert loaded.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)


def test_functional_model_of_two_outputs_with_a_loss_of_yours(tmp_path):
    X, y = _data()
    inputs = gn.Input((3,))
    hidden = gn.layers.Dense(4, activation="tanh", kernel_regularizer=Halved(0.01))(inputs)
    model = gn.Model(inputs, [gn.layers.Dense(1, name="a")(hidden), gn.layers.Dense(1, name="b")(hidden)], seed=0)
    model.compile(loss=[ScaledMSE(2.0), "mse"], optimizer="sgd", metrics=[[mean_gap], []])
    model.fit(X, [y, -y], epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "f.npz")
    loaded = gn.load_model(tmp_path / "f.npz")
    assert [type(head.loss) for head in loaded._heads] == [ScaledMSE, type(gn.losses.get("mse"))]
    assert loaded.evaluate(X, [y, -y], verbose=0) == model.evaluate(X, [y, -y], verbose=0)


class Unregistered(Regularizer):
    def __init__(self, factor=0.1):
        self.factor = factor

    def __call__(self, w):
        return 0.0

    def add_gradient(self, w, grad):
        pass

    def get_config(self):
        return {"factor": self.factor}


class UnregisteredLoss(ScaledMSE):
    name = "unregistered"


class UnregisteredInit(ScaledNormal):
    pass


class UnregisteredConstraint(ClipTo):
    pass


class UnregisteredMetric(MaxError):
    pass


def unregistered_metric(y_true, y_pred):
    return 0.0


@pytest.mark.parametrize("kind, make", [
    ("loss", lambda: _model(loss=UnregisteredLoss())),
    ("metric", lambda: _model(metrics=[unregistered_metric])),
    ("metric", lambda: _model(metrics=[UnregisteredMetric()])),
    ("initializer", lambda: _model(kernel_initializer=UnregisteredInit())),
    ("initializer", lambda: _model(bias_initializer=lambda shape, rng, dtype: np.zeros(shape, dtype))),
    ("regularizer", lambda: _model(kernel_regularizer=Unregistered())),
    ("constraint", lambda: _model(kernel_constraint=UnregisteredConstraint())),
])
def test_save_refuses_what_is_not_registered_and_says_how(tmp_path, kind, make):
    model = make()
    with pytest.raises(ValueError, match=f"(?s){kind}.*register_serializable"):
        model.save(tmp_path / "m.npz")
    assert not os.path.exists(tmp_path / "m.npz")


def test_an_unregistered_name_is_refused_on_loading_and_custom_objects_supply_it(tmp_path, monkeypatch):
    X, y = _data()
    model = _model()
    model.save(tmp_path / "m.npz")
    monkeypatch.delitem(saving.get_custom_objects(), "TestCustom>Halved")
    with pytest.raises(gn.ModelFileError, match=r"'TestCustom>Halved' is not registered.*"
                                                r"register_serializable\(package='TestCustom', name='Halved'\)"
                                                r".*custom_objects="):
        gn.load_model(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz", custom_objects={"TestCustom>Halved": Halved})
    assert loaded.layers[0].kernel_regularizer == Halved(0.01)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # the scope closes with load_model: the name is unknown again
    with pytest.raises(gn.ModelFileError, match="TestCustom>Halved"):
        gn.load_model(tmp_path / "m.npz")
    with saving.custom_object_scope({"TestCustom>Halved": Halved}):
        assert gn.load_model(tmp_path / "m.npz").layers[0].kernel_regularizer == Halved(0.01)
        description, config = model.to_json(), model.get_config()
    # the JSON and config loaders take them too
    with pytest.raises(gn.ModelFileError, match="'TestCustom>Halved' is not registered"):
        gn.model_from_json(description)
    assert gn.model_from_json(description, custom_objects={"TestCustom>Halved": Halved}).layers[0].kernel_regularizer \
        == Halved(0.01)
    with pytest.raises(ValueError, match="'TestCustom>Halved' is not registered"):
        gn.Sequential.from_config(config)
    assert gn.Sequential.from_config(config, custom_objects={"TestCustom>Halved": Halved}).layers[0] \
        .kernel_regularizer == Halved(0.01)
    # a loss and a metric function the same way (compile=False skips them)
    monkeypatch.delitem(saving.get_custom_objects(), "TestCustom>ScaledMSE")
    monkeypatch.delitem(saving.get_custom_objects(), "TestCustom>mean_gap")
    with pytest.raises(gn.ModelFileError, match="TestCustom>ScaledMSE' is not registered"):
        gn.load_model(tmp_path / "m.npz", custom_objects={"TestCustom>Halved": Halved})
    assert gn.load_model(tmp_path / "m.npz", compile=False, custom_objects={"TestCustom>Halved": Halved}).loss is None
    loaded = gn.load_model(tmp_path / "m.npz", custom_objects={"TestCustom>Halved": Halved,
                                                               "TestCustom>ScaledMSE": ScaledMSE,
                                                               "TestCustom>mean_gap": mean_gap})
    assert loaded.metrics[1][1] is mean_gap and loaded.loss.scale == 2.0


def test_a_class_of_a_scope_saves_under_its_key_and_loads_with_custom_objects(tmp_path):
    X, y = _data()
    model = _model(kernel_regularizer=Unregistered(0.2))
    with saving.custom_object_scope({"MyPenalty": Unregistered}):
        model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        meta = json.loads(npz["config"].tobytes().decode("utf-8"))
    assert meta["model"]["layers"][0]["config"]["kernel_regularizer"] == {"registered_name": "MyPenalty",
                                                                         "config": {"factor": 0.2}}
    with pytest.raises(ValueError, match="register_serializable"):      # outside the scope: refused again
        model.save(tmp_path / "other.npz")
    with pytest.raises(gn.ModelFileError, match="'MyPenalty' is not registered.*get_custom_objects"):
        gn.load_model(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz", custom_objects={"MyPenalty": Unregistered})
    assert loaded.layers[0].kernel_regularizer == Unregistered(0.2)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(TypeError, match="custom_objects"):
        gn.load_model(tmp_path / "m.npz", custom_objects=[Unregistered])
    with pytest.raises(TypeError, match="custom_objects= by keyword"):
        gn.load_model(tmp_path / "m.npz", {"MyPenalty": Unregistered})


MALICIOUS = {"factor": "__import__('os').system('touch /tmp/glassnet_pwned')",
             "__class__": "builtins.eval", "__reduce__": [1, 2],
             "nested": {"registered_name": "TestCustom>Recorder", "config": {"x": 1}},
             "layer": {"class_name": "Lambda", "config": {"function": "os.system"}}}


def test_a_crafted_file_reaches_only_the_registered_constructor(tmp_path):
    model = _model()
    model.save(tmp_path / "m.npz")

    def craft(meta):
        meta["model"]["layers"][0]["config"]["kernel_regularizer"] = {"registered_name": "TestCustom>Recorder",
                                                                      "config": MALICIOUS}
    crafted = _rewrite_config(tmp_path / "m.npz", craft)
    CALLS.clear()
    loaded = gn.load_model(crafted)
    # the constructor got the JSON values as they are: strings stay strings, and a nested entry
    # is a plain dict, never built
    assert CALLS == [MALICIOUS]
    assert type(loaded.layers[0].kernel_regularizer) is Recorder
    assert not os.path.exists("/tmp/glassnet_pwned")


@pytest.mark.parametrize("entry, message", [
    ({"registered_name": "os.system", "config": {}}, "'os.system' is not registered"),
    ({"registered_name": "builtins.eval"}, "'builtins.eval' is not registered"),
    ({"registered_name": "TestCustom>MaxError", "config": {}}, "not a Regularizer subclass"),     # another kind
    ({"registered_name": "TestCustom>mean_gap", "config": {}}, "not a Regularizer subclass"),     # a function
    ({"registered_name": "TestCustom>Recorder"}, "as a function"),                                # no config
    ({"registered_name": "TestCustom>Halved", "config": {"factor": 1, "evil": 2}}, "unexpected keyword"),
    ({"registered_name": "TestCustom>Halved", "config": "factor"}, "must be a dict"),
    ({"registered_name": "TestCustom>Halved", "config": {}, "module": "os"}, "expected"),
    ({"registered_name": ["TestCustom>Halved"]}, "expected"),
])
def test_crafted_entries_are_refused_without_building_anything(tmp_path, entry, message):
    model = _model()
    model.save(tmp_path / "m.npz")

    def craft(meta):
        meta["model"]["layers"][0]["config"]["kernel_regularizer"] = entry
    crafted = _rewrite_config(tmp_path / "m.npz", craft)
    CALLS.clear()
    with pytest.raises(gn.ModelFileError, match=message):
        gn.load_model(crafted)
    assert CALLS == []


def test_a_crafted_loss_entry_of_another_kind_is_refused(tmp_path):
    model = _model()
    model.save(tmp_path / "m.npz")

    def craft(meta):
        meta["model"]["compile"]["loss"] = {"registered_name": "TestCustom>Recorder", "config": {"a": 1}}
    CALLS.clear()
    with pytest.raises(gn.ModelFileError, match="not a Loss subclass"):
        gn.load_model(_rewrite_config(tmp_path / "m.npz", craft))
    assert CALLS == []


@register(package="TestCustom")
class HoldsAnArray(Halved):
    def get_config(self):
        return {"factor": self.factor, "mask": np.ones(2)}


@register(package="TestCustom")
class HoldsNaN(Halved):
    def get_config(self):
        return {"factor": float("nan")}


@register(package="TestCustom")
class ForgetsAnArgument(Initializer):
    def __init__(self, stddev=0.1):
        self.stddev = stddev

    def __call__(self, shape, rng, dtype):
        return np.zeros(shape, dtype)


def test_save_refuses_a_config_that_is_not_json_or_leaves_an_argument_out(tmp_path):
    with pytest.raises(TypeError, match=r"'TestCustom>HoldsAnArray'.*config\['mask'\].*ndarray"):
        _model(kernel_regularizer=HoldsAnArray(0.1)).save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"'TestCustom>HoldsNaN'.*nan"):
        _model(kernel_regularizer=HoldsNaN(0.1)).save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"'TestCustom>ForgetsAnArgument'.*\['stddev'\].*get_config"):
        _model(kernel_initializer=ForgetsAnArgument(0.2)).save(tmp_path / "m.npz")
    assert not os.path.exists(tmp_path / "m.npz")


def test_registration_api():
    assert saving.register_keras_serializable is register
    assert gn.utils.register_keras_serializable is register and gn.utils.custom_object_scope is saving.custom_object_scope
    assert saving.get_registered_name(ScaledMSE) == "TestCustom>ScaledMSE"
    assert saving.get_registered_name(Unregistered) == "Unregistered"          # Keras: its __name__
    assert saving.get_registered_object("TestCustom>mean_gap") is mean_gap
    assert saving.get_registered_object("Nope") is None
    assert saving.get_registered_object("Nope", custom_objects={"Nope": mean_gap}) is mean_gap
    with saving.custom_object_scope({"Nope": Unregistered}):
        assert saving.get_registered_object("Nope") is Unregistered
    assert saving.get_registered_object("Nope") is None
    with pytest.raises(TypeError, match="parentheses"):
        register(Unregistered)
    with pytest.raises(TypeError, match="package"):
        register(package="a>b")
    with pytest.raises(ValueError, match="get_config"):
        register()(type("NoConfig", (), {}))
    with pytest.raises(ValueError, match="name="):
        register()(lambda y_true, y_pred: 0.0)
    # another class under a taken name replaces it, with a warning; the same class again is silent
    saved = saving.get_custom_objects()["TestCustom>ClipTo"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            register(package="TestCustom")(ClipTo)
        with pytest.warns(UserWarning, match="'TestCustom>ClipTo' was registered by"):
            register(package="TestCustom", name="ClipTo")(UnregisteredConstraint)
        assert saving.get_registered_object("TestCustom>ClipTo") is UnregisteredConstraint
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            register(package="TestCustom")(saved)


def test_files_of_built_in_objects_are_unchanged():
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3, kernel_initializer=gn.initializers.Orthogonal(),
                                           kernel_regularizer=gn.regularizers.L2(0.1),
                                           kernel_constraint=gn.constraints.MaxNorm(2))], seed=0)
    model.compile(loss=gn.losses.Huber(delta=2.0), metrics=["mae", gn.metrics.Precision(thresholds=0.3)])
    config = model.get_config()
    assert "registered_name" not in json.dumps(config)
    assert config["compile"]["loss"] == "huber" and config["compile"]["loss_config"] == {"delta": 2.0}
    assert config["layers"][0]["config"]["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}


def test_keras_names_and_lookup_agree():
    keras = pytest.importorskip("keras")

    class KerasTwin(keras.regularizers.Regularizer):
        def __call__(self, w):
            return 0.0

    class Twin(Regularizer):
        pass

    # the same decorator call names a class the same way in both
    for make in (lambda **kw: keras.saving.register_keras_serializable(**kw)(KerasTwin),
                 lambda **kw: register(**kw)(Twin)):
        make(package="TestCustomKeras", name="Twin")
    assert saving.get_registered_name(Twin) == keras.saving.get_registered_name(KerasTwin) == "TestCustomKeras>Twin"
    assert register()(Twin) is Twin and saving.get_registered_name(Twin) == "Custom>Twin"     # Keras' default package
    assert keras.saving.get_registered_name(keras.saving.register_keras_serializable()(KerasTwin)) == "Custom>KerasTwin"
    # the scopes: innermost first, closed at the block's end, in both
    with keras.saving.custom_object_scope({"Scoped": 1}), saving.custom_object_scope({"Scoped": KerasTwin}):
        assert saving.get_registered_object("Scoped") is KerasTwin
        assert keras.saving.get_registered_object("Scoped") == 1
