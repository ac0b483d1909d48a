"""Review of today's small Keras names (metrics' per-sample functions, serialize_keras_object /
deserialize_keras_object, utils helpers): malformed and hand-written dicts."""
import json

import pytest

import glassnet as gn
from glassnet import saving


@pytest.mark.parametrize("config", ["abc", [1], 5])
@pytest.mark.parametrize("class_name", ["__bytes__", "__slice__"])
def test_keras_value_entries_with_a_config_that_is_no_dict_are_refused_by_name(class_name, config):
    # these crashed inside (AttributeError: 'str' object has no attribute 'get'; 'int' is not iterable)
    with pytest.raises(ValueError, match=f"deserialize_keras_object: {class_name}: config: expected a dict"):
        saving.deserialize_keras_object({"class_name": class_name, "config": config})


@pytest.mark.parametrize("key, value", [("registered_name", 5), ("registered_name", ["x"]),
                                        ("registered_name", {"a": 1}), ("module", 5), ("module", ["keras.layers"])])
def test_a_registered_name_or_module_of_another_type_is_refused_naming_the_key(key, value):
    # a registered_name of another type was ignored: the dict read as the built-in class
    entry = {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.1}, "registered_name": None,
             key: value}
    with pytest.raises(ValueError, match=f"deserialize_keras_object: {key}: expected a str or None"):
        saving.deserialize_keras_object(entry)


@pytest.mark.parametrize("config", [{}, None, {"learning_rate": 0.25}])
def test_a_glassnet_optimizer_dict_is_named_by_its_class_name(config):
    # as for every other kind, the class name names the class; the config's "name" was required
    made = saving.deserialize_keras_object({"module": "glassnet.optimizers", "class_name": "RMSprop",
                                            "config": config, "registered_name": None})
    assert type(made) is gn.optimizers.RMSprop
    assert made.learning_rate == (config or {}).get("learning_rate", gn.optimizers.RMSprop().learning_rate)
    entry = saving.serialize_keras_object(gn.optimizers.SGD(0.5, momentum=0.5))
    assert type(saving.deserialize_keras_object(json.loads(json.dumps(entry)))) is gn.optimizers.SGD
    with pytest.raises(ValueError, match="names the class 'Adam', its optimizer config 'sgd'"):
        saving.deserialize_keras_object({"module": "glassnet.optimizers", "class_name": "Adam", "config": {"name": "sgd"}})


@pytest.mark.parametrize("module, class_name, kind", [
    ("keras.regularizers", "L1", gn.regularizers.L1), ("keras.constraints", "NonNeg", gn.constraints.NonNeg),
    ("keras.initializers", "Zeros", gn.initializers.Zeros), ("keras.optimizers", "Adam", gn.optimizers.Adam),
    ("keras.metrics", "AUC", gn.metrics.AUC)])
def test_keras_config_none_reads_as_no_settings_as_keras_reads_it(module, class_name, kind):
    # Keras' deserialize_keras_object takes "config": None as {} (glassnet's own module did too)
    made = saving.deserialize_keras_object({"module": module, "class_name": class_name, "config": None,
                                            "registered_name": None})
    assert type(made) is kind


def test_a_function_dict_of_keras_activations_names_an_activation_only():
    # Keras looks the name up in keras.activations; glassnet gave the loss function huber
    with pytest.raises(gn.errors.UnknownObjectError, match="unknown function 'huber'"):
        saving.deserialize_keras_object({"module": "keras.activations", "class_name": "function", "config": "huber",
                                         "registered_name": "function"})
    assert saving.deserialize_keras_object({"module": "keras.activations", "class_name": "function",
                                            "config": "relu", "registered_name": "function"}) is gn.activations.relu
