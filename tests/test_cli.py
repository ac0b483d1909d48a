"""The ``glassnet`` command, run in-process through ``cli.main`` with tiny epoch counts."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main, parse_batch_size, parse_layers
from glassnet.layers import Dense

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG, GIF = b"\x89PNG\r\n\x1a\n", b"GIF8"


def run(capsys, *argv):
    """main(argv) -> (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *words):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("glassnet: error: ") and "Traceback" not in err
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="module")
def moons_model(tmp_path_factory):
    """A moons model trained for 3 epochs, written by `glassnet train` (shared by the read-only tests)."""
    out = tmp_path_factory.mktemp("moons")
    assert main(["train", "moons", "--epochs", "3", "--out", str(out), "--verbose", "0"]) == 0
    return out / "model.npz"


# -- train ----------------------------------------------------------------------------------------
def test_train_writes_model_history_and_plots(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "moons", "--epochs", 3, "--out", tmp_path, "--verbose", 2)
    assert status == 0
    assert "Epoch 3/3" in out and "train: loss" in out and "test:  loss" in out
    assert (tmp_path / "learning_curve.png").read_bytes()[:8] == PNG
    assert (tmp_path / "decision_boundary.png").read_bytes()[:8] == PNG
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,accuracy" and [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    model = gn.load_model(tmp_path / "model.npz")
    assert [layer.units for layer in model.layers] == [25, 50, 50, 25, 1]   # seed 000's network
    assert model.initial_epoch == 3


def test_train_options_reach_the_model(tmp_path, capsys):
    status, _, _ = run(capsys, "train", "xor", "--layers", "4:tanh,1:sigmoid", "--loss", "binary_crossentropy",
                       "--optimizer", "adam", "--lr", 0.05, "--batch-size", "full", "--init", "he",
                       "--seed", 3, "--epochs", 5, "--out", tmp_path, "--verbose", 0)
    assert status == 0
    config = gn.load_model(tmp_path / "model.npz").get_config()
    assert config["seed"] == 3
    assert [(l["config"]["units"], l["config"]["activation"], l["config"]["kernel_initializer"])
            for l in config["layers"]] == [(4, "tanh", "he_normal"), (1, "sigmoid", "he_normal")]
    assert config["compile"]["loss"] == "binary_crossentropy"
    assert config["compile"]["optimizer"]["name"] == "adam"
    assert config["compile"]["optimizer"]["learning_rate"] == 0.05


def test_train_l2_puts_a_penalty_on_every_kernel(tmp_path, capsys):
    status, _, _ = run(capsys, "train", "xor", "--l2", 0.01, "--epochs", 3, "--out", tmp_path / "o", "--verbose", 0)
    assert status == 0
    model = gn.load_model(tmp_path / "o" / "model.npz")
    assert all(layer.regularizers == {"kernel": gn.regularizers.L2(0.01)} for layer in model.layers)
    config = tmp_path / "moons.toml"                   # the list-of-dicts architecture takes it too
    config.write_text((EXAMPLES / "moons.toml").read_text() + "l2 = 0.001\n")
    status, _, _ = run(capsys, "train", "--config", config, "--epochs", 1, "--out", tmp_path / "m", "--verbose", 0)
    assert status == 0
    model = gn.load_model(tmp_path / "m" / "model.npz")
    assert all(layer.regularizers == {"kernel": gn.regularizers.L2(0.001)} for layer in model.layers)


def test_train_one_hot_for_a_categorical_loss(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "iris", "--loss", "categorical_crossentropy", "--epochs", 2,
                         "--out", tmp_path, "--verbose", 0)
    assert status == 0 and "test:" in out
    assert not (tmp_path / "decision_boundary.png").exists()       # 4 features: no boundary plot


