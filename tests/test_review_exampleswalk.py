"""Review (walking docs/examples.md as a new user): the CLI's errors for a network whose output does
not fit the dataset's classes."""
import pytest

from glassnet.cli import main


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("argv, words", [
    # a categorical loss on seed 000's one sigmoid unit: the errors spoke of y's rows summing to 0 and
    # of sample_weight, or of labels in [0, 1); the focal one trained a loss that is always 0
    (["moons", "--loss", "categorical_crossentropy"], ["categorical_crossentropy", "1 unit", "2:softmax"]),
    (["moons", "--loss", "sparse_categorical_crossentropy"], ["sparse_categorical_crossentropy", "1 unit"]),
    (["moons", "--loss", "categorical_focal_crossentropy"], ["categorical_focal_crossentropy", "1 unit"]),
    # fewer output units than classes: the error told to use the metric 'mae', which the CLI cannot set
    (["iris", "--layers", "16:relu,1", "--loss", "mse"], ["1 unit", "3 classes", "3:softmax"]),
    (["iris", "--layers", "16:relu,2:softmax"], ["2 units", "3 classes", "3:softmax"]),
])
def test_train_refuses_an_output_that_does_not_fit_the_classes(argv, words, tmp_path, capsys):
    status, printed, err = run(capsys, "train", *argv, "--epochs", 2, "--verbose", 0, "--out", tmp_path)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("glassnet: error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    assert "sample_weight" not in lines[0] and "'mae'" not in lines[0]
    assert printed == ""
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("argv", [
    ["moons", "--layers", "4:relu,2:softmax", "--loss", "categorical_crossentropy"],   # one-hot, 2 units
    ["moons", "--loss", "mse"],                                    # one unit, two classes: 0/1 targets
    ["iris", "--layers", "8:relu,5:softmax"],                      # more units than classes: Keras allows it
])
def test_train_still_takes_outputs_that_fit(argv, tmp_path, capsys):
    status, _, err = run(capsys, "train", *argv, "--epochs", 1, "--verbose", 0, "--out", tmp_path)
    assert status == 0, err
