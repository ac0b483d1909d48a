"""Review of the Keras-file reader (glassnet._keras_file, glassnet._keras_models): Keras 3.15 files and
configs it refused or misread, each compared with Keras itself."""
import json
import struct
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError


def test_nested_functional_model_of_several_inputs(keras):
    # Keras calls a nested model of two inputs with mask=[None, None]: a crash in glassnet
    L = keras.layers
    x, y = keras.Input((4,)), keras.Input((4,))
    inner = keras.Model([x, y], L.Add()([L.Dense(3)(x), L.Dense(3)(y)]), name="inner")
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], L.Dense(1)(inner([a, b])))
    assert '"mask": [null, null]' in model.to_json()
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(3, 4)).astype("float32") for _ in range(2)]
    ours = gn.models.model_from_json(model.to_json())
    ours.set_weights(model.get_weights())
    np.testing.assert_allclose(ours.predict(inputs), model.predict(inputs, verbose=0), atol=1e-5)


def test_loss_and_metric_objects_of_several_outputs(keras, tmp_path):
    # one loss (metric) object for two outputs: Keras' .keras file marks each copy with a
    # shared_object_id, which the compile_config's reading refused as "not a readable glassnet file"
    pytest.importorskip("h5py")
    L = keras.layers
    x = keras.Input((4,))
    model = keras.Model(x, [L.Dense(2, name="first")(x), L.Dense(1, name="second")(x)])
    loss, metric = keras.losses.MeanSquaredError(), keras.metrics.MeanAbsoluteError()
    model.compile(optimizer="sgd", loss=[loss, loss], metrics=[[metric], [metric]])
    model.save(tmp_path / "two.keras")
    assert "shared_object_id" in json.dumps(json.loads(zipfile.ZipFile(tmp_path / "two.keras").read("config.json"))
                                            ["compile_config"])
    ours = gn.load_model(tmp_path / "two.keras")
    rng = np.random.default_rng(1)
    inputs, targets = rng.normal(size=(5, 4)).astype("float32"), [rng.normal(size=(5, 2)), rng.normal(size=(5, 1))]
    expected = model.evaluate(inputs, targets, verbose=0)
    np.testing.assert_allclose(ours.evaluate(inputs, targets)[0], expected[0], rtol=1e-5)


def test_sgd_nesterov_at_zero_momentum_is_plain_sgd(keras, tmp_path):
    # Keras applies nesterov only with a momentum; its SGD(nesterov=True) at momentum 0 was refused
    pytest.importorskip("h5py")
    L = keras.layers
    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, nesterov=True), loss="mse")
    model.save(tmp_path / "sgd.keras")
    ours = gn.load_model(tmp_path / "sgd.keras")
    assert ours.optimizer.get_config()["nesterov"] is False
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    ours.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for theirs, mine in zip(model.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


def _declared_size(raw, name, size):
    """The zip ``raw`` with member ``name``'s declared (uncompressed) size set to ``size``, in its
    local header and the central directory."""
    raw, encoded = bytearray(raw), name.encode()
    for magic, size_at, name_len_at, name_at in ((b"PK\x01\x02", 24, 28, 46), (b"PK\x03\x04", 22, 26, 30)):
        i = raw.find(magic)
        while i >= 0:
            length = struct.unpack("<H", raw[i + name_len_at:i + name_len_at + 2])[0]
            if raw[i + name_at:i + name_at + length] == encoded:
                raw[i + size_at:i + size_at + 4] = struct.pack("<I", size)
            i = raw.find(magic, i + 4)
    return bytes(raw)


def test_member_shorter_than_declared_is_not_called_bad_json(tmp_path):
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": []}}
    path = tmp_path / "short.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"\0" * 64)
    path.write_bytes(_declared_size(path.read_bytes(), "config.json", 10_000))
    with pytest.raises(ModelFileError, match="holds fewer bytes than the 10000 it declares") as info:
        gn.load_model(path)
    assert "not UTF-8 JSON" not in str(info.value)
