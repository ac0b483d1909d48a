"""Each example script, run at its reduced (``quick``) size: results above modest thresholds."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    """Import examples/<name>.py by path (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"glassnet_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__ and "Seed" in module.__doc__.splitlines()[0]
    return module


def run_quick(name, tmp_path):
    return load_example(name).main(quick=True, out=str(tmp_path))


def assert_pngs(folder, *names):
    for name in names:
        assert (Path(folder) / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_seed000_moons(tmp_path, capsys):
    results = run_quick("seed000_moons", tmp_path)
    assert results["test_accuracy"] >= 0.85 and results["ms_per_epoch"] > 0
    assert_pngs(tmp_path, "learning_curve.png", "decision_boundary.png")
    table = capsys.readouterr().out
    assert "glassnet (NumPy)" in table and "ms/epoch" in table
    torch_row = results["peers"][0]
    if "note" not in torch_row:                   # PyTorch installed: the same network was timed
        assert torch_row["framework"].startswith("PyTorch") and torch_row["ms_per_epoch"] > 0


def test_seed001_logistic_to_deep(tmp_path):
    results = run_quick("seed001_logistic_to_deep", tmp_path)
    assert results["baseline"] == pytest.approx(0.9, abs=0.01)
    assert results["logistic"]["test_accuracy"] >= 0.92           # above the always-"no" 0.90
    assert results["deep"]["test_accuracy"] >= 0.92
    assert results["deep"]["params"] == 784 * 5 + 5 + 5 * 5 + 5 + 5 * 5 + 5 + 5 * 3 + 3 + 3 + 1
    assert_pngs(tmp_path, "learning_curve_logistic.png", "learning_curve_deep.png")


def test_seed002_digits(tmp_path):
    results = run_quick("seed002_digits", tmp_path)
    accuracy = results["test_accuracy"]
    assert accuracy["full_batch_gd"] >= 0.85 and accuracy["adadelta"] >= 0.75 and accuracy["adam"] >= 0.75
    tips = results["tips"]
    assert "learning rate" in tips["nan"]                          # NonFiniteError was raised and caught
    assert tips["classes_raw"] == 1 and tips["classes_scaled"] == 10
    assert "sparse_categorical_crossentropy" in tips["shape"]
    assert_pngs(tmp_path, "learning_curve_adam.png", "confusion_matrix_adam.png")


def test_seed003_or_xor(tmp_path):
    results = run_quick("seed003_or_xor", tmp_path)
    # the tutorial's worked numbers, to its three decimals
    assert results["or_cost_before"] == pytest.approx(0.089, abs=5e-4)
    assert results["or_cost_after"] == pytest.approx(0.084, abs=5e-4)
    assert results["or_grad_kernel"] == pytest.approx([-0.048, -0.039], abs=5e-4)
    assert results["or_grad_bias"] == pytest.approx(-0.037, abs=5e-4)
    assert results["or_second_grad_kernel"] == pytest.approx([-0.044, -0.035], abs=5e-4)
    assert results["or_second_grad_bias"] == pytest.approx(-0.031, abs=5e-4)
    assert results["xor_one_neuron_accuracy"] <= 0.75                # no straight line separates XOR
    assert results["xor_feature_cross_accuracy"] == 1.0
    assert results["xor_hidden_layer_accuracy"] == 1.0
    assert_pngs(tmp_path, "xor_decision_boundaries.png", "xor_learning_curve.png")


def test_seed004_layers(tmp_path):
    results = run_quick("seed004_layers", tmp_path)
    assert results["xor_accuracy"] == 1.0
    assert results["mnist_test_accuracy"] >= 0.7                   # 2 epochs on 1,000 images
    assert_pngs(tmp_path, "xor_decision_boundary.png", "mnist_learning_curve.png", "mnist_confusion_matrix.png")


def run_issue_example(name, tmp_path):
    """Import and run examples/<name>.py at quick size; the issue examples' docstrings name their issue."""
    spec = importlib.util.spec_from_file_location(f"glassnet_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__ and module.__doc__.startswith("Issue 4")
    # default model names are numbered per session, as Keras': a script run on its own names its
    # first model "sequential", as the docs show it, where this test session has made hundreds
    import glassnet
    glassnet.utils.clear_session()
    return module.main(quick=True, out=str(tmp_path))


def test_cnn_mnist(tmp_path, capsys):
    results = run_issue_example("cnn_mnist", tmp_path)     # 3 epochs on the 4,000 training images
    assert results["epochs"] == 3 and len(results["test_accuracy_by_epoch"]) == 3
    # 0.903 measured (the issue's target: 0.90); a little slack for other CPUs' float32 rounding
    assert results["test_accuracy_3"] == results["test_accuracy"] >= 0.88
    assert results["test_accuracy_by_epoch"][0] < results["test_accuracy"]  # it learns epoch by epoch
    assert results["params"] == (3 * 3 * 1 * 8 + 8) + (3 * 3 * 8 * 16 + 16) + (5 * 5 * 16 * 10 + 10)
    assert results["seconds_per_epoch"] > 0 and [r["seed"] for r in results["seeds"]] == [0]
    assert "Total params: 5,258" in results["summary"] and "(None, 5, 5, 16)" in results["summary"]
    # docs/examples.md shows this summary as printed (less the padding at the ends of lines)
    printed = "\n".join(line.rstrip() for line in results["summary"].splitlines())
    assert f"```text\n{printed}\n```" in (EXAMPLES.parent / "docs" / "examples.md").read_text(encoding="utf-8")
    assert "after 3 epochs" in capsys.readouterr().out
    assert_pngs(tmp_path, "learning_curve.png", "confusion_matrix.png", "filters.png", "feature_maps.png")


def test_mnist1d_conv1d(tmp_path):
    results = run_issue_example("mnist1d_conv1d", tmp_path)  # 20 epochs dense, 5 epochs CNN
    accuracy = results["test_accuracy"]
    assert set(accuracy) == {"logistic", "mlp", "cnn"}       # the paper's CNN runs at full size only
    assert 0.2 <= accuracy["logistic"] <= 0.45                # the paper's 32 %: no linear solution
    assert accuracy["mlp"] >= 0.5                             # ~0.66 measured (paper: 68 % when trained longer)
    assert accuracy["cnn"] >= 0.75 and accuracy["cnn"] > accuracy["mlp"] + 0.1   # ~0.87 measured
    assert all(r["seconds_per_epoch"] > 0 for r in results["models"].values())
    assert_pngs(tmp_path, "learning_curve_mlp.png", "learning_curve_cnn.png", "confusion_matrix_cnn.png")


def test_imbalanced_moons(tmp_path, capsys):
    results = run_quick("imbalanced_moons", tmp_path)
    plain, weighted, focal = results["plain"], results["weighted"], results["focal"]
    # measured at quick size: accuracy 0.959 / 0.903 / 0.956, recall 0.649 / 0.919 / 0.811,
    # F1 0.696 / 0.576 / 0.723, AUC 0.979 / 0.979 / 0.978
    assert plain["accuracy"] > 0.9 and weighted["recall"] > plain["recall"] + 0.1
    assert weighted["precision"] < plain["precision"]
    assert focal["recall"] > plain["recall"] + 0.05 and focal["precision"] > weighted["precision"] + 0.1
    assert all(abs(r["auc"] - plain["auc"]) < 0.02 for r in (weighted, focal)) and plain["auc"] > 0.95
    assert_pngs(tmp_path, "boundary_plain.png", "boundary_weighted.png", "boundary_focal.png")
    assert "recall" in capsys.readouterr().out


def test_regularization_moons(tmp_path, capsys):
    results = run_quick("regularization_moons", tmp_path)
    none, l2 = results["none"], results["l2"]
    # the penalty shrinks the weights (measured at quick size: 18 against 229) and the overconfident
    # test cross-entropy with them (0.35 against 0.45)
    assert l2["sum_squared_kernels"] < none["sum_squared_kernels"] / 5
    assert l2["test_cross_entropy"] < none["test_cross_entropy"]
    assert all(r["test_accuracy"] >= 0.8 for r in results.values())
    assert_pngs(tmp_path, "boundary_none.png", "boundary_l2.png", "boundary_dropout.png")
    assert "sum W^2" in capsys.readouterr().out


def test_augmented_mnist(tmp_path, capsys):
    results = run_quick("augmented_mnist", tmp_path)       # 8 epochs, seed 0, 500 training images
    plain, augmented = results["plain"][0], results["augmented"][0]
    # measured at quick size: test 0.879 and 0.854; training accuracy 0.966 and 0.910 (the
    # augmented network has not yet fitted its 500 images; at 60 epochs it wins, 0.941 to 0.911)
    assert plain["test_accuracy"] >= 0.8 and augmented["test_accuracy"] >= 0.8
    assert augmented["train_accuracy"] < plain["train_accuracy"]
    assert_pngs(tmp_path, "learning_curve_plain.png", "learning_curve_augmented.png")
    assert "mean test accuracy" in capsys.readouterr().out


def test_sequence_tagging(tmp_path, capsys):
    results = run_quick("sequence_tagging", tmp_path)      # 600 sentences, 10 epochs
    # measured at quick size: masked Bidirectional 0.592, unmasked 0.758 reported / 0.586 on real
    # tokens, masked forward GRU 0.529. A masked tagger's accuracy counts the real tokens alone:
    for kind in ("masked Bidirectional", "masked forward GRU"):
        assert results[kind]["reported_accuracy"] == pytest.approx(results[kind]["real_token_accuracy"], abs=1e-9)
    unmasked = results["unmasked Bidirectional"]             # counts the padding too
    assert unmasked["reported_accuracy"] > unmasked["real_token_accuracy"] + 0.05
    assert_pngs(tmp_path, "learning_curve_tagger.png")
    assert "real tokens" in capsys.readouterr().out


def test_sequence_order(tmp_path, capsys):
    results = run_quick("sequence_order", tmp_path)        # 600 sequences, 12 epochs
    # measured at quick size: bag 0.480, LSTM 1.000, GRU 1.000, attention 0.438, attention+positions
    # 0.978: the order is invisible to the bag and to attention without positions
    assert results["bag"]["test_accuracy"] < 0.65 and results["attention"]["test_accuracy"] < 0.65
    assert results["LSTM"]["test_accuracy"] >= 0.9 and results["GRU"]["test_accuracy"] >= 0.9
    assert results["attention+positions"]["test_accuracy"] >= 0.8
    assert_pngs(tmp_path, "learning_curve_lstm.png")
    assert "test accuracy" in capsys.readouterr().out


def test_seq2seq_addition(tmp_path, capsys):
    results = run_quick("seq2seq_addition", tmp_path)      # 6,000 questions, 12 epochs
    # measured at quick size: answers right 0.447, characters right 0.811 (30 epochs on 20,000: 0.916, 0.975)
    assert results["exact"] >= 0.25 and results["characters"] >= 0.7
    assert_pngs(tmp_path, "learning_curve.png")
    assert "answers right" in capsys.readouterr().out
    # the one-step decoder model, fed the true answer so far, gives the training model's probabilities
    example = load_example("seq2seq_addition")
    training, encoder, one_step = example.models()
    questions, read, _, _ = example.make_questions(5, __import__("numpy").random.default_rng(1))
    whole = training.predict([questions, read])
    h, c = encoder.predict(questions)
    for t in range(example.ANSWER):
        probabilities, h, c = one_step.predict([read[:, t:t + 1], h, c])
        assert abs(probabilities[:, 0] - whole[:, t]).max() < 1e-5


def test_text_reviews(tmp_path, capsys):
    results = run_quick("text_reviews", tmp_path)          # 800 reviews, 10 epochs
    # measured at quick size: words 0.814, pairs 0.818, LSTM 1.000: only the reader in order gets
    # negation and the last clause right
    assert results["words"]["test_accuracy"] < 0.9 and results["LSTM"]["test_accuracy"] >= 0.97
    assert [round(p) for p in results["verdicts"]] == [1, 0, 0]
    assert_pngs(tmp_path, "learning_curve_lstm.png")
    assert "test accuracy" in capsys.readouterr().out


def test_forecasting(tmp_path, capsys):
    results = run_quick("forecasting", tmp_path)           # 6 epochs
    # measured at quick size: last value 0.190, Flatten + Dense 0.127, LSTM 0.107, causal Conv1D 0.090
    # (noise alone: 0.080)
    assert results["LSTM"]["test_mae"] < 0.8 * results["last value"]["test_mae"]
    assert results["Flatten + Dense"]["test_mae"] < 0.8 * results["last value"]["test_mae"]
    assert results["causal Conv1D"]["test_mae"] < 0.6 * results["last value"]["test_mae"]
    assert_pngs(tmp_path, "learning_curve_forecaster.png")
    assert "test MAE" in capsys.readouterr().out


def test_residual_cnn(tmp_path, capsys):
    results = run_quick("residual_cnn", tmp_path)          # 2 blocks, 2 epochs on 1,000 images
    plain, residual = results["plain"], results["residual"]
    # the two differ by the shortcuts alone: the same layers and weights count
    assert results["params"] == 160 + 2 * 2 * (9 * 16 * 16 + 16) + 170
    for run in (plain, residual):
        assert len(run["test_accuracy_by_epoch"]) == 2 and run["loss_by_epoch"][1] < run["loss_by_epoch"][0]
    assert plain["test_accuracy_by_epoch"] != residual["test_accuracy_by_epoch"]
    assert "Connected to" in results["summary"] and "max_pooling2d, conv2d_2" in results["summary"]
    assert_pngs(tmp_path, "learning_curve_plain.png", "learning_curve_residual.png")
    assert "test accuracy by epoch" in capsys.readouterr().out


def test_multi_task(tmp_path, capsys):
    results = run_quick("multi_task", tmp_path)          # 5 epochs
    two, single = results["two_tasks"], results["digit_only"]
    assert list(two) == ["loss", "digit_loss", "big_loss", "big_accuracy", "digit_accuracy"]
    assert two["digit_accuracy"] > 0.7 and two["big_accuracy"] > 0.7 and single["digit_accuracy"] > 0.7
    assert two["loss"] == pytest.approx(two["digit_loss"] + 0.5 * two["big_loss"], rel=1e-6)
    history = results["history"]
    assert len(history["val_big_accuracy"]) == 5 and history["loss"][-1] < history["loss"][0]
    assert 'Model: "two_tasks"' in results["summary"] and "digit (Dense)" in results["summary"]
    assert_pngs(tmp_path, "learning_curves.png")
    assert "'5 or more' read from the digit" in capsys.readouterr().out


def test_transfer_learning(tmp_path, capsys):
    results = run_quick("transfer_learning", tmp_path)      # 8 epochs, 10 images a class for 5-9
    # measured at quick size: base 0.989 on 0-4; 5-9: frozen 0.944, scratch 0.956, fine-tuned 0.933
    assert results["pretrained_on_0_4"] >= 0.9
    for name in ("frozen_base", "from_scratch", "fine_tuned"):
        assert results[name]["test_accuracy"] >= 0.8, name
    assert list((tmp_path / "logs" / "frozen" / "train").glob("events.out.tfevents.*"))
    assert "frozen_base" in capsys.readouterr().out


def test_volumes(tmp_path, capsys):
    results = run_quick("volumes", tmp_path)        # 300 volumes, 12 epochs
    # measured at quick size: dense 0.460, 3-D CNN 0.780 (full size: 0.527 and 0.990)
    assert results["cnn_3d"]["test_accuracy"] >= 0.65
    assert results["cnn_3d"]["test_accuracy"] > results["dense"]["test_accuracy"] + 0.15
    assert results["cnn_3d"]["weights"] == 8 * 28 + 16 * (8 * 27 + 1) + 16 * 3 + 3
    assert_pngs(tmp_path, "learning_curve_dense.png", "learning_curve_cnn_3d.png")
    assert "cnn_3d" in capsys.readouterr().out


def test_next_frame(tmp_path, capsys):
    results = run_quick("next_frame", tmp_path)        # 300 clips, 6 epochs
    # measured at quick size: network 0.0102, last frame 0.0451, blank frame 0.0352 (full size: 0.0014)
    assert results["network_mse"] < 0.6 * min(results["last_frame_mse"], results["blank_mse"])
    assert_pngs(tmp_path, "learning_curve.png")
    assert "last frame" in capsys.readouterr().out


def test_structured_data(tmp_path, capsys):
    results = run_quick("structured_data", tmp_path)        # 1,500 customers, 15 epochs
    # measured at quick size: mixed columns 0.841, numbers alone 0.775, always "stays" 0.762
    assert results["mixed_accuracy"] > results["numbers_accuracy"] + 0.03
    assert results["mixed_accuracy"] > results["stays_accuracy"] + 0.05
    assert results["customer_churn"] > 0.5          # a basic customer of a leaving city who calls a lot
    assert_pngs(tmp_path, "learning_curve.png")
    assert (tmp_path / "churn.npz").exists() and "mixed columns" in capsys.readouterr().out


def test_custom_training_loop(tmp_path, capsys):
    results = run_quick("custom_training_loop", tmp_path)        # 5 epochs
    # measured at quick size: test accuracy 0.928, the loop's and fit's alike
    loop, fit = results["loop"], results["fit"]
    assert loop["test_accuracy"] >= 0.85 and loop["test_accuracy"] == pytest.approx(fit["test_accuracy"], abs=0.006)
    assert len(loop["val_accuracy"]) == 5 and loop["loss"][-1] < loop["loss"][0]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):     # one tape step is fit's step
        np.testing.assert_allclose(loop[key], fit[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert_pngs(tmp_path, "learning_curve.png")
    assert "val_accuracy" in capsys.readouterr().out


def test_every_example_script_is_run_here():
    """Each script in examples/ has its test_<name> above, run at quick size (a new one without is caught)."""
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    assert scripts <= tested, sorted(scripts - tested)
