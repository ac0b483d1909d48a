"""Review of the docs against the code (docs32): claims of README.md and docs/*.md checked by running."""
import numpy as np
import pytest

import glassnet as gn


# What Keras 3.15's keras.layers.serialize writes for these layers (Hashing and HashedCrossing in
# "int" mode declare their int64 output as their dtype; the Dense is Keras' Dense(3,
# activation="leaky_relu"), trimmed to the keys that matter here)
def _keras_policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


KERAS_HASHING = {"module": "keras.layers", "class_name": "Hashing", "registered_name": None,
                 "config": {"name": "hashing", "trainable": True, "dtype": _keras_policy("int64"),
                            "num_bins": 4, "salt": None, "mask_value": None, "output_mode": "int",
                            "sparse": False}}
KERAS_HASHED_CROSSING = {"module": "keras.layers", "class_name": "HashedCrossing", "registered_name": None,
                         "config": {"name": "hashed_crossing", "trainable": True, "dtype": "int64",
                                    "num_bins": 4, "output_mode": "int", "sparse": False}}


def test_keras_int_mode_hashing_dicts_are_read():
    # docs/layers.md: deserialize reads what keras.layers.serialize writes for the layers glassnet
    # has; Keras' int-mode Hashing always writes dtype int64 (its bins' dtype), which was refused
    layer = gn.layers.deserialize(KERAS_HASHING)
    assert isinstance(layer, gn.layers.Hashing) and layer.num_bins == 4
    # Keras 3.15: Hashing(4)(["a", "b", "c"]) -> int64 [[?], ...]; glassnet's own Hashing(4) gives the same
    values = np.array([["a"], ["b"], ["c"]])
    assert np.array_equal(layer(values), gn.layers.Hashing(4)(values))
    assert layer(values).dtype == np.int64
    crossing = gn.layers.deserialize(KERAS_HASHED_CROSSING)
    assert isinstance(crossing, gn.layers.HashedCrossing) and crossing.num_bins == 4


def test_an_integer_dtype_on_another_keras_layer_is_still_refused():
    entry = {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "d", "units": 3, "dtype": _keras_policy("int64")}}
    with pytest.raises(ValueError, match="dtype"):
        gn.layers.deserialize(entry)


@pytest.mark.parametrize("key, cls", [("activation", "Dense"), ("activation", "Activation"),
                                      ("recurrent_activation", "LSTM")])
def test_keras_leaky_relu_activation_is_refused_not_computed_with_another_slope(key, cls):
    # Keras' activation="leaky_relu" has slope 0.2, glassnet's name 0.01 (README's activations
    # row): read from Keras' dict it silently gave other outputs (1.3 off on N(0, 9) inputs)
    config = {"name": "x", key: "leaky_relu"}
    config.update({"Dense": {"units": 3}, "Activation": {}, "LSTM": {"units": 3}}[cls])
    entry = {"module": "keras.layers", "class_name": cls, "registered_name": None, "config": config}
    with pytest.raises(ValueError, match=rf"{key}.*leaky_relu.*0\.2"):
        gn.layers.deserialize(entry)
    # Keras' function form of it too
    config[key] = {"module": "keras.activations", "class_name": "function", "config": "leaky_relu",
                   "registered_name": "function"}
    with pytest.raises(ValueError, match=rf"{key}.*leaky_relu"):
        gn.layers.deserialize(entry)


def test_glassnet_s_own_dict_with_leaky_relu_still_reads_back():
    entry = gn.layers.serialize(gn.layers.Dense(3, activation="leaky_relu"))
    assert gn.layers.deserialize(entry).get_config()["activation"] == "leaky_relu"


def test_predict_help_says_what_a_text_model_reads(capsys):
    # README: `glassnet predict reviews.npz reviews.txt` (a text a line); the help said CSV only
    from glassnet import cli
    assert cli.main(["predict", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "TextVectorization" in text and "one value a line" in text


def test_train_help_names_the_toml_files_layers_key(capsys):
    # docs/examples.md: [training] takes layers, the --layers text, instead of an architecture
    from glassnet import cli
    assert cli.main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert 'layers = "25:relu,1:sigmoid"' in text
