"""A subclass of ``gn.Model`` in model files (glassnet._subclass_files): ``save``/ModelCheckpoint
record its class (and constructor's arguments); ``load_model``, ``model_from_json`` and
``from_config`` make the subclass again when ``custom_objects`` gives it or it is registered, so that
a further ``fit`` runs its own ``train_step``/``compute_loss``; without the class, the functional
Model with a warning. Compared with Keras 3.15 (save, load with the class, fit on: histories equal
to an uninterrupted run, and to Keras' own resumed run from the same weights), the loaded
override's gradient with float64 central differences, and crafted files."""
import json
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops
from glassnet.errors import ModelFileError

from crafted_files import rewrite_config


def _data(n=24, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(dtype)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=n)).reshape(-1, 1).astype(dtype)
    return x, y


def _graph(lib):
    inputs = lib.Input((3,))
    return inputs, lib.layers.Dense(1)(lib.layers.Dense(4, activation="tanh")(inputs))


class Doubled(gn.Model):
    """A functional subclass, ``Doubled(inputs, outputs)``, whose step fits twice the targets."""

    def train_step(self, data):
        x, y = data[0], data[1]
        return super().train_step((x, 2.0 * y))


class Penalised(gn.Model):
    """Keras' idiom: a call subclass, a compute_loss of its own, get_config returning its arguments."""

    def __init__(self, units=4, penalty=0.1, **kwargs):
        super().__init__(**kwargs)
        self.units, self.penalty = units, penalty
        self.hidden = L.Dense(units, activation="tanh")
        self.out = L.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        return loss + self.penalty * ops.mean(ops.square(y_pred))

    def get_config(self):
        return {"units": self.units, "penalty": self.penalty, "seed": self.seed, "dtype": self.dtype.name}


@gn.saving.register_serializable(package="SubfileTest")
class Auto(gn.Model):
    """A call subclass without get_config (Keras' auto config: the arguments it was made with), registered."""
    made = 0

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        type(self).made += 1
        self.hidden = L.Dense(units, activation="tanh")
        self.out = L.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def train_step(self, data):
        return super().train_step((data[0], data[1] - 1.0))


def _fit(model, x, y, epochs, initial_epoch=0, **kwargs):
    return model.fit(x, y, epochs=epochs, initial_epoch=initial_epoch, batch_size=8, shuffle=False, verbose=0,
                     **kwargs).history["loss"]


