"""save_weights of a model whose config a model file cannot store: a weights-only file (glassnet._weightsfile).

Keras' save_weights writes the weights alone, so it works for a Lambda, a TextVectorization with a
standardize function and a layer that does not rebuild from its config; glassnet's does too. The
file is read back by load_weights into the model built again by the same code, refused by
load_model by name, and checked as warily as a model file (truncated, corrupted, crafted)."""
import io
import json
import zipfile

import numpy as np
import pytest

import glassnet as gn
from crafted_files import rewrite_config
from glassnet import layers as L
from glassnet.callbacks import BackupAndRestore, ModelCheckpoint
from glassnet.cli import main


class Scale(L.Layer):
    """A layer of the user's own that takes an argument but keeps Layer's get_config: it does
    not rebuild from its config, so a model file cannot hold it (save_model refuses it)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

    def forward(self, x, training=False):
        self.x = x
        return x * self.w * self.factor

    def backward(self, grad_output):
        self.grads["w"][...] = (grad_output * self.x * self.factor).sum(axis=0)
        return grad_output * self.w * self.factor


class PortedScale(Scale):
    """A port of a Keras layer whose get_config says it has none (Keras' NotImplementedError)."""

    def get_config(self):
        raise NotImplementedError("PortedScale has no config")


def lambda_model(seed, units=4):
    """The code that draws the network: run twice, it gives two models of the same shapes."""
    # (first: a Lambda passes no gradient back, so nothing below it may learn)
    return gn.Sequential([L.Input((3,)), L.Lambda(lambda x: 2 * np.tanh(x)), L.Dense(units, activation="relu"),
                          L.BatchNormalization(), L.Dense(2)], seed=seed)


def custom_layer_model(seed):
    return gn.Sequential([L.Input((3,)), L.Dense(4), Scale(1.5), L.Dense(2)], seed=seed)


def ported_layer_model(seed):
    return gn.Sequential([L.Input((3,)), L.Dense(4), PortedScale(0.5), L.Dense(2)], seed=seed)


def lower_no_digits(text):          # a standardize of the user's own: code, which no file holds
    return "".join(c for c in text.lower() if not c.isdigit())


TEXTS = np.array(["The cat sat", "a dog ran 3 times", "THE DOG sat on the cat", "cats and dogs"])


def text_model(seed):
    vectorize = L.TextVectorization(max_tokens=20, output_sequence_length=6, standardize=lower_no_digits)
    vectorize.adapt(TEXTS)           # the same code adapts it to the same texts: the same vocabulary
    return gn.Sequential([L.Input((1,), dtype="string"), vectorize, L.Embedding(20, 3),
                          L.GlobalAveragePooling1D(), L.Dense(1)], seed=seed)


def trained(model, x, y, epochs=3):
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=epochs, batch_size=2, verbose=0)
    return model


@pytest.fixture
def data(rng):
    return rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)


@pytest.mark.parametrize("make", [lambda_model, custom_layer_model, ported_layer_model],
                         ids=["lambda", "custom_layer", "get_config_not_implemented"])
def test_save_weights_then_the_same_code_then_load_weights_predicts_the_same(tmp_path, data, make):
    x, y = data
    model = trained(make(seed=0), x, y)
    with pytest.raises((ValueError, TypeError, NotImplementedError)):
        model.save(tmp_path / "m.npz")          # a model file cannot store this config
    model.save_weights(tmp_path / "w.npz")
    again = make(seed=1)                        # other initial weights: the load must replace them all
    assert not np.array_equal(again.predict(x), model.predict(x))
    again.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    for a, b in zip(again.get_weights(), model.get_weights()):      # BatchNormalization's statistics too
        np.testing.assert_array_equal(a, b)


def test_text_vectorization_with_a_standardize_function(tmp_path):
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    model = trained(text_model(seed=0), TEXTS, y)
    model.save_weights(tmp_path / "w.npz")
    again = text_model(seed=1)
    again.load_weights(tmp_path / "w.npz")
    texts = np.array(["the cat 42", "dogs ran", "unknown words here"])
    np.testing.assert_array_equal(again.predict(texts), model.predict(texts))
    assert np.abs(model.predict(texts)).sum() > 0


def test_a_functional_model_with_a_lambda(tmp_path, data):
    x, y = data

    def make(seed):
        inputs = gn.Input((3,))
        both = L.Concatenate()([L.Lambda(lambda t: t * t)(inputs), L.Dense(4, seed=seed)(inputs)])
        return gn.Model(inputs, L.Dense(2, seed=seed)(both))
    model = trained(make(0), x, y)
    model.save_weights(tmp_path / "w.npz")
    again = make(1)
    again.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_load_model_refuses_it_by_name_and_says_what_to_do(tmp_path, data):
    model = trained(lambda_model(0), *data)
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(gn.ModelFileError, match=r"load_model\('.*w.npz'\): the file holds weights only .*build the "
                                                r"model in code and call model.load_weights\(path\)"):
        gn.load_model(tmp_path / "w.npz")


