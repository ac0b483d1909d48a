"""Review of outputs given as a dict (glassnet._dictoutputs): a model of one output given as a dict,
``Model(inputs, {"only": tensor})``, where a tool around the model reads its predictions or
targets (the command line, decision boundaries, a Dask sweep's held-out part)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main

L = gn.layers


def _one_output_dict(units=3, activation="softmax", features=5):
    inputs = gn.Input((features,), name="x")
    hidden = L.Dense(6, activation="tanh", name="hidden")(inputs)
    return gn.Model(inputs, {"only": L.Dense(units, activation=activation, name="out")(hidden)}, seed=0)


def test_the_command_line_predicts_from_a_model_of_one_output_given_as_a_dict(tmp_path, capsys, rng):
    model = _one_output_dict()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.save(str(tmp_path / "m.npz"))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    # predict gave a dict, which the table took as one value ('>' between a dict and a float)
    status = main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.csv")])
    out, err = capsys.readouterr()
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "label,p0,p1,p2" and len(lines) == 5
    p = model.predict(x)["only"]
    assert [int(line.split(",")[0]) for line in lines[1:]] == p.argmax(axis=1).tolist()
    np.testing.assert_allclose([[float(v) for v in line.split(",")[1:]] for line in lines[1:]], p, rtol=1e-5)


def test_a_decision_boundary_is_drawn_from_a_model_of_one_output_given_as_a_dict(rng):
    pytest.importorskip("matplotlib", reason="needs the plot extra: pip install 'glassnet[plot]'")
    import matplotlib
    matplotlib.use("Agg")
    from glassnet import plot
    model = _one_output_dict(units=1, activation="sigmoid", features=2)
    X = rng.standard_normal((20, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    # refused before, as "returned 1 outputs" of several
    fig = plot.decision_boundary(model, X, y, resolution=20)
    assert fig is not None


@pytest.mark.parametrize("y_form", ["dict", "list"])
def test_a_dask_sweep_holds_out_the_targets_of_a_model_of_one_output_by_name(y_form, rng):
    pytest.importorskip("dask", reason="Dask not installed: pip install 'glassnet[dask]'")
    from glassnet.dask import sweep

    def build(units):
        model = _one_output_dict(units=units, activation="linear")
        model.compile(loss="mse", metrics=["mae"], optimizer=gn.optimizers.SGD(0.05))
        return model
    x = rng.standard_normal((24, 5)).astype(np.float32)
    targets = rng.standard_normal((24, 1)).astype(np.float32)
    # Keras' forms of one output's targets: {name: y} and [y]; the held-out part sliced the dict
    # (TypeError: unhashable slice) or the list of one array (a count of samples refused)
    y = {"only": targets} if y_form == "dict" else [targets]
    (result,) = sweep(build, {"units": [1]}, x, y, scheduler="sync",
                      fit_kwargs={"epochs": 2, "batch_size": 8, "shuffle": False, "validation_split": 0.25})
    assert result["error"] is None
    # evaluated on the part fit held out, with the trained weights: the last epoch's val_ values
    for key in ("val_loss", "val_mae"):
        assert result["metrics"][key] == pytest.approx(result["history"][key][-1], rel=1e-6), key
    trained = result.model()
    expected = trained.evaluate(x[:18], targets[:18], return_dict=True)
    assert result["metrics"]["loss"] == pytest.approx(expected["loss"], rel=1e-6)