def test_train_into_an_earlier_runs_folder_names_its_stale_plots(tmp_path, capsys):
    status, _, err = run(capsys, "train", "xor", "--epochs", 2, "--animate", "--out", tmp_path, "--verbose", 0)
    assert status == 0 and "earlier run" not in err
    boundary = (tmp_path / "decision_boundary.png").read_bytes()
    status, _, err = run(capsys, "train", "iris", "--epochs", 2, "--out", tmp_path, "--verbose", 0)
    assert status == 0
    assert (f"note: decision_boundary.png, decision_boundary.gif in {tmp_path} are from an earlier run, "
            f"not this one (left as they were)") in err
    assert (tmp_path / "decision_boundary.png").read_bytes() == boundary      # a user's file: kept
    (tmp_path / "decision_boundary.gif").unlink()
    status, _, err = run(capsys, "train", "xor", "--epochs", 2, "--out", tmp_path, "--verbose", 0)
    assert status == 0 and "earlier run" not in err                   # this run rewrote the .png


def test_train_animate_writes_a_gif(tmp_path, capsys):
    status, _, _ = run(capsys, "train", "xor", "--epochs", 4, "--animate", "--out", tmp_path, "--verbose", 0)
    assert status == 0
    assert (tmp_path / "decision_boundary.gif").read_bytes()[:4] == GIF


def test_long_full_batch_runs_print_every_nth_epoch(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "or", "--epochs", 1000, "--out", tmp_path)
    epoch_lines = [line for line in out.splitlines() if line.startswith("Epoch")]
    assert status == 0 and len(epoch_lines) == 20 and epoch_lines[-1].startswith("Epoch 1000/1000")


def test_train_from_the_example_config(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "--config", EXAMPLES / "moons.toml", "--epochs", 2,
                         "--out", tmp_path, "--verbose", 0)
    assert status == 0 and "trained moons for 2 epochs" in out
    model = gn.load_model(tmp_path / "model.npz")
    assert [layer.units for layer in model.layers] == [25, 50, 50, 25, 1]
    assert model.get_config()["compile"]["optimizer"]["learning_rate"] == 0.1


def test_config_settings_and_command_line_overrides(tmp_path, capsys):
    config = tmp_path / "xor.toml"
    config.write_text('architecture = [{input_dim=2, output_dim=3, activation="sigmoid"},\n'
                      '                {input_dim=3, output_dim=1, activation="sigmoid"}]\n'
                      '[training]\ndataset = "xor"\nloss = "squared_error"\nlr = 2\nepochs = 50\n'
                      'batch_size = "full"\nseed = 5\ninit = "xavier"\n')
    status, out, _ = run(capsys, "train", "--config", config, "--epochs", 3, "--out", tmp_path / "o",
                         "--verbose", 0)
    assert status == 0 and "for 3 epochs" in out                   # the command line wins
    model = gn.load_model(tmp_path / "o" / "model.npz")
    assert model.seed == 5 and model.optimizer.learning_rate == 2.0


def test_parse_helpers():
    assert parse_layers("25:relu, 10") == [(25, "relu"), (10, None)]
    assert parse_batch_size("full") is None and parse_batch_size("16") == 16


# -- predict and info -----------------------------------------------------------------------------
def test_predict_prints_labels_and_probabilities(moons_model, tmp_path, capsys):
    data = tmp_path / "points.csv"
    data.write_text("x1,x2\n0.0,0.5\n1.5,-0.4\n\n-1,1\n")
    status, out, _ = run(capsys, "predict", moons_model, data)
    lines = out.strip().splitlines()
    assert status == 0 and lines[0] == "label,probability" and len(lines) == 4
    labels = [int(line.split(",")[0]) for line in lines[1:]]
    p = gn.load_model(moons_model).predict(np.array([[0, 0.5], [1.5, -0.4], [-1, 1]]))[:, 0]
    assert labels == (p > 0.5).astype(int).tolist()
    assert np.allclose([float(line.split(",")[1]) for line in lines[1:]], p, rtol=1e-5)