def _quiet_load(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no warning when the class is given
        return gn.load_model(path, **kwargs)


# -- Keras 3.15: save, load with the class, fit on ------------------------------------------------
def test_functional_subclass_train_step_resumes_from_checkpoint_as_keras(keras, tmp_path):
    x, y = _data()

    class KDoubled(keras.Model):
        def train_step(self, data):
            x, y = data[0], data[1]
            return super().train_step((x, 2.0 * y))

    model = Doubled(*_graph(gn), seed=0)
    start = model.get_weights()
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05, momentum=0.9))
    path = str(tmp_path / "ckpt.npz")
    first = _fit(model, x, y, 2, callbacks=[gn.callbacks.ModelCheckpoint(path)])
    loaded = _quiet_load(path, custom_objects={"Doubled": Doubled})
    assert type(loaded) is Doubled and loaded.initial_epoch == 2
    resumed = _fit(loaded, x, y, 4, initial_epoch=2)

    whole = Doubled(*_graph(gn), seed=0)
    whole.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05, momentum=0.9))
    uninterrupted = _fit(whole, x, y, 4)
    np.testing.assert_allclose(first + resumed, uninterrupted, rtol=1e-6, atol=1e-7)

    other = KDoubled(*_graph(keras))
    other.set_weights(start)
    other.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    keras_first = _fit(other, x, y, 2)
    other.save(str(tmp_path / "k.keras"))
    back = keras.saving.load_model(str(tmp_path / "k.keras"), custom_objects={"KDoubled": KDoubled})
    assert type(back) is KDoubled
    keras_resumed = _fit(back, x, y, 4, initial_epoch=2)
    np.testing.assert_allclose(first + resumed, keras_first + keras_resumed, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(loaded.get_weights(), back.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)

    # without the class: the functional Model, named in a warning; its fit drops the doubling
    with pytest.warns(UserWarning, match=r"'Doubled'.*train_step.*custom_objects=\{'Doubled': Doubled\}"):
        plain = gn.load_model(path)
    assert type(plain) is gn.Model
    dropped = _fit(plain, x, y, 4, initial_epoch=2)
    assert not np.allclose(dropped, resumed, rtol=1e-3)


def test_call_subclass_compute_loss_and_get_config_resume_as_keras(keras, tmp_path):
    x, y = _data(seed=1)

    class KPenalised(keras.Model):
        def __init__(self, units=4, penalty=0.1, **kwargs):
            super().__init__(**kwargs)
            self.units, self.penalty = units, penalty
            self.hidden = keras.layers.Dense(units, activation="tanh")
            self.out = keras.layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            return loss + self.penalty * keras.ops.mean(keras.ops.square(y_pred))

        def get_config(self):
            return {"units": self.units, "penalty": self.penalty}

    def mine():
        model = Penalised(units=5, penalty=0.3, seed=0)
        model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.02))
        return model

    model = mine()
    first = _fit(model, x, y, 2)
    model.save(str(tmp_path / "m.npz"))
    loaded = _quiet_load(str(tmp_path / "m.npz"), custom_objects={"Penalised": Penalised})
    assert type(loaded) is Penalised and (loaded.units, loaded.penalty) == (5, 0.3)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    resumed = _fit(loaded, x, y, 4, initial_epoch=2)
    whole = mine()
    uninterrupted = _fit(whole, x, y, 4)
    np.testing.assert_array_equal(first + resumed, uninterrupted)       # Adam's state and all: bit for bit

    fresh = mine()
    fresh.build((None, 3))
    start = fresh.get_weights()
    other = KPenalised(units=5, penalty=0.3)
    other(x[:1])                    # Keras makes a subclass' weights at its first call
    other.set_weights(start)
    other.compile(loss="mse", optimizer=keras.optimizers.Adam(0.02))
    keras_first = _fit(other, x, y, 2)
    other.save(str(tmp_path / "k.keras"))
    back = keras.saving.load_model(str(tmp_path / "k.keras"), custom_objects={"KPenalised": KPenalised})
    assert type(back) is KPenalised and back.penalty == 0.3
    keras_resumed = _fit(back, x, y, 4, initial_epoch=2)
    np.testing.assert_allclose(first + resumed, keras_first + keras_resumed, rtol=1e-5, atol=1e-6)
    for a, b in zip(loaded.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)      # Adam: the drift plain fit shows too


def test_registered_call_subclass_with_auto_config_loads_without_custom_objects(tmp_path):
    x, y = _data(seed=2)
    model = Auto(units=3, seed=0)
    model.compile(loss="mse", optimizer="sgd")
    first = _fit(model, x, y, 1)
    model.save(str(tmp_path / "m.npz"))
    saved = json.loads(np.load(str(tmp_path / "m.npz"))["config"].tobytes())["model"]["subclass"]
    assert saved == {"class_name": "Auto", "registered_name": "SubfileTest>Auto", "module": __name__,
                     "config": {"units": 3, "seed": 0}}
    loaded = _quiet_load(str(tmp_path / "m.npz"))
    assert type(loaded) is Auto and loaded.name == model.name
    resumed = _fit(loaded, x, y, 3, initial_epoch=1)
    whole = Auto(units=3, seed=0)
    whole.compile(loss="mse", optimizer="sgd")
    np.testing.assert_array_equal(first + resumed, _fit(whole, x, y, 3))


