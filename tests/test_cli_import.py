"""``glassnet info``/``predict --import MODULE``: a model file naming layers, losses or optimizers of the
user's own, and the errors that say how to give them (the library's own message names custom_objects=,
a Python argument the command line lacks)."""
import pickle
import sys
import textwrap

import numpy as np
import pytest

import glassnet as gn
from glassnet import saving
from glassnet.cli import main
from glassnet.layers.base import LAYERS

MODULE = textwrap.dedent('''
    import numpy as np
    import glassnet as gn

    class {prefix}Doubler(gn.layers.Layer):
        """2x, forward and backward: a layer of the user's own, registered as it is defined."""
        def forward(self, x, training=False):
            return 2 * x

        def backward(self, grad_output):
            return 2 * grad_output

    @gn.saving.register_serializable(package="{prefix}")
    class Halved(gn.losses.MeanSquaredError):
        """A loss class of the user's own, registered by name."""

    @gn.saving.register_serializable(package="{prefix}")
    class Plain(gn.optimizers.Optimizer):
        """w -= lr * g with a setting of its own, registered by name."""
        def __init__(self, learning_rate=0.01, scale=1.0, **options):
            super().__init__(learning_rate, **options)
            self.scale = scale

        def get_config(self):
            return {{**super().get_config(), "scale": self.scale}}

        def update(self, key, param, grad):
            param -= param.dtype.type(self.learning_rate * self.scale) * grad
''')


@pytest.fixture
def user_module(tmp_path, monkeypatch, request):
    """A module of the user's own in tmp_path, under a name of this test's: (name, path, prefix).
    Everything it registers, and the module itself, is forgotten after the test."""
    prefix = "Cli" + request.node.name.replace("_", "").replace("[", "").replace("]", "")[-24:]
    name = f"user_layers_{prefix.lower()}"
    path = tmp_path / f"{name}.py"
    path.write_text(MODULE.format(prefix=prefix))
    yield name, path, prefix
    sys.modules.pop(name, None)
    LAYERS.pop(f"{prefix}Doubler", None)
    for own in ("Halved", "Plain"):
        saving.get_custom_objects().pop(f"{prefix}>{own}", None)


def _save_model(module, path):
    """A model using the module's three objects, trained one step and saved to ``path``."""
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(2), getattr(module, [n for n in dir(module)
                                                                                        if n.endswith("Doubler")][0])()])
    model.compile(loss=module.Halved(), optimizer=module.Plain(scale=0.5))
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    model.save(path)
    return model


def _import_and_forget(name, path):
    """Import the user's module (as their own script would), save with it, then forget it again."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _forget(prefix):
    LAYERS.pop(f"{prefix}Doubler", None)
    for own in ("Halved", "Plain"):
        saving.get_custom_objects().pop(f"{prefix}>{own}", None)


def test_an_unknown_layer_names_the_import_option(user_module, tmp_path, capsys):
    name, path, prefix = user_module
    _save_model(_import_and_forget(name, path), tmp_path / "m.npz")
    _forget(prefix)
    np.savetxt(tmp_path / "x.csv", np.ones((2, 3)), delimiter=",")
    for argv in (["info", tmp_path / "m.npz"], ["predict", tmp_path / "m.npz", tmp_path / "x.csv"]):
        status = main([str(a) for a in argv])
        _, err = capsys.readouterr()
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert f"'{prefix}Doubler' is a class or function of your own" in err
        assert f"glassnet {argv[0]} --import MODULE" in err and "custom_objects" not in err


def test_import_by_path_and_by_name_reads_the_file(user_module, tmp_path, capsys, monkeypatch):
    name, path, prefix = user_module
    model = _save_model(_import_and_forget(name, path), tmp_path / "m.npz")
    _forget(prefix)
    np.savetxt(tmp_path / "x.csv", np.ones((2, 3)), delimiter=",")
    assert main(["info", str(tmp_path / "m.npz"), "--import", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    # the user's loss and optimizer, with their settings (info failed on them before: a dict + a str)
    assert f"loss: {prefix}>Halved(reduction=sum_over_batch_size)" in out
    assert f"optimizer: {prefix}>Plain(learning_rate=0.01, scale=0.5), 1 steps taken" in out
    _forget(prefix)
    sys.modules.pop(name, None)
    monkeypatch.chdir(tmp_path)     # a module name is found in the working folder, as `python -m` finds it
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert main(["predict", "m.npz", "x.csv", "--import", name]) == 0
    out, _ = capsys.readouterr()
    rows = np.array([line.split(",") for line in out.strip().splitlines()[1:]], dtype=float)
    np.testing.assert_allclose(rows, model.predict(np.ones((2, 3), np.float32)), rtol=1e-5)


def test_import_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "json.py").write_text("raise SystemExit('never run')\n")
    for module, words in (("no_such_module_for_glassnet", ["No module named 'no_such_module_for_glassnet'"]),
                          (str(tmp_path / "missing.py"), ["--import", "missing.py", "is not a file"]),
                          # a file named as a module already imported would take its place: refused, not run
                          (str(tmp_path / "json.py"), ["a module named 'json' is already imported"])):
        status = main(["info", str(tmp_path / "m.npz"), "--import", module])
        _, err = capsys.readouterr()
        assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
        for word in words:
            assert word in err


def test_load_model_names_what_it_lacks(user_module, tmp_path):
    name, path, prefix = user_module
    _save_model(_import_and_forget(name, path), tmp_path / "m.npz")
    _forget(prefix)
    with pytest.raises(gn.errors.UnknownObjectError, match=f"unknown layer class '{prefix}Doubler'") as caught:
        gn.load_model(tmp_path / "m.npz")
    assert caught.value.name == f"{prefix}Doubler" and isinstance(caught.value, gn.ModelFileError)
    assert str(caught.value).startswith(f"load_model({str(tmp_path / 'm.npz')!r}): ")
    # the layer given, the loss is what is missing: its own message, not "cannot compile the saved settings"
    module = _import_and_forget(name, path)
    saving.get_custom_objects().pop(f"{prefix}>Halved")
    with pytest.raises(gn.errors.UnknownObjectError, match=f"loss: '{prefix}>Halved' is not registered") as caught:
        gn.load_model(tmp_path / "m.npz", custom_objects={f"{prefix}>Plain": module.Plain})
    assert caught.value.name == f"{prefix}>Halved"
    assert gn.load_model(tmp_path / "m.npz", compile=False).loss is None


def test_the_error_pickles_with_its_name():
    # a Dask worker's error reaches the client pickled; the default rebuild passed the message alone
    error = pickle.loads(pickle.dumps(gn.errors.UnknownObjectError("load_model: 'X' unknown", "X")))
    assert type(error) is gn.errors.UnknownObjectError and error.name == "X" and str(error) == "load_model: 'X' unknown"
