"""Review portrev42: keras.io examples ported end to end (MNIST convnet, image classification from
scratch with augmentation, ...), compared with Keras 3.15 on the same weights and files."""
import numpy as np
import pytest

import glassnet as gn


def _functional_with_augmentation(L, keras_like):
    inputs = keras_like.Input((8, 8, 3))
    x = L.RandomFlip("horizontal")(inputs)
    x = L.RandomRotation(0.1)(x)
    x = L.Conv2D(4, 3)(x)
    x = L.Flatten()(x)
    dropped = L.Dropout(0.5)(x)
    outputs = L.Dense(2)(dropped)
    return keras_like.Model(inputs, [outputs, dropped])


def test_keras_file_default_training_flags_follow_the_pass(keras, tmp_path):
    """Keras writes its call's default into every node given no flag: {"training": True} for an
    augmentation, {"training": False} for a Dropout. Read as fixed modes, the loaded model flipped
    and rotated in predict and never dropped in fit; Keras' Functional lets the pass decide."""
    km = _functional_with_augmentation(keras.layers, keras)
    path = str(tmp_path / "aug.keras")
    km.save(path)
    gm = gn.load_model(path)
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    for mine, theirs in zip(gm.predict(x, verbose=0), km.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    # a pass in training mode drops, as Keras' km(x, training=True) does
    assert (np.asarray(gm(x, training=True)[1]) == 0).mean() > 0.3
    assert (np.asarray(km(x, training=True)[1]) == 0).mean() > 0.3


def test_keras_file_explicit_training_flag_stays_fixed(keras, tmp_path):
    """A flag other than the call's default is the call's own (Monte Carlo dropout): kept, glassnet's
    documented rule (docs/guide/functional.md)."""
    inputs = keras.Input((64,))
    outputs = keras.layers.Dropout(0.5)(inputs, training=True)
    path = str(tmp_path / "mc.keras")
    keras.Model(inputs, outputs).save(path)
    gm = gn.load_model(path)
    assert (gm.predict(np.ones((2, 64), "float32"), verbose=0) == 0).any()


def test_save_keras_functional_with_augmentation_loads_in_keras(keras, tmp_path):
    """keras.io's augmentation in front of a convnet: refused as 'a call with its own training
    mode', then RandomRotation's interpolation='bilinear' (Keras' default) as glassnet-only."""
    gm = _functional_with_augmentation(gn.layers, gn)
    path = str(tmp_path / "g.keras")
    gm.save(path, save_format="keras")
    km = keras.saving.load_model(path)
    assert km.get_layer("random_rotation").get_config()["interpolation"] == "bilinear"
    x = np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32")
    for mine, theirs in zip(gm.predict(x, verbose=0), km.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


@pytest.mark.parametrize("make, key, value", [
    (lambda L: L.UpSampling2D(2, interpolation="bilinear"), "interpolation", "bilinear"),
    (lambda L: L.Resizing(4, 4), "interpolation", "bilinear"),
    (lambda L: L.RandomZoom(0.2, interpolation="nearest"), "interpolation", "nearest"),
    (lambda L: L.Dropout(0.5, noise_shape=(None, 1, 1, 3)), "noise_shape", [None, 1, 1, 3]),
])
def test_save_keras_keeps_settings_keras_takes(keras, tmp_path, make, key, value):
    """Keys glassnet listed as its own (dropped at one value, refused at any other) that these Keras
    3.15 classes take: written as they are."""
    model = gn.Sequential([gn.Input((6, 6, 3)), make(gn.layers)])
    path = str(tmp_path / "m.keras")
    model.save(path, save_format="keras")
    km = keras.saving.load_model(path)
    got = km.layers[0].get_config()[key]
    assert (list(got) if isinstance(got, tuple) else got) == value
    x = np.random.default_rng(2).uniform(0, 255, size=(2, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-4)


def _call_written_linear(register=None):
    class Linear(gn.layers.Layer):
        """The subclassing guide's Linear with an input_spec, written with call (a drawn block)."""

        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.input_spec = gn.layers.InputSpec(min_ndim=2, axes={-1: 4})

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")

        def call(self, inputs):
            return gn.ops.matmul(inputs, self.w)

        def get_config(self):
            return {**super().get_config(), "units": self.units}
    return register(Linear) if register else Linear


def test_input_spec_of_a_layer_written_with_call_is_checked(keras):
    """docs/layers.md: every call checks a layer's input_spec; a layer written with call (drawn as a
    glassnet Model) took any input silently, on arrays, in a Sequential and in a functional model."""
    Linear = _call_written_linear()
    k_layer = keras.layers.Dense(8)
    k_layer.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: 4})
    with pytest.raises(ValueError) as theirs:
        k_layer(keras.Input((5,)))
    for draw in (lambda: Linear(8)(np.zeros((2, 5), "float32")),
                 lambda: gn.Sequential([gn.Input((5,)), Linear(8)]),
                 lambda: Linear(8)(gn.Input((5,)))):
        with pytest.raises(ValueError) as mine:
            draw()
        assert str(mine.value).split("layer '")[1].split("'", 1)[1] == \
            str(theirs.value).split("layer '")[1].split("'", 1)[1]
    # what the spec allows is drawn and runs
    assert Linear(8)(np.zeros((2, 4), "float32")).shape == (2, 8)


def test_keras_file_with_a_call_written_layer_says_why(keras, tmp_path):
    """A registered gn.Layer written with call was refused as 'not a glassnet Layer subclass'."""
    package = "Portrev42"
    Linear = _call_written_linear(gn.saving.register_serializable(package=package))

    inputs = keras.Input((4,))
    path = str(tmp_path / "k.keras")
    keras.Model(inputs, keras.layers.Dense(8)(inputs)).save(path)   # its Dense then named as the Linear
    import json
    import zipfile
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["registered_name"] = f"{package}>Linear"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert gn.saving.get_registered_object(f"{package}>Linear") is Linear
    with pytest.raises(Exception, match="a layer of yours written with call"):
        gn.load_model(path)


def test_save_keras_sequential_of_a_call_written_layer_says_why(tmp_path):
    model = gn.Sequential([gn.Input((4,)), _call_written_linear()(8), gn.layers.Dense(1)])
    with pytest.raises(ValueError, match="a layer of yours written with call"):
        model.save(str(tmp_path / "m.keras"), save_format="keras")
