"""Review filefuzz: mutation fuzzing of every file glassnet reads (model files, weights files,
Keras' .keras, .weights.h5 and legacy .h5, JSON configs, the CLI's info), each mutated case run in a
forked child under a memory limit and a timeout (the fuzzer lives outside the repository). A file
must load, or be refused with ModelFileError (a ValueError) naming the file and what is wrong:
never hang, never exhaust memory, never load a different model silently. The findings, each a
test here:

- a damaged HDF5 global heap (a free-space object of size 0: 16 zeroed bytes) made libhdf5 loop
  forever reading any variable-length string of that heap (h5py's ``attrs["model_config"]``, a
  ``vars`` group's ``name``): ``load_model`` of a legacy .h5 or a .keras, ``load_weights`` of a
  .weights.h5, ``KerasFileEditor`` and ``glassnet info`` hung in C code (no alarm stops it);
- ``load_weights`` of a Keras HDF5 weights file (.weights.h5, legacy .h5) holding a NaN in a later
  layer raised set_weights' ValueError, which named no file, after the earlier layers had taken
  the file's weights: a half-loaded model for whoever caught the error;
- ``KerasFileEditor`` read every dataset whole with no bound: a 20 KB .weights.h5 declaring a
  chunked dataset of shape (10**12,) (no chunk written) raised NumPy's MemoryError, one of
  (10**6,) read 4 MB of fill values chunk by chunk (minutes, gigabytes), and one dataset
  hard-linked many times was read once per link; each such dataset is now refused (every
  reader's walk), and the editor's refusals name the file as its other errors do; a damaged
  file's RuntimeError or OverflowError from h5py escaped it (it caught OSError and ValueError only);
- a model file of a Sequential holding a layer of the user's drawn from its call (its add_weight
  weights read by the nodes after them, "call_weight" operands) without the "graph" entry (a plain
  chain of the same nodes) loaded with those operands unlinked, and failed at its first predict
  ("the weight scale/w is not linked to its layer"); one naming a weight no layer holds too. Now
  linked (the same model: the chain is the graph) or refused at load;
- ``glassnet train --config`` of a TOML file nesting arrays 100,000 deep ended in a RecursionError
  traceback from tomllib, not the command's one-line error naming the file;
"""
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.errors import ModelFileError

from crafted_files import rewrite_config, within

