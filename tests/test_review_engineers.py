"""Found porting Keras 3's "Introduction to Keras for engineers" and "Customizing saving and
serialization" guides to glassnet."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import base as layers_base


class Halving(gn.Layer):
    """x * factor: a layer of the user's whose class, in the loading program, has another name."""
    def __init__(self, factor=0.5, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x, training=False):
        return x * self.factor

    def backward(self, grad_output):
        return grad_output * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Tenfold(Halving):
    def forward(self, x, training=False):
        return x * self.factor * 10


def _saved_as(tmp_path, monkeypatch, class_name):
    """A model file (and its JSON and config) whose custom layer is recorded as ``class_name``, a class
    the loading program does not define under that name (the Keras guide's custom_objects case)."""
    renamed = type(class_name, (Halving,), {})
    model = gn.Sequential([gn.Input((4,)), renamed(0.5), gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    path = tmp_path / "m.keras"
    model.save(path)
    text, config = model.to_json(), json.loads(json.dumps(model.get_config()))
    monkeypatch.delitem(layers_base.LAYERS, class_name)       # as in a program that never defined it
    return model, path, text, config


def test_load_model_takes_a_layer_class_from_custom_objects(tmp_path, monkeypatch):
    # Keras: load_model(path, custom_objects={"CustomLayer": CustomLayer}); glassnet's load_model,
    # model_from_json and from_config ignored custom_objects for layers ("unknown layer class")
    model, path, text, config = _saved_as(tmp_path, monkeypatch, "ReviewEngSavedLayer")
    x = np.ones((3, 4), np.float32)
    objects = {"ReviewEngSavedLayer": Halving}
    loaded = gn.load_model(path, custom_objects=objects)
    assert type(loaded.layers[0]) is Halving
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with gn.saving.custom_object_scope(objects):
        assert type(gn.load_model(path).layers[0]) is Halving
    assert type(gn.models.model_from_json(text, custom_objects=objects).layers[0]) is Halving
    assert type(gn.Sequential.from_config(config, custom_objects=objects).layers[0]) is Halving
    with pytest.raises(gn.ModelFileError, match="ReviewEngSavedLayer"):
        gn.load_model(path)                                 # still refused, by name, without it


def test_custom_objects_layer_wins_as_in_layers_deserialize(tmp_path):
    # layers.deserialize already preferred custom_objects to the class defined under that name (Keras'
    # rule); load_model built the defined class instead
    model = gn.Sequential([gn.Input((4,)), Halving(0.5)], seed=0)
    model.save(tmp_path / "m.keras")
    objects = {"Halving": Tenfold}
    assert type(gn.layers.deserialize(gn.layers.serialize(model.layers[0]), custom_objects=objects)) is Tenfold
    loaded = gn.load_model(tmp_path / "m.keras", custom_objects=objects)
    assert type(loaded.layers[0]) is Tenfold
    np.testing.assert_array_equal(loaded.predict(np.ones((1, 4), np.float32)), np.full((1, 4), 5.0, np.float32))
    # an entry of another kind under a layer's name is not a layer: the registry's class is used
    assert type(gn.load_model(tmp_path / "m.keras", custom_objects={"Halving": len}).layers[0]) is Halving


class BuiltWithInitializer(gn.Layer):
    """The saving guide's LayerWithCustomBuild: ``build`` takes an argument beyond the input shape,
    which Keras' ``get_build_config``/``build_from_config`` carry and glassnet's files do not."""
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape, layer_init):
        super().build(input_shape)
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=layer_init)

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def forward(self, x, training=False):
        self.x = x
        return x @ self.w

    def backward(self, grad_output):
        self.grads["variable"][...] = self.x.T @ grad_output
        return grad_output @ self.w.T

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_save_refuses_a_layer_whose_build_needs_more_than_the_shape(tmp_path):
    # save wrote the file, and load_model then failed on it ("build() missing 1 required positional
    # argument: 'layer_init'"): a checkpoint nobody can read. Refused at save, by name, instead.
    layer = BuiltWithInitializer(4)
    layer.build((3,), layer_init="random_normal")
    model = gn.Sequential([layer, gn.layers.Dense(1)], seed=0)
    model(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"built_with_initializer.*'layer_init'.*build\(input_shape\) alone"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()