def test_predict_with_a_model_that_takes_texts_reads_one_text_a_line(tmp_path, capsys):
    layer = gn.layers.TextVectorization(output_mode="multi_hot", vocabulary=["good", "bad"])
    model = gn.Sequential([layer, gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "sgd")
    model.save(tmp_path / "text.npz")
    data = tmp_path / "reviews.txt"
    data.write_bytes("A good film, with commas\r\nbad\n\n".encode("utf-8-sig"))     # the empty line is a text
    status, out, _ = run(capsys, "predict", tmp_path / "text.npz", data)
    lines = out.strip().splitlines()
    p = model.predict(["A good film, with commas", "bad", ""], verbose=0)[:, 0]
    assert status == 0 and lines[0] == "label,probability" and len(lines) == 4
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines[1:]], p, rtol=1e-5)
    data.write_bytes("caf\xe9".encode("latin-1"))
    status, _, err = run(capsys, "predict", tmp_path / "text.npz", data)
    assert status == 2 and "reviews.txt: not UTF-8 text" in err


def test_predict_gives_probabilities_for_a_model_trained_on_logits(tmp_path, capsys):
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2)], seed=0)
    model.compile(gn.losses.SparseCategoricalCrossentropy(from_logits=True), "sgd")
    model.save(tmp_path / "logits.npz")
    data = tmp_path / "points.csv"
    data.write_text("0.5,1.0\n-2,3\n")
    status, out, _ = run(capsys, "predict", tmp_path / "logits.npz", data)
    lines = out.strip().splitlines()
    p = gn.activations.softmax(model.predict(np.array([[0.5, 1.0], [-2.0, 3.0]])))
    assert status == 0 and lines[0] == "label,p0,p1,p2"
    np.testing.assert_allclose([[float(v) for v in line.split(",")[1:]] for line in lines[1:]], p, rtol=1e-5)
    assert [int(line.split(",")[0]) for line in lines[1:]] == p.argmax(axis=1).tolist()
    status, out, _ = run(capsys, "info", tmp_path / "logits.npz")       # run() read what it printed
    assert status == 0 and "loss: sparse_categorical_crossentropy from_logits=True" in out


def test_predict_reads_a_csv_that_starts_with_a_utf8_bom(moons_model, tmp_path, capsys):
    # Excel's "CSV UTF-8" starts the file with a BOM: the first row is data, not a header
    data = tmp_path / "excel.csv"
    data.write_bytes("0.0,0.5\n1.5,-0.4\n".encode("utf-8-sig"))
    status, out, _ = run(capsys, "predict", moons_model, data)
    lines = out.strip().splitlines()
    assert status == 0 and len(lines) == 3
    p = gn.load_model(moons_model).predict(np.array([[0, 0.5], [1.5, -0.4]]))[:, 0]
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines[1:]], p, rtol=1e-5)


@pytest.mark.parametrize("separator,bom", [(";", True), ("\t", False)])
def test_predict_reads_semicolon_or_tab_separated_values(separator, bom, moons_model, tmp_path, capsys):
    # a spreadsheet in a decimal-comma locale saves "CSV" with semicolons
    data = tmp_path / "points.csv"
    text = f"x1{separator}x2\n0.0{separator}0.5\n1.5{separator}-0.4\n"
    data.write_bytes(text.encode("utf-8-sig" if bom else "utf-8"))
    status, out, _ = run(capsys, "predict", moons_model, data)
    lines = out.strip().splitlines()
    assert status == 0 and len(lines) == 3
    p = gn.load_model(moons_model).predict(np.array([[0, 0.5], [1.5, -0.4]]))[:, 0]
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines[1:]], p, rtol=1e-5)
    data.write_text("x1;x2\n0,5;1,5\n")      # decimal commas are named, not misread
    status, _, err = run(capsys, "predict", moons_model, data)
    assert status == 2 and ("line 2: expected numbers, got ['0,5', '1,5']; decimal commas are not read: "
                            "write 0.5, not 0,5") in err