def test_a_model_whose_config_can_be_stored_still_gets_a_model_file(tmp_path, data):
    x, y = data
    model = trained(gn.Sequential([L.Input((3,)), L.Dense(4), L.Dense(2)], seed=0), x, y)
    model.save_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "w.npz").predict(x), model.predict(x))


def test_a_shape_mismatch_names_the_weight_and_writes_none(tmp_path, data):
    x, y = data
    model = trained(lambda_model(0), x, y)
    model.save_weights(tmp_path / "w.npz")
    wider = lambda_model(1, units=5)
    before = wider.get_weights()
    kernel = wider.layers[1].name           # the same code run again names its layers anew (dense_2...)
    with pytest.raises(ValueError, match=rf"load_weights\('.*w.npz'\): weights\[0\]: the model's {kernel}/kernel "
                                         rf"has shape \(3, 5\), the file's dense/kernel has \(3, 4\)"):
        wider.load_weights(tmp_path / "w.npz")
    for a, b in zip(before, wider.get_weights()):
        np.testing.assert_array_equal(a, b)
    fewer = gn.Sequential([L.Input((3,)), L.Dense(4), L.Dense(2)])
    with pytest.raises(ValueError, match=r"the model has 4 weights .*the file holds 8 \(dense/kernel, dense/bias, "
                                         r"batch_normalization/gamma"):
        fewer.load_weights(tmp_path / "w.npz")


def test_save_weights_refuses_an_unbuilt_model_and_nonfinite_weights(tmp_path, data):
    unbuilt = gn.Sequential([L.Lambda(lambda t: t + 1), L.Dense(2)])
    with pytest.raises(ValueError, match="save_weights: the model is not built.*holds a Python function"):
        unbuilt.save_weights(tmp_path / "u.npz")
    model = lambda_model(0)
    model.layers[1].params["bias"][0] = np.nan      # as a diverged fit leaves it (set_weights refuses NaN)
    with pytest.raises(ValueError, match=r"save_weights: weights\[1\] \(dense(_\d+)?/bias\) holds NaN"):
        model.save_weights(tmp_path / "nan.npz")
    assert not (tmp_path / "nan.npz").exists()


def test_a_list_of_weights_too_long_for_a_file_is_refused_before_writing(tmp_path, monkeypatch):
    from glassnet import _modelfile       # the limit load_weights reads files with
    model = lambda_model(0)
    monkeypatch.setattr(_modelfile, "MAX_CONFIG_BYTES", 300)
    with pytest.raises(ValueError, match=r"save_weights: the list of weights takes [\d,]+ bytes, more than a "
                                         r"file holds \(300\)"):
        model.save_weights(tmp_path / "w.npz")
    assert not list(tmp_path.iterdir())