pytest.importorskip("h5py")

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def _model():
    model = gn.Sequential([L.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    return model


def _zeroed_heap_object(data):
    """``data`` (HDF5 bytes) with the header of the second object of its first global heap
    collection zeroed: an index 0 (free space) of size 0."""
    start = data.find(b"GCOL")
    assert start != -1 and data[start + 4] == 1
    p = start + 16
    length = int.from_bytes(data[p + 8:p + 16], "little")
    p += 16 + (length + 7) // 8 * 8            # the next object's header
    return data[:p] + bytes(16) + data[p + 16:]


def _rezip_keras(path, weights):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] = weights
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_zeroed_global_heap_object_is_refused_not_an_endless_loop_in_libhdf5(tmp_path):
    model = _model()
    legacy, weights, keras_file = (str(tmp_path / n) for n in ("m.h5", "w.weights.h5", "m.keras"))
    model.save(legacy, save_format="h5")
    model.save_weights(weights)
    model.save(keras_file, save_format="keras")
    for path in (legacy, weights):
        with open(path, "rb") as f:
            data = _zeroed_heap_object(f.read())
        with open(path, "wb") as f:
            f.write(data)
    with zipfile.ZipFile(keras_file) as archive:
        _rezip_keras(keras_file, _zeroed_heap_object(archive.read("model.weights.h5")))
    # in a child: the loop was in C, where no alarm reaches; a hang is a timeout here
    script = textwrap.dedent(f"""
        import glassnet as gn
        from glassnet import layers as L
        from glassnet.errors import ModelFileError
        from glassnet.saving import KerasFileEditor
        model = gn.Sequential([L.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)], seed=0)
        for read in (lambda: gn.load_model({legacy!r}), lambda: gn.load_model({keras_file!r}),
                     lambda: model.load_weights({weights!r}), lambda: KerasFileEditor({weights!r})):
            try:
                read()
            except ModelFileError as exc:
                assert "a damaged HDF5 global heap" in str(exc), str(exc)
                print("refused:", exc)
            else:
                raise AssertionError("loaded")
    """)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("refused:") == 4
    assert f"load_model({legacy!r})" in done.stdout


def test_the_heap_check_passes_the_files_glassnet_and_keras_write(tmp_path, keras):
    model = _model()
    x = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    for name, save in (("m.h5", lambda p: model.save(p, save_format="h5")),
                       ("m.keras", lambda p: model.save(p, save_format="keras"))):
        path = str(tmp_path / name)
        save(path)
        np.testing.assert_allclose(gn.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu", name="a"),
                          keras.layers.Dense(2, name="b")])
    for name in ("k.h5", "k.keras"):
        path = str(tmp_path / name)
        k.save(path)
        np.testing.assert_allclose(gn.load_model(path).predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5)
    k.save_weights(str(tmp_path / "k.weights.h5"))
    ours = gn.Sequential([L.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)])
    ours.load_weights(str(tmp_path / "k.weights.h5"))
    np.testing.assert_allclose(ours.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5)


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_load_weights_of_an_h5_with_a_nan_in_a_later_layer_leaves_the_model_as_it_was(tmp_path, name):
    import h5py
    model, path = _model(), str(tmp_path / name)
    if name.endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path, save_format="h5")
    with h5py.File(path, "r+") as f:
        found = []
        f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and "optimizer" not in n else None)
        for n in found:
            f[n][...] = f[n][()] + 1.0          # every weight the file's, not the model's
        f[sorted(found)[-1]][...] = np.nan     # the last layer's bias (dense_1) NaN
    before = model.get_weights()
    with pytest.raises(ModelFileError, match=rf"load_weights\('{path}'\): .*dense_1.*NaN or infinite"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _editor_file(tmp_path, change):
    import h5py
    path = str(tmp_path / "w.weights.h5")
    _model().save_weights(path)
    with h5py.File(path, "r+") as f:
        change(f)
    return path


@pytest.mark.parametrize("shape", [(10 ** 12,), (10 ** 6,), (10 ** 6, 10 ** 6)])
def test_the_file_editor_refuses_a_dataset_whose_data_the_file_does_not_hold(tmp_path, shape):
    from glassnet.saving import KerasFileEditor

    def change(f):
        del f["layers/dense/vars/1"]
        f.create_dataset("layers/dense/vars/1", shape=shape, dtype="f4", chunks=(1,) * len(shape))
    path = _editor_file(tmp_path, change)
    with within(10), pytest.raises(ModelFileError, match=rf"KerasFileEditor\('{path}'\): .*dense/1: a dataset of "
                                                         rf"shape .* whose data the file holds 0 bytes"):
        KerasFileEditor(path)
    model = _model()
    with within(10), pytest.raises(ModelFileError, match=rf"load_weights\('{path}'\)"):
        model.load_weights(path)


def test_the_file_editor_refuses_a_dataset_linked_twice_and_names_the_file(tmp_path):
    from glassnet.saving import KerasFileEditor

    def change(f):
        for i in range(50):
            f[f"layers/dense/vars/extra{i}"] = f["layers/dense/vars/0"]
    path = _editor_file(tmp_path, change)
    with within(10), pytest.raises(ModelFileError, match=rf"KerasFileEditor\('{path}'\): the .weights.h5 file: "
                                                         rf".*a dataset met before under another name"):
        KerasFileEditor(path)

    def soft(f):
        f["layers/dense/vars/x"] = __import__("h5py").SoftLink("/layers/dense/vars/0")
    path = _editor_file(tmp_path, soft)       # the walk's other refusals name the file too
    with pytest.raises(ModelFileError, match=rf"KerasFileEditor\('{path}'\): the .weights.h5 file: .* SoftLink"):
        KerasFileEditor(path)
    with pytest.raises(FileNotFoundError):
        KerasFileEditor(str(tmp_path / "missing.weights.h5"))


@pytest.mark.parametrize("text", ["architecture = " + "[" * 100_000 + "]" * 100_000 + "\n",
                                  "[training]\nx = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n"])
def test_a_cli_config_nested_too_deeply_is_a_one_line_error_naming_it(tmp_path, capsys, text):
    from glassnet.cli import main
    config = tmp_path / "deep.toml"
    config.write_text(text)
    status = main(["train", "--config", str(config), "--epochs", "1", "--out", str(tmp_path / "out"), "--verbose", "0"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err[-500:]
    assert f"glassnet: error: {config}: not readable TOML: arrays or tables nested too deeply" in err


@pytest.mark.parametrize("position", [16, 48])       # the superblock: h5py's RuntimeError, OverflowError
def test_the_file_editor_refuses_a_damaged_file_whatever_h5py_raises(tmp_path, position):
    from glassnet.saving import KerasFileEditor
    path = str(tmp_path / "w.weights.h5")
    _model().save_weights(path)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[position] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(ModelFileError, match=rf"KerasFileEditor\('{path}'\): the .weights.h5 file: not a readable"):
        KerasFileEditor(path)
    with pytest.raises(ModelFileError, match=rf"load_weights\('{path}'\)"):
        _model().load_weights(path)


class _Scale(L.Layer):
    """A layer of the user's, drawn from its call: its add_weight weight is read by a multiply node."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * 1.5


def test_a_drawn_call_chain_without_its_graph_entry_links_its_weights_or_is_refused_at_load(tmp_path):
    model = gn.Sequential([L.Input((3,)), _Scale(name="scale"), L.Dense(2)], seed=0)
    path = str(tmp_path / "m.npz")
    model.save(path)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    rewrite_config(path, lambda c: c["model"].pop("graph"))
    np.testing.assert_array_equal(gn.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))

    def rename(config):
        for spec in config["model"]["layers"]:
            constant = spec["config"].get("constant")
            if isinstance(constant, dict) and "call_weight" in constant:
                constant["call_weight"][0] = "nobody"
    rewrite_config(path, rename)
    with pytest.raises(ModelFileError, match=r"reads the weight nobody/w, which no CallWeights layer of the model holds"):
        gn.load_model(path)