@pytest.mark.parametrize("text,message", [
    ("O.5,0.2\n0.5,0.2\n", r"line 1: expected numbers, got \['O.5', '0.2'\]"),   # a typo is not a header
    ("0.5,0.2,\n", "line 1: expected 2 values .*, got 3; the line ends with a separator"),
    # numbers separated by spaces: data, not a header "with no number" (test_review_practrev)
    ("0.5 0.2\n", r"line 1: expected 2 values .*got 1; values separated by spaces are not read"),
    ("a b\n", r"no data rows \(its one row, \['a b'\], has no number, so it was read as a header"),
    ("0,5;0,2\n1;2\n", "line 1: expected 2 values .*, got 3; decimal commas are not read"),
])
def test_predict_names_what_is_wrong_with_a_csv(text, message, moons_model, tmp_path, capsys):
    data = tmp_path / "points.csv"
    data.write_text(text)
    status, out, err = run(capsys, "predict", moons_model, data)
    assert status == 2 and out == ""
    assert re.search(message, err), err


def test_predict_writes_a_csv_for_a_multiclass_model(tmp_path, capsys):
    assert main(["train", "iris", "--epochs", "2", "--out", str(tmp_path), "--verbose", "0"]) == 0
    data = tmp_path / "flowers.csv"
    data.write_text("0.1,0.2,0.3,0.4\n-1,0,1,2\n")                 # no header
    status, out, _ = run(capsys, "predict", tmp_path / "model.npz", data, "--out", tmp_path / "pred.csv")
    rows = (tmp_path / "pred.csv").read_text().splitlines()
    assert status == 0 and "wrote 2 predictions" in out
    assert rows[0] == "label,p0,p1,p2" and len(rows) == 3
    probabilities = np.array([[float(v) for v in row.split(",")[1:]] for row in rows[1:]])
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)


@pytest.mark.parametrize("loss, activation, units", [
    ("mse", None, 2),                          # a regressor
    ("mse", "tanh", 1),                        # outputs in (-1, 1): no probability either
    ("binary_crossentropy", "sigmoid", 3),     # multi-label: three probabilities, not one distribution
    (None, None, 1),                           # never compiled: judged by its output alone
])
def test_predict_writes_raw_outputs_for_a_model_that_is_not_a_classifier(loss, activation, units,
                                                                         tmp_path, capsys):
    model = gn.Sequential([Dense(3, activation="tanh", input_dim=2), Dense(units, activation=activation)],
                          seed=0)
    if loss:
        model.compile(loss=loss, optimizer="adam")
    model.save(tmp_path / "model.npz")
    data = tmp_path / "points.csv"
    data.write_text("x1,x2\n0.0,0.5\n1.5,-0.4\n")
    status, out, _ = run(capsys, "predict", tmp_path / "model.npz", data)
    lines = out.strip().splitlines()
    assert status == 0 and lines[0] == ",".join(f"y{k}" for k in range(units)) and len(lines) == 3
    values = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_allclose(values, model.predict(np.array([[0, 0.5], [1.5, -0.4]])), rtol=1e-5)


def test_predict_labels_a_single_sigmoid_whatever_the_loss(tmp_path, capsys):
    # seed 002's XOR network trains its sigmoid with squared error: still a classifier; the
    # probability column keeps the raw output, so a regressor loses nothing either
    model = gn.Sequential([Dense(3, activation="sigmoid", input_dim=2), Dense(1, activation="sigmoid")],
                          seed=0)
    model.compile(loss="squared_error", optimizer="sgd")
    model.save(tmp_path / "model.npz")
    data = tmp_path / "points.csv"
    data.write_text("0,1\n1,1\n")
    status, out, _ = run(capsys, "predict", tmp_path / "model.npz", data)
    lines = out.strip().splitlines()
    assert status == 0 and lines[0] == "label,probability"
    p = model.predict(np.array([[0.0, 1.0], [1.0, 1.0]]))[:, 0]
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines[1:]], p, rtol=1e-5)
    assert [int(line.split(",")[0]) for line in lines[1:]] == [int(q > 0.5) for q in p]