def test_json_and_from_config_make_the_subclass_given_or_warn(rng):
    model = Penalised(units=2, penalty=0.5, seed=3)
    model.build((None, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = gn.model_from_json(model.to_json(), custom_objects={"Penalised": Penalised})
        doubled = gn.Model.from_config(Doubled(*_graph(gn), seed=0).get_config(), custom_objects={"Doubled": Doubled})
    assert type(again) is Penalised and again.penalty == 0.5 and again.count_params() == model.count_params()
    assert type(doubled) is Doubled
    assert json.loads(model.to_json())["class_name"] == "Model"     # an older glassnet reads it as the graph
    with pytest.warns(UserWarning, match="model_from_json: the model is a 'Penalised'"):
        assert type(gn.model_from_json(model.to_json())) is gn.Model
    with pytest.warns(UserWarning, match="Model.from_config: the model is a 'Doubled'"):
        assert type(gn.Model.from_config(Doubled(*_graph(gn), seed=0).get_config())) is gn.Model
    # clone_model keeps its documented answer: the functional Model of the graph, without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(gn.models.clone_model(model)) is gn.Model


def test_loaded_compute_loss_gradient_matches_central_differences(tmp_path):
    x, y = _data(n=10, seed=3, dtype=np.float64)
    model = Penalised(units=3, penalty=0.25, seed=0, dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(1.0))
    model.build((None, 3))
    model.save(str(tmp_path / "m.npz"))
    loaded = gn.load_model(str(tmp_path / "m.npz"), custom_objects={"Penalised": Penalised})
    before = [w.copy() for w in loaded.get_weights()]

    def loss(weights):
        probe = Penalised(units=3, penalty=0.25, seed=0, dtype="float64")
        probe.build((None, 3))
        probe.set_weights(weights)
        pred = probe.predict(x, verbose=0)
        return np.mean((pred - y) ** 2) + 0.25 * np.mean(pred ** 2)

    loaded.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)      # one step, learning rate 1
    step = [b - a for b, a in zip(before, loaded.get_weights())]
    eps = 1e-6
    for i, w in enumerate(before):
        numeric = np.zeros_like(w)
        for j in np.ndindex(w.shape):
            up = [v.copy() for v in before]
            down = [v.copy() for v in before]
            up[i][j] += eps
            down[i][j] -= eps
            numeric[j] = (loss(up) - loss(down)) / (2 * eps)
        np.testing.assert_allclose(step[i], numeric, rtol=1e-6, atol=1e-8)


# -- files that may say anything ------------------------------------------------------------------
def _saved(tmp_path):
    model = Penalised(units=2, seed=0)
    model.build((None, 3))
    path = str(tmp_path / "m.npz")
    model.save(path)
    return path


def test_crafted_subclass_entries_run_no_code_and_are_refused_by_name(tmp_path):
    path = _saved(tmp_path)
    made = Auto.made
    # a file naming a registered class by a name it was never saved under: the file decides nothing
    rewrite_config(path, lambda c: c["model"]["subclass"].update(registered_name="Elsewhere>Auto", class_name="Auto"))
    with pytest.warns(UserWarning, match="'Auto'"):
        assert type(gn.load_model(path)) is gn.Model     # "Auto" is registered as SubfileTest>Auto only
    assert Auto.made == made                            # its constructor never ran

    @gn.saving.register_serializable(package="SubfileTest")
    def not_a_model(y_true, y_pred):
        return 0.0
    rewrite_config(path, lambda c: c["model"]["subclass"].update(registered_name="SubfileTest>not_a_model"))
    with pytest.raises(ModelFileError, match="not_a_model.*not a subclass of glassnet.Model"):
        gn.load_model(path)
    with pytest.raises(ModelFileError, match="'Penalised'.*not a subclass of glassnet.Model"):
        gn.load_model(_saved(tmp_path), custom_objects={"Penalised": dict})

    rewrite_config(path, lambda c: c["model"].update(subclass={"class_name": "Penalised", "config": [1]}))
    with pytest.raises(ModelFileError, match="'subclass' must be"):
        gn.load_model(path, custom_objects={"Penalised": Penalised})

    # constructor's arguments that make another network: refused, naming both lists of weights
    rewrite_config(_saved(tmp_path), lambda c: c["model"]["subclass"]["config"].update(units=7))
    with pytest.raises(ModelFileError, match="Penalised made from the file's constructor's arguments has the weights"):
        gn.load_model(path, custom_objects={"Penalised": Penalised})
    rewrite_config(_saved(tmp_path), lambda c: c["model"]["subclass"]["config"].update(nope=1))
    with pytest.raises(ModelFileError, match="Penalised cannot be made.*nope"):
        gn.load_model(path, custom_objects={"Penalised": Penalised})


def test_arguments_no_file_can_hold(tmp_path):
    class Holder(gn.Model):
        def __init__(self, activation=np.tanh, **kwargs):      # a function: no JSON value, no auto config
            super().__init__(**kwargs)
            self.dense = L.Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

    model = Holder(activation=np.sin, seed=0)
    model.build((None, 3))
    model.save(str(tmp_path / "h.npz"))
    with pytest.warns(UserWarning, match="Holder is drawn by its call and the file holds no constructor's arguments"):
        assert type(gn.load_model(str(tmp_path / "h.npz"), custom_objects={"Holder": Holder})) is gn.Model

    class BadConfig(Penalised):
        def get_config(self):
            return {"units": self.units, "fn": np.tanh}
    bad = BadConfig(seed=0)
    bad.build((None, 3))
    with pytest.raises(TypeError, match="BadConfig.get_config.*fn"):
        bad.save(str(tmp_path / "b.npz"))
