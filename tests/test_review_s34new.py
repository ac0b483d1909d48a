"""Review of the CLI's named errors, the activations' public wrappers, unused Inputs and the added
last axis of 1 (commits 57a1735, 9cf0478, 0894806, edcd695, 1dbe5d0, 6ca6c14)."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.layers import recurrent

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
A = gn.activations


def _error(capsys, *argv):
    """main(argv)'s one error line (status 2 asserted)."""
    status = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("glassnet: error: "), err
    return lines[0]


# -- the CLI: every bad value named by its option or the config file's key ----------------------------
@pytest.mark.parametrize("option, value", [("--layers", "\u00b2:relu"), ("--batch-size", "\u00b2")])
def test_a_digit_int_cannot_read_is_named_by_its_option(option, value, tmp_path, capsys):
    # "²".isdigit() is True, but int("²") fails: the error was Python's "invalid literal for int()"
    line = _error(capsys, "train", "or", option, value, "--out", tmp_path / "o")
    assert option in line and "invalid literal" not in line


def test_a_digit_int_cannot_read_in_the_config_layers_is_named_by_its_key(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[training]\nlayers = "\u00b2:relu"\n')
    line = _error(capsys, "train", "or", "--config", config, "--out", tmp_path / "o")
    assert f"{config}: [training] layers: bad item" in line


def test_a_bad_seed_is_named_by_its_option_or_key(tmp_path, capsys):
    assert "error: --seed: " in _error(capsys, "train", "or", "--seed", "-1", "--out", tmp_path / "o")
    config = tmp_path / "run.toml"
    config.write_text('[training]\nseed = "abc"\n')
    assert f"error: {config}: [training] seed: " in _error(capsys, "train", "or", "--config", config,
                                                             "--out", tmp_path / "o")


def test_a_categorical_loss_from_the_config_is_named_by_its_key(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[training]\nloss = "categorical_crossentropy"\nlayers = "1:sigmoid"\n')
    line = _error(capsys, "train", "or", "--config", config, "--out", tmp_path / "o")
    assert f"{config}: [training] loss = 'categorical_crossentropy': needs one output unit" in line
    assert "--loss" not in line


def test_config_layers_too_large_for_memory_are_named_by_the_key(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[training]\nlayers = "1000000000000000:relu,1:sigmoid"\n')
    line = _error(capsys, "train", "or", "--config", config, "--out", tmp_path / "o")
    assert f"{config}: [training] layers: the network's weights do not fit in memory" in line


@pytest.mark.parametrize("option, words", [("--layers", "--layers: expected units:activation"),
                                           ("--config", "--config: cannot read ''")])
def test_an_empty_option_is_refused_not_ignored(option, words, tmp_path, capsys, monkeypatch):
    # "" was read as "not given": the preset's layers trained, no config was read
    # (reached once the model is built: the option was ignored)
    monkeypatch.setattr("glassnet.cli.targets_for", lambda *a, **k: pytest.fail("built with the option ignored"))
    assert words in _error(capsys, "train", "or", option, "", "--out", tmp_path / "o")


def test_a_nan_in_the_csv_is_named_as_nan_by_its_line(tmp_path, capsys):
    # tests/test_cli.py::test_bad_csv_files looks for "NaN": 9cf0478's message had only "finite"
    model = gn.Sequential([gn.Input((2,)), gn.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    model.save(tmp_path / "m.npz")
    (tmp_path / "d.csv").write_text("1,nan\n")
    line = _error(capsys, "predict", tmp_path / "m.npz", tmp_path / "d.csv")
    assert "d.csv line 1: expected finite numbers (no NaN or infinity)" in line


# -- activations: an Activation of the module's functions is the built-in one -----------------------
def test_an_activation_of_the_module_functions_runs_the_raw_functions():
    own = A.Activation("relu", A.relu, A.backprop_relu)
    for layer in (gn.layers.Activation(own), gn.layers.Dense(2, activation=own)):
        # not the public wrapper, whose checks would run every batch
        assert layer.activation.forward is A.ACTIVATIONS["relu"].forward
    lstm = gn.layers.LSTM(3, activation=A.Activation("tanh", A.tanh, A.backprop_tanh),
                          recurrent_activation=A.Activation("sigmoid", A.sigmoid, A.backprop_sigmoid))
    assert recurrent._keras_defaults(lstm.activation, lstm.recurrent_activation)    # the fast path


# -- one-input models: a column (n,) for Input((1,)), as Keras 3 and several-input models take it ----
@pytest.mark.parametrize("functional", [False, True])
def test_a_column_for_an_input_of_one_value_gets_its_axis(functional):
    x = np.linspace(-1, 1, 8).astype("float32")
    y = 2 * x[:, None]
    if functional:
        inputs = gn.Input((1,))
        model = gn.Model(inputs, gn.layers.Dense(1)(inputs), seed=0)
    else:
        model = gn.Sequential([gn.Input((1,)), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x[:, None], verbose=0))
    assert model.evaluate(x, y, verbose=0) == model.evaluate(x[:, None], y, verbose=0)
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y)).history
    assert set(history) == {"loss", "val_loss"}
    model.train_on_batch(x, y)
    assert model.predict_on_batch(x).shape == (8, 1)
    # an Input of several values still refuses a column, with the 2-D hint
    wide = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)])
    with pytest.raises(ValueError, match="2-D array"):
        wide.predict(np.ones(3), verbose=0)


def test_a_column_for_an_input_of_one_value_as_keras():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = np.linspace(-1, 1, 8).astype("float32")
    theirs = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    ours = gn.Sequential([gn.Input((1,)), gn.layers.Dense(1)])
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-6)