def test_predict_out_is_never_half_written(moons_model, tmp_path, capsys, monkeypatch):
    # a value that fails to format mid-table: the old file must survive whole, with no temporary
    class Unprintable:
        def __str__(self):
            raise RuntimeError("cannot format")

    from glassnet import cli
    real = cli.prediction_table
    monkeypatch.setattr(cli, "prediction_table",
                        lambda *a: (lambda h, rows: (h, rows[:1] + [[Unprintable(), 0.5]]))(*real(*a)))
    data, target = tmp_path / "points.csv", tmp_path / "pred.csv"
    data.write_text("0,0.5\n1,1\n")
    target.write_text("old predictions\n")
    with pytest.raises(RuntimeError, match="cannot format"):
        cli.predict(moons_model, data, out=target)
    assert target.read_text() == "old predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.csv", "pred.csv"]


def test_info_prints_summary_and_compile_settings(moons_model, capsys):
    status, out, _ = run(capsys, "info", moons_model)
    assert status == 0
    for text in ("Total params: 5,226", "loss: binary_crossentropy", "optimizer: sgd(learning_rate=0.1",
                 "metrics: accuracy", "epochs trained: 3"):
        assert text in out


def test_info_says_when_the_file_did_not_record_the_epochs(tmp_path, capsys):
    # model.save() records no epoch count: "0" would claim the model is untrained
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    model.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    model.save(tmp_path / "saved.npz")
    gn.io.save_model(model, tmp_path / "zero.npz", epoch=0)
    status, out, _ = run(capsys, "info", tmp_path / "saved.npz")
    assert status == 0 and "epochs trained: unknown" in out
    status, out, _ = run(capsys, "info", tmp_path / "zero.npz")
    assert status == 0 and "epochs trained: 0\n" in out


# -- demo -----------------------------------------------------------------------------------------
def test_demo_trains_moons_and_writes_plots(tmp_path, capsys):
    status, out, _ = run(capsys, "demo", "--out", tmp_path, "--epochs", 2)
    assert status == 0 and "test accuracy" in out and "Epoch 2/2" in out
    for name in ("model.npz", "history.csv", "learning_curve.png", "decision_boundary.png"):
        assert (tmp_path / name).stat().st_size > 0


# -- errors: one line on stderr, status 2 ---------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["train", "nope"], ["DATASET", "'nope'", "moons"]),
    (["train"], ["DATASET"]),
    (["train", "moons", "--layers", "25:relu,x"], ["--layers", "'x'"]),
    (["train", "moons", "--layers", "0:relu"], ["--layers"]),
    (["train", "moons", "--layers", "25:"], ["--layers"]),
    (["train", "moons", "--layers", "25:mush"], ["--layers item '25:mush'", "activation", "mush"]),
    (["train", "moons", "--batch-size", "0"], ["--batch-size:"]),
    (["train", "moons", "--optimizer", "adamm"], ["--optimizer:", "adamm"]),
    (["train", "moons", "--loss", "categorical_hing"], ["--loss:", "categorical_hing"]),
    (["train", "moons", "--l2", "-0.1"], ["--l2", "-0.1"]),
    (["train", "moons", "--init", "wild"], ["--init:", "wild"]),
    (["train", "moons", "--lr", "-1"], ["--lr:", "learning_rate"]),
    (["train", "moons", "--epochs", "x"], ["--epochs"]),
    (["train", "moons", "--epochs", "0"], ["--epochs:"]),
    (["train", "moons", "--verbose", "3"], ["--verbose"]),
    (["demo", "--epochs", "-2"], ["--epochs:"]),
    (["train", "moons", "--bogus"], ["--bogus"]),
    (["train", "iris", "--animate"], ["--animate", "2-D"]),
    (["train", "--config", "/no/such/file.toml"], ["--config", "/no/such/file.toml", "No such file"]),
    (["info", "/no/such/model.npz"], ["No such file"]),
    (["frobnicate"], ["frobnicate"]),
    ([], ["command"]),
])
def test_usage_errors(argv, words, tmp_path, capsys):
    # an --out in tmp_path, so that no error case can leave a folder behind in the working directory
    out = ["--out", tmp_path] if argv[:1] == ["demo"] or (argv[:1] == ["train"] and argv[1:]) else []
    status, printed, err = run(capsys, *argv, *out)
    assert_one_line_error(status, err, *words)
    assert printed == ""                 # no banner or progress before a usage error


