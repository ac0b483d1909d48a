"""``glassnet.layers.serialize`` / ``deserialize`` (Keras' names): glassnet's dict round trip, the
dict Keras 3.15's ``keras.layers.serialize`` writes read for the same settings (and the same
outputs given the same weights), layers of your own, and what is refused: unregistered names,
Keras settings glassnet lacks, anything the dict would have imported."""
import json
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from test_layer_contract import TABLE as CONTRACT_TABLE      # a factory for every built-in layer


def _through_json(entry):
    return json.loads(json.dumps(entry))


def _plain(value):
    """A Keras config value in glassnet's form: an object's dict without ``module`` and
    ``registered_name`` and its unseeded keys, tuples as lists."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        config = {k: _plain(v) for k, v in value["config"].items()
                  if not (k in ("seed", "input_axes", "output_axes") and v is None)}
        return {"class_name": value["class_name"], "config": config}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Keras' config keys glassnet's get_config does not write back, per layer: what Keras adds to
# every layer, and settings at the values glassnet computes as
COMMON = {"trainable", "dtype", "seed"}
# (Keras layer, input shape of one sample, settings glassnet leaves out of its config at Keras' values)
CASES = {
    "Dense": (lambda k: k.layers.Dense(4, activation="tanh", use_bias=False, kernel_regularizer="l2",
                                       kernel_initializer="he_normal"), (5,),
              {"quantization_config", "bias_regularizer", "kernel_constraint", "bias_constraint", "use_bias",
               "bias_initializer"}),
    "Conv2D": (lambda k: k.layers.Conv2D(3, (3, 2), strides=(2, 1), padding="same", dilation_rate=1,
                                         activation="relu"), (7, 6, 2),
               {"data_format", "groups", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                "kernel_constraint", "bias_constraint"}),
    "Dropout": (lambda k: k.layers.Dropout(0.25), (5,), {"noise_shape"}),
    "LSTM": (lambda k: k.layers.LSTM(3, return_sequences=True, go_backwards=True, recurrent_activation="hard_sigmoid",
                                     unit_forget_bias=False), (4, 2),
             {"unroll", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint"}),
    "BatchNormalization": (lambda k: k.layers.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False), (3,),
                           {"axis", "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                            "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
                            "beta_constraint", "gamma_constraint", "synchronized", "renorm", "renorm_clipping",
                            "renorm_momentum", "scale"}),
    "Embedding": (lambda k: k.layers.Embedding(12, 3, mask_zero=True), (6,),
                  {"embeddings_regularizer", "activity_regularizer", "embeddings_constraint", "quantization_config"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_dict_is_read_with_the_same_settings(keras, rng, name):
    make, sample, left_out = CASES[name]
    theirs = make(keras)
    x = rng.random((2, *sample)).astype(np.float32)
    if name == "Embedding":
        x = rng.integers(0, 12, (2, *sample))
    theirs.build((None, *sample))       # built: its dict has a build_config, and weights to copy
    entry = _through_json(keras.layers.serialize(theirs))
    assert entry["module"] == "keras.layers" and entry["build_config"]["input_shape"] == [None, *sample]
    ours = L.deserialize(entry)
    assert type(ours) is L.get(name) and ours.input_shape == sample
    keras_config, our_config = _plain(entry["config"]), ours.get_config()
    # every Keras setting glassnet writes back is the same value; the others are the expected ones
    shared = set(keras_config) & set(our_config)
    assert {key: our_config[key] for key in shared} == {key: keras_config[key] for key in shared}
    assert set(keras_config) - set(our_config) <= COMMON | left_out
    assert len(shared) >= 2
    # and the layer computes as Keras' given its weights (the settings act, not only read back)
    model = gn.Sequential([ours], seed=0)
    model.build((None, *sample))
    model.set_weights(theirs.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(theirs(x, training=False)),
                               rtol=1e-5, atol=1e-6)


def test_keras_wrappers_read_with_the_layer_they_wrap(keras):
    bidirectional = L.deserialize(_through_json(keras.layers.serialize(
        keras.layers.Bidirectional(keras.layers.GRU(2, return_sequences=True), merge_mode="sum"))))
    assert bidirectional.get_config()["merge_mode"] == "sum"
    assert bidirectional.get_config()["layer"]["config"]["units"] == 2
    wrapped = L.deserialize(_through_json(keras.layers.serialize(keras.layers.TimeDistributed(keras.layers.Dense(3)))))
    assert isinstance(wrapped, L.TimeDistributed) and wrapped.get_config()["layer"]["config"]["units"] == 3
    # a backward layer of other settings than the forward one's: taken since session 46, with them
    other = keras.layers.Bidirectional(keras.layers.GRU(2), backward_layer=keras.layers.GRU(2, go_backwards=True,
                                                                                         activation="relu"))
    read = L.deserialize(keras.layers.serialize(other))
    assert read.own_backward_layer and read.get_config()["backward_layer"]["config"]["activation"] == "relu"
    # one of another number of units: taken since session 48 (tests/test_keras_args48.py), its own units kept
    wider = keras.layers.Bidirectional(keras.layers.GRU(2), backward_layer=keras.layers.GRU(3, go_backwards=True))
    read = L.deserialize(keras.layers.serialize(wider))
    assert read.backward_layer.units == 3 and read.output_shape((4, 5)) == (5,)


def test_keras_settings_glassnet_lacks_are_refused_by_name(keras):
    # (Embedding's lora_rank was among them until session 44 built LoRA: it is read now, below)
    cases = [(keras.layers.BatchNormalization(synchronized=True), "synchronized=True"),
             (keras.layers.Dense(2, dtype="mixed_float16"), "dtype")]
    for layer, words in cases:
        with pytest.raises(ValueError, match=words):
            L.deserialize(keras.layers.serialize(layer))
    entry = keras.layers.serialize(keras.layers.Dense(2))
    entry["config"]["spin"] = 3                     # a key neither glassnet nor the table knows
    with pytest.raises(ValueError, match="layers.deserialize: Dense: unexpected keyword argument 'spin'"):
        L.deserialize(entry)
    lora = L.deserialize(keras.layers.serialize(keras.layers.Embedding(10, 2, lora_rank=4)))
    assert lora.lora_rank == 4


@pytest.mark.parametrize("layer", [
    lambda: L.Dense(3, activation="relu", kernel_regularizer=gn.regularizers.L2(0.1), name="hidden",
                    input_shape=(4,)),
    lambda: L.Conv2D(2, 3, strides=2, padding="same", kernel_initializer="he_normal"),
    lambda: L.Dropout(0.3, seed=7),
    lambda: L.LSTM(4, return_sequences=True, dropout=0.1),
    lambda: L.BatchNormalization(momentum=0.8, center=False),
    lambda: L.Embedding(10, 4, mask_zero=True),
    lambda: L.Bidirectional(L.LSTM(2), merge_mode="ave"),
])
def test_glassnet_round_trip(layer):
    layer = layer()
    entry = L.serialize(layer)
    assert set(entry) == {"class_name", "config"} and entry["class_name"] == type(layer).__name__
    again = L.deserialize(_through_json(entry))
    assert type(again) is type(layer) and again is not layer
    assert again.get_config() == layer.get_config()


def test_a_registered_layer_of_ones_own(keras):
    @gn.saving.register_serializable(package="SerializeTest")
    class Scaled(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def forward(self, x, training=False):
            return x * self.factor

        def backward(self, grad_output):
            return grad_output * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    entry = L.serialize(Scaled(3.0, name="scaled"))
    assert entry == {"class_name": "Scaled", "config": {"name": "scaled", "factor": 3.0},
                     "registered_name": "SerializeTest>Scaled"}
    again = L.deserialize(_through_json(entry))
    assert type(again) is Scaled and again.factor == 3.0 and again.name == "scaled"

    # Keras' dict of its own class registered under the same name reads as glassnet's class
    @keras.saving.register_keras_serializable(package="SerializeTest", name="Scaled")
    class KerasScaled(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    theirs = _through_json(keras.layers.serialize(KerasScaled(5.0, name="k")))
    assert theirs["registered_name"] == "SerializeTest>Scaled"
    again = L.deserialize(theirs)
    assert type(again) is Scaled and again.factor == 5.0 and again.name == "k"
    # unregistered, it comes from custom_objects, else it is refused naming how to register it
    entry = {"class_name": "Unseen", "config": {"factor": 4.0}, "registered_name": "Elsewhere>Unseen"}
    with pytest.raises(ValueError, match="'Elsewhere>Unseen' is not registered.*register_serializable"):
        L.deserialize(entry)
    assert L.deserialize(entry, custom_objects={"Elsewhere>Unseen": Scaled}).factor == 4.0


def test_nothing_is_imported_and_only_layers_are_built():
    before = set(sys.modules)
    for entry in ({"module": "glassnet_no_such_module", "class_name": "Payload", "config": {}, "registered_name": None},
                  {"class_name": "os.system", "config": {}},
                  {"module": "subprocess", "class_name": "Popen", "config": {"args": "true"}, "registered_name": None}):
        with pytest.raises(ValueError, match="unknown layer class"):
            L.deserialize(entry)
    assert set(sys.modules) == before

    @gn.saving.register_serializable(package="SerializeTest")
    def not_a_layer(x):
        return x
    with pytest.raises(ValueError, match="not a glassnet Layer subclass"):
        L.deserialize({"class_name": "x", "config": {}, "registered_name": "SerializeTest>not_a_layer"})
    with pytest.raises(ValueError, match="not a glassnet Layer subclass"):
        L.deserialize({"class_name": "x", "config": {}}, custom_objects={"x": dict})
    with pytest.raises(ValueError, match="expected"):
        L.deserialize({"class_name": "Dense", "config": {"units": 2}, "weights": [1]})
    with pytest.raises(TypeError, match="layers.serialize"):
        L.serialize({"class_name": "Dense"})


def test_keras_aliases_and_input_shape_from_build_config():
    layer = L.deserialize({"class_name": "MaxPool2D", "config": {"pool_size": [2, 2]},
                           "build_config": {"input_shape": [None, 8, 8, 3]}})
    assert type(layer) is L.MaxPooling2D and layer.input_shape == (8, 8, 3)
    # a list of shapes (a layer of several inputs) leaves the layer to be built from its call
    merged = L.deserialize({"module": "keras.layers", "class_name": "Add", "config": {"name": "add"},
                            "registered_name": None, "build_config": {"input_shape": [[None, 3], [None, 3]]}})
    assert merged.input_shape is None


@pytest.mark.parametrize("name", sorted(CONTRACT_TABLE))
def test_the_dtype_goes_round_trip(name):
    # glassnet's dict left the dtype out (get_config does: a model file's layers take the model's),
    # so a float64 layer came back without one: float32 alone, refused by a float64 model
    factory, _, _ = CONTRACT_TABLE[name]
    layer = factory(dtype="float64")
    entry = _through_json(L.serialize(layer))
    assert entry["config"]["dtype"] == "float64"
    again = L.deserialize(entry)
    assert again.dtype == np.float64 and again.get_config() == layer.get_config()
    assert L.serialize(again) == entry
    # a layer without a dtype has none in its dict: rebuilt, it takes its model's, as before
    assert "dtype" not in L.serialize(factory())["config"]


def test_the_dtype_is_written_as_keras_policy_name_and_read_from_keras(keras):
    theirs = keras.layers.Dense(3, dtype="float64")
    ours = L.deserialize(_through_json(keras.layers.serialize(theirs)))
    assert ours.dtype == np.float64
    assert L.serialize(ours)["config"]["dtype"] == keras.layers.serialize(theirs)["config"]["dtype"]["config"]["name"]
    # built in a float64 model, a layer has the model's dtype, and its dict says so
    model = gn.Sequential([L.Input((2,)), L.Dense(3)], dtype="float64")
    again = L.deserialize(_through_json(L.serialize(model.layers[0])))
    gn.Sequential([L.Input((2,)), again], dtype="float64")              # accepted: the same dtype
    with pytest.raises(ValueError, match="has dtype float64, the model float32"):
        gn.Sequential([L.Input((2,)), L.deserialize(_through_json(L.serialize(model.layers[0])))])


def test_a_layer_class_that_takes_no_dtype_is_serialized_without_it():
    class Fixed(L.Layer):                 # names its arguments: no dtype= to give back
        def __init__(self, name=None):
            super().__init__(name=name)

        def forward(self, x, training=False):
            return x

        def backward(self, grad_output):
            return grad_output

    layer = Fixed(name="fixed")
    layer.dtype = np.dtype("float64")      # as a float64 model sets it
    entry = L.serialize(layer)
    assert "dtype" not in entry["config"]
    assert L.deserialize(entry, custom_objects={"Fixed": Fixed}).name == "fixed"
