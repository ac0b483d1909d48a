"""Review of the weights-only files (save_weights of a model whose config a file cannot store)."""
import io
import json
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.callbacks import BackupAndRestore, ModelCheckpoint
from glassnet.cli import main
from test_weights_only import lambda_model, ported_layer_model


def test_info_and_errors_escape_control_characters_of_a_crafted_files_names(tmp_path, capsys):
    # layer names never hold control characters (check_name: terminal escapes would reach whoever
    # inspects a file); a weights-only file's names come from its JSON, so they are shown escaped
    model = lambda_model(0)
    model.save_weights(tmp_path / "w.npz")
    with zipfile.ZipFile(tmp_path / "w.npz") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(np.lib.format.read_array(io.BytesIO(members["config.npy"])).tobytes())
    config["weights"][0]["layer"] = "\x1b[2J\x1b[31mdense"
    config["weights"][0]["name"] = "kernel\u202e\ud800"
    config["reason"] = "a reason\x1b]0;title\x07"
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(json.dumps(config).encode(), np.uint8))
    members["config.npy"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "crafted.npz", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert main(["info", str(tmp_path / "crafted.npz")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert r"  \x1b[2J\x1b[31mdense/kernel\u202e\ud800  (3, 4)  float32" in out
    assert r"a reason\x1b]0;title\x07" in out
    wider = lambda_model(1, units=5)
    with pytest.raises(ValueError, match=r"the file's \\x1b\[2J") as caught:
        wider.load_weights(tmp_path / "crafted.npz")
    assert "\x1b" not in str(caught.value)


def test_a_layer_whose_get_config_is_not_implemented_is_refused_by_name(tmp_path, rng):
    # Keras' get_config raises NotImplementedError for a layer that has not written one: save says
    # which layer and what to do, and BackupAndRestore explains itself as for any such model
    model = ported_layer_model(0)
    with pytest.raises(TypeError, match=r"save_model: layer ported_scale \(PortedScale\) has no get_config\(\) "
                                        r"\(PortedScale has no config\).*model.save_weights"):
        model.save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"to_json: layer ported_scale \(PortedScale\)"):
        model.to_json()
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"BackupAndRestore: a backup is a whole model file.*PortedScale"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(str(tmp_path / "b"))])
    with pytest.raises(TypeError, match=r"save_model: layer ported_scale"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "c.npz"))])
    model.save_weights(tmp_path / "w.npz")              # the weights alone, as before
    with pytest.raises(gn.ModelFileError, match="holds weights only"):
        gn.load_model(tmp_path / "w.npz")


def test_save_weights_names_itself_when_a_vocabulary_changed_width(tmp_path):
    texts = np.array(["a b c", "b c d"])
    vectorize = L.TextVectorization(output_mode="multi_hot", standardize=str.lower)
    vectorize.adapt(texts)
    model = gn.Sequential([L.Input((1,), dtype="string"), vectorize, L.Dense(1)], seed=0)
    vectorize.adapt(np.array(["x y z w q", "e r t"]))
    with pytest.raises(ValueError, match=r"^save_weights: layer text_vectorization \(TextVectorization\) now makes "
                                         r"samples of shape \(9,\), the model was built for \(5,\)"):
        model.save_weights(tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()