@pytest.mark.parametrize("training, words", [
    ("epochs = 0", ["[training] epochs:", "got 0"]),
    ("lr = -2.0", ["[training] lr:", "learning_rate"]),
    ("batch_size = 0", ["[training] batch_size:"]),
    ("loss = 'nope'", ["[training] loss:", "'nope'"]),
    ("layers = '3:bar,1:sigmoid'", ["[training] layers item '3:bar'", "activation"]),
    ("dataset = 'nope'", ["[training] dataset:", "'nope'"]),
])
def test_a_bad_setting_in_the_config_file_is_named_by_its_key(training, words, tmp_path, capsys):
    # the value came from the file, not from an option: the error names the file and its key
    config = tmp_path / "run.toml"
    config.write_text(f"[training]\n{training}\n")
    dataset = [] if training.startswith("dataset") else ["moons"]
    status, printed, err = run(capsys, "train", *dataset, "--config", config, "--out", tmp_path / "out")
    assert_one_line_error(status, err, f"{config}: ", *words)
    assert "--" not in err.split("error: ", 1)[1].split(":")[0]          # no option named for it
    assert printed == ""


def test_a_network_too_large_for_memory_is_one_line(tmp_path, capsys):
    status, _, err = run(capsys, "train", "moons", "--layers", "1000000000000000:relu,1:sigmoid",
                         "--out", tmp_path, "--verbose", 0)
    assert_one_line_error(status, err, "memory", "--layers")


def test_running_out_of_memory_while_training_is_one_line(tmp_path, capsys, monkeypatch):
    def fit(*args, **kwargs):
        raise MemoryError("Unable to allocate 9.00 GiB for an array")

    monkeypatch.setattr(gn.Sequential, "fit", fit)
    status, _, err = run(capsys, "train", "moons", "--epochs", 1, "--out", tmp_path, "--verbose", 0)
    assert_one_line_error(status, err, "out of memory", "9.00 GiB")


def test_train_out_must_not_be_a_file(tmp_path, capsys, monkeypatch):
    # checked before training: a finished run must not be lost to a bad --out
    from glassnet import cli
    monkeypatch.setattr(cli, "build_model", lambda *a: pytest.fail("trained despite a bad --out"))
    (tmp_path / "moons.npz").write_bytes(b"an old model")
    status, _, err = run(capsys, "train", "moons", "--epochs", 1, "--out", tmp_path / "moons.npz")
    assert_one_line_error(status, err, "--out", "moons.npz", "folder")
    assert (tmp_path / "moons.npz").read_bytes() == b"an old model"


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_predict_names_the_line_of_a_value_that_is_not_finite(value, moons_model, tmp_path, capsys):
    # float() reads these words; the error names the file's line, not "x: ... sample 1"
    data = tmp_path / "points.csv"
    data.write_text(f"x1,x2\n0,0.5\n0.1,{value}\n")
    status, _, err = run(capsys, "predict", moons_model, data)
    assert_one_line_error(status, err, "points.csv line 3", "finite", value)