def test_model_checkpoint_save_weights_only_during_fit(tmp_path, data, capsys):
    x, y = data
    model = lambda_model(0)
    model.compile(loss="mse", optimizer="adam")
    checkpoint = ModelCheckpoint(str(tmp_path / "w-{epoch}.npz"), save_weights_only=True)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-1.npz", "w-2.npz"]
    again = lambda_model(1)
    again.load_weights(tmp_path / "w-2.npz")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    again.load_weights(tmp_path / "w-1.npz")            # the first epoch's: another network's weights
    assert not np.array_equal(again.predict(x), model.predict(x))
    with pytest.raises(gn.ModelFileError, match="holds weights only"):
        gn.load_model(tmp_path / "w-2.npz")
    # glassnet info describes the file: what it is, why, its weights and the epochs it records
    assert main(["info", str(tmp_path / "w-2.npz")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("weights only: no model to show (the model's config could not be stored: layer lambda")
    assert "model.load_weights(path)" in out and "8 weights, 42 values:" in out
    assert f"  {model.layers[1].name}/kernel  (3, 4)  float32\n" in out and out.endswith("epochs trained: 2\n")


def test_backup_and_restore_refuses_such_a_model_saying_why_and_what_instead(tmp_path, data):
    model = lambda_model(0)
    model.compile(loss="mse", optimizer="adam")
    with pytest.raises(ValueError, match=r"BackupAndRestore: a backup is a whole model file .*holds a Python "
                                         r"function.*ModelCheckpoint\(path, save_weights_only=True\)"):
        model.fit(*data, epochs=1, verbose=0, callbacks=[BackupAndRestore(str(tmp_path / "b"))])
    assert not (tmp_path / "b").exists()


# -- damaged and crafted files ----------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path, data):
    """A weights-only file and a model of its shapes, whose weights must survive every refusal."""
    model = trained(lambda_model(0), *data)
    model.save_weights(tmp_path / "w.npz")
    target = lambda_model(1)
    return tmp_path / "w.npz", target, target.get_weights()


def refused(target, before, path, match):
    with pytest.raises(gn.ModelFileError, match=match):
        target.load_weights(path)
    for a, b in zip(before, target.get_weights()):      # nothing written
        np.testing.assert_array_equal(a, b)


def members_of(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_truncated_and_corrupted_files_are_refused(saved, tmp_path):
    path, target, before = saved
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    refused(target, before, tmp_path / "cut.npz", r"load_weights\('.*cut.npz'\): ")
    # one byte of a weight's data changed on disk: the zip's CRC-32 says so
    member = members_of(path)["weights/000.npy"]
    flipped = bytearray(data)
    flipped[data.index(member) + len(member) - 1] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    refused(target, before, tmp_path / "flip.npz", r"load_weights\('.*flip.npz'\): .*Bad CRC-32 for file 'weights/000.npy'")


@pytest.mark.parametrize("change, match", [
    (lambda c: c["weights"][0].update(shape=[30, 40]), r"weights\[0\]: the model's .* has shape \(3, 4\), "
                                                       r"the file's dense/kernel has \(30, 40\)"),
    (lambda c: c.update(format_version=2), "format_version 2 of a weights-only file was written by a newer"),
    (lambda c: c.update(format_version="1"), "invalid format_version"),
    (lambda c: c.pop("reason"), r"missing keys \['reason'\]"),
    (lambda c: c.update(model={}), r"unexpected keys \['model'\]"),
    (lambda c: c.update(epoch=-1), "epoch: expected a non-negative integer"),
    (lambda c: c["weights"][0].update(shape=[3, -4]), r"weights\[0\]: expected \{'layer'"),
    (lambda c: c["weights"][0].update(shape="(3, 4)"), r"weights\[0\]: expected \{'layer'"),
    (lambda c: c["weights"][0].update(code="import os"), r"weights\[0\]: expected \{'layer'"),
    (lambda c: c["weights"].append(c["weights"][0]), "members disagree with the config, which names 10"),
    (lambda c: c.update(weights={"n": 8}), "'weights' has the wrong type dict"),
    (lambda c: c.update(format="glassnet-weight"), "not a glassnet model file"),
])
def test_crafted_configs_are_refused_by_name(saved, tmp_path, change, match):
    path, target, before = saved
    rewrite_config(path, change, out=tmp_path / "crafted.npz")
    kind = ValueError if "has shape" in match else gn.ModelFileError      # a sound file of another network
    with pytest.raises(kind, match=match):
        target.load_weights(tmp_path / "crafted.npz")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_crafted_members_are_refused(saved, tmp_path):
    path, target, before = saved
    members = members_of(path)
    # the config and the model agree on (3, 4), the array's own header does not
    write_members(tmp_path / "h.npz", {**members, "weights/000.npy": npy(np.zeros((4, 3), np.float32))})
    refused(target, before, tmp_path / "h.npz", r"weights\[0\] \(dense/kernel\): the config says shape \(3, 4\), "
                                                r"the array's header \(4, 3\): a damaged or crafted file")
    # a header declaring far more than the member holds (a huge allocation from a small file)
    header = npy(np.zeros((3, 4), np.float32)).replace(b"(3, 4)", b"(3000000, 4000)")
    write_members(tmp_path / "big.npz", {**members, "weights/000.npy": header})
    refused(target, before, tmp_path / "big.npz", "does not match the member's .* data bytes")
    # never pickle: an object array
    write_members(tmp_path / "obj.npz", {**members, "weights/000.npy": npy(np.array([None] * 12).reshape(3, 4))})
    refused(target, before, tmp_path / "obj.npz", "not a plain numeric dtype")
    write_members(tmp_path / "zip.npz", members, zipfile.ZIP_DEFLATED)
    refused(target, before, tmp_path / "zip.npz", "is compressed")
    write_members(tmp_path / "extra.npz", {**members, "weights/999.npy": members["weights/000.npy"]})
    refused(target, before, tmp_path / "extra.npz", "members disagree with the config")
    write_members(tmp_path / "odd.npz", {**members, "evil.pkl": b"cos\nsystem\n"})
    refused(target, before, tmp_path / "odd.npz", "unexpected member 'evil.pkl'")
    # sound arrays of the right shapes, but NaN: load_weights refuses them by name (a ValueError)
    nan = np.full((3, 4), np.nan, np.float32)
    write_members(tmp_path / "nan.npz", {**members, "weights/000.npy": npy(nan)})
    with pytest.raises(ValueError, match=r"weights\[0\] \(.*/kernel\) holds NaN"):
        target.load_weights(tmp_path / "nan.npz")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_max_bytes_caps_a_weights_only_file(saved):
    path, target, before = saved
    with pytest.raises(gn.ModelFileError, match="larger than max_bytes=100"):
        target.load_weights(path, max_bytes=100)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_file_says_why_and_lists_every_weight(saved):
    path, _, _ = saved
    config = json.loads(np.lib.format.read_array(io.BytesIO(members_of(path)["config.npy"])).tobytes())
    assert config["format"] == "glassnet-weights" and config["format_version"] == 1
    assert config["reason"].startswith("layer lambda") and "Python function" in config["reason"]
    assert [(w["layer"], w["name"], w["shape"]) for w in config["weights"]][:3] == [
        ("dense", "kernel", [3, 4]), ("dense", "bias", [4]), ("batch_normalization", "gamma", [4])]