def test_predict_out_that_is_a_folder_names_the_folder(moons_model, tmp_path, capsys):
    data = tmp_path / "points.csv"
    data.write_text("0,0.5\n")
    (tmp_path / "adir").mkdir()
    status, _, err = run(capsys, "predict", moons_model, data, "--out", tmp_path / "adir")
    assert_one_line_error(status, err, "Is a directory", str(tmp_path / "adir"))
    assert ".tmp" not in err and os.listdir(tmp_path / "adir") == []


def test_training_that_diverges_is_one_line(tmp_path, capsys):
    status, _, err = run(capsys, "train", "moons", "--lr", "1e9", "--epochs", 2, "--out", tmp_path,
                         "--verbose", 0)
    assert_one_line_error(status, err, "learning rate")


@pytest.mark.parametrize("text, words", [
    ("architecture = [", ["not valid TOML"]),
    ('[training]\ndataset = "moons"\nepochz = 3\n', ["unknown [training] keys", "epochz"]),
    ('model = 1\n[training]\ndataset = "moons"\n', ["architecture"]),
    ('architecture = [{input_dim=2, output_dim=3}, {input_dim=4, output_dim=1}]\n'
     '[training]\ndataset = "moons"\n', ["architecture[1]", "input_dim"]),
    ('[training]\ndataset = ["moons"]\n', ["dataset"]),
    ('architecture = [{input_dim=2, output_dim=4}, {input_dim=4, output_dim=10, activation="softmax"}]\n'
     '[training]\ndataset = "digits"\n', ["architecture[0].input_dim: is 2, but digits has 64 features"]),
    ('[training]\ndataset = "moons"\noptimizer = "Adamm"\n', ["optimizer", "'Adamm'"]),
    ('[training]\ndataset = "moons"\nbatch_size = "half"\n', ["batch_size", "'half'"]),
])
def test_bad_config_files(text, words, tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    status, _, err = run(capsys, "train", "--config", config, "--epochs", 1, "--out", tmp_path, "--verbose", 0)
    assert_one_line_error(status, err, *words)


def test_a_config_file_that_is_not_utf8_is_named(tmp_path, capsys):
    config = tmp_path / "latin1.toml"
    config.write_bytes('[training]\ndataset = "moons" # café\n'.encode("latin-1"))
    status, _, err = run(capsys, "train", "--config", config, "--epochs", 1, "--out", tmp_path, "--verbose", 0)
    assert_one_line_error(status, err, str(config), "not valid TOML", "utf-8")


def test_config_epochs_must_be_an_integer(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[training]\ndataset = "moons"\nepochs = "5"\n')
    status, _, err = run(capsys, "train", "--config", config, "--out", tmp_path)
    assert_one_line_error(status, err, "epochs", "'5'")


def test_layers_and_a_config_architecture_conflict(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--config", EXAMPLES / "moons.toml", "--layers", "3:relu,1:sigmoid")
    assert_one_line_error(status, err, "not both")


@pytest.mark.parametrize("content", [b"not a model", b"PK\x03\x04 truncated zip", b""])
def test_invalid_model_files(content, tmp_path, capsys):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    for argv in (["info", path], ["predict", path, path]):
        status, _, err = run(capsys, *argv)
        assert_one_line_error(status, err, "model.npz")


@pytest.mark.parametrize("text, words", [
    ("1,2\n3,oops\n", ["line 2", "numbers"]),
    ("1,2,3\n", ["line 1", "expected 2 values"]),
    ("x1,x2\n", ["no data rows"]),
    ("1,nan\n", ["line 1", "finite", "nan"]),
    ("1,2\n3," + "4" * 200_000 + "\n", ["line 2", "field larger than field limit"]),
])
def test_bad_csv_files(text, words, moons_model, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(text)
    status, _, err = run(capsys, "predict", moons_model, data)
    assert_one_line_error(status, err, *words)


def test_a_csv_that_is_not_utf8_is_one_line(moons_model, tmp_path, capsys):
    data = tmp_path / "latin1.csv"
    data.write_bytes("0.5,0.1\ncaf\u00e9,1\n".encode("latin-1"))
    status, _, err = run(capsys, "predict", moons_model, data)
    assert_one_line_error(status, err, "latin1.csv", "UTF-8", "0xe9")


@pytest.mark.parametrize("module, words", [("matplotlib", ["matplotlib", "glassnet[plot]"]),
                                           ("sklearn", ["scikit-learn", "glassnet[datasets]"])])
def test_missing_optional_extra(module, words, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, module, None)            # makes `import module` fail
    status, _, err = run(capsys, "train", "circles", "--epochs", 1, "--out", tmp_path)
    assert_one_line_error(status, err, *words)


def test_help_and_version(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "train" in out and "predict" in out and "demo" in out
    status, out, _ = run(capsys, "--version")
    assert status == 0 and gn.__version__ in out


# -- the installed command ------------------------------------------------------------------------
def test_console_script_and_python_dash_m(tmp_path):
    script = shutil.which("glassnet", path=os.path.dirname(sys.executable)) or shutil.which("glassnet")
    if script is None:
        pytest.skip("the glassnet console script is not installed (pip install -e .)")
    done = subprocess.run([script, "train", "or", "--epochs", "5", "--out", str(tmp_path), "--verbose", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "test:" in done.stdout and (tmp_path / "model.npz").exists()
    done = subprocess.run([sys.executable, "-m", "glassnet", "info", str(tmp_path / "no.npz")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("glassnet: error:")
    assert len(done.stderr.strip().splitlines()) == 1

    # a reader that stops early (`glassnet info m.npz | head -2`): a quiet exit, not an error line
    reader = subprocess.Popen([sys.executable, "-m", "glassnet", "info", str(tmp_path / "model.npz")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()           # before the command has written anything
    assert reader.wait(timeout=120) == 1
    assert reader.stderr.read() == b""


def test_info_of_an_uncompiled_model_still_gives_seed_and_epochs(tmp_path, capsys):
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=7)
    model.save(tmp_path / "plain.npz")
    status, out, _ = run(capsys, "info", tmp_path / "plain.npz")
    assert status == 0 and "not compiled" in out and "seed: 7" in out and "epochs trained: unknown" in out


def test_train_out_given_empty_is_refused_not_read_as_the_default(tmp_path, capsys, monkeypatch):
    from glassnet import cli
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "build_model", lambda *a: pytest.fail("trained despite --out ''"))
    for command in (["train", "moons"], ["demo"]):
        status, _, err = run(capsys, *command, "--epochs", 1, "--out", "")
        assert_one_line_error(status, err, "--out", "''")
    assert os.listdir(tmp_path) == []


def test_config_layers_in_the_training_table(tmp_path, capsys):
    config = tmp_path / "moons.toml"
    config.write_text('[training]\ndataset = "moons"\nlayers = "4:relu,1:sigmoid"\nepochs = 1\n')
    status, out, _ = run(capsys, "train", "--config", config, "--out", tmp_path / "a", "--verbose", 0)
    assert status == 0
    assert [layer.units for layer in gn.load_model(tmp_path / "a" / "model.npz").layers] == [4, 1]
    # the command line wins over the file
    status, out, _ = run(capsys, "train", "--config", config, "--layers", "3:tanh,1:sigmoid",
                         "--out", tmp_path / "b", "--verbose", 0)
    assert status == 0
    assert [layer.units for layer in gn.load_model(tmp_path / "b" / "model.npz").layers] == [3, 1]
    config.write_text('architecture = [{input_dim=2, output_dim=1, activation="sigmoid"}]\n'
                      '[training]\ndataset = "moons"\nlayers = "4:relu,1:sigmoid"\n')
    status, _, err = run(capsys, "train", "--config", config, "--out", tmp_path / "c", "--verbose", 0)
    assert_one_line_error(status, err, "architecture", "layers", "not both")
