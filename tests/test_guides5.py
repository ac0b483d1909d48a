"""What guides4 left out: a layer of yours' saving hooks in Keras' files (.keras, .weights.h5), the
weights file of a block drawn from call in Keras' layout, a Variable set after build."""
import functools
import json
import zipfile

import h5py
import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError

from test_guides4 import _hooked_layers     # Keras' saving guide's two layers, in either library


@functools.cache
def _hooked(lib):
    """The guide's two layers registered as ``guides5>Name`` in ``lib`` (once per session)."""
    return _hooked_layers(lib, "guides5")


def _model(lib, table=(1.0, 2.0, 3.0), vocab="Mary had a <unk> lamb."):
    variable_layer, asset_layer = _hooked(lib)
    model = lib.Sequential([lib.Input((4,)), variable_layer(3), asset_layer(vocab=vocab, units=2)])
    model.layers[0].table = np.array(table, "float32")
    return model


X = np.random.default_rng(5).random((3, 4)).astype("float32")


# -- .keras files: the store in the layer's vars group, the assets under assets/<its group>/ --------
def test_glassnet_writes_the_hooks_where_keras_3_15_reads_them(keras, tmp_path):
    model = _model(gn)
    model.save(tmp_path / "m.keras", save_format="keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert "assets/layers/layer_with_custom_assets/vocabulary.txt" in archive.namelist()
        entries = json.loads(archive.read("config.json"))["config"]["layers"]
    assert [(e["class_name"], e["registered_name"]) for e in entries[1:]] == [
        ("LayerWithCustomVariable", "guides5>LayerWithCustomVariable"),
        ("LayerWithCustomAssets", "guides5>LayerWithCustomAssets")]
    _hooked(keras)
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.layers[0].table, [1.0, 2.0, 3.0])
    assert loaded.layers[1].vocab == "Mary had a little lamb."        # through Keras' load_assets
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


def test_glassnet_reads_keras_3_15s_file_through_the_hooks(keras, tmp_path):
    model = _model(keras, table=(4.0, 5.0, 6.0))
    model.save(tmp_path / "k.keras")
    _hooked(gn)
    loaded = gn.load_model(tmp_path / "k.keras")
    np.testing.assert_array_equal(loaded.layers[0].table, [4.0, 5.0, 6.0])
    assert loaded.layers[1].vocab == "Mary had a little lamb."
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)
    # and glassnet's file of it, read back by glassnet, the same
    loaded.save(tmp_path / "again.keras", save_format="keras")
    again = gn.load_model(tmp_path / "again.keras")
    np.testing.assert_array_equal(again.layers[0].table, [4.0, 5.0, 6.0])
    assert again.layers[1].vocab == "Mary had a little lamb."


def test_the_same_vars_group_as_keras_writes(keras, tmp_path):
    """Both files' model.weights.h5 hold the same datasets (the store's "table" beside 0 and 1)."""
    def datasets(path):
        with zipfile.ZipFile(path) as archive, h5py.File(__import__("io").BytesIO(archive.read("model.weights.h5"))) as h5:
            found = {}
            h5.visititems(lambda name, obj: found.update({name: obj[()]}) if isinstance(obj, h5py.Dataset) else None)
        return found
    g, k = _model(gn), _model(keras)
    k.set_weights(g.get_weights())
    g.save(tmp_path / "g.keras", save_format="keras")
    k.save(tmp_path / "k.keras")
    ours, theirs = datasets(tmp_path / "g.keras"), datasets(tmp_path / "k.keras")
    assert sorted(ours) == sorted(theirs)
    assert "layers/layer_with_custom_variable/vars/table" in ours
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])


def test_an_unregistered_layer_class_is_refused_by_the_keras_writer(tmp_path):
    class Plain(gn.layers.Dense):
        pass
    model = gn.Sequential([gn.Input((4,)), Plain(3)])
    with pytest.raises(ValueError, match=r"Plain is a layer class of yours, not registered: register it with "
                                         r"glassnet.saving.register_serializable"):
        model.save(tmp_path / "p.keras", save_format="keras")
    assert not (tmp_path / "p.keras").exists()


def test_what_no_layer_reads_is_refused(tmp_path):
    """A crafted file: a store for a layer without hooks, an asset no layer takes."""
    _hooked(gn)
    model = _model(gn)
    model.save(tmp_path / "m.keras", save_format="keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}

    def write(name, changed):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            for member, data in {**members, **changed}.items():
                archive.writestr(member, data)
        return tmp_path / name
    stray = write("asset.keras", {"assets/layers/nobody/notes.txt": b"x"})
    with pytest.raises(ModelFileError, match=r"assets that no lookup layer .* nor layer of yours \(load_assets\) reads: "
                                             r"\['assets/layers/nobody/notes.txt'\]"):
        gn.load_model(stray)
    # the asset layer (no store hooks) given a store
    import io
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "a") as h5:
        h5["layers/layer_with_custom_assets/vars"].create_dataset("extra", data=np.zeros(2))
    stored = write("store.keras", {"model.weights.h5": buffer.getvalue()})
    with pytest.raises(ModelFileError, match=r"layer 'layer_with_custom_assets': its vars hold \['0', '1', 'extra'\], "
                                             r"a store of save_own_variables, which LayerWithCustomAssets does not read"):
        gn.load_model(stored)


# -- .weights.h5: Keras 3.15's calls save_own_variables (the store), never save_assets ---------------
def test_weights_h5_keeps_the_store_as_keras_3_15s_does(keras, tmp_path):
    source = _model(keras, table=(7.0, 8.0, 9.0))
    source.save_weights(tmp_path / "k.weights.h5")
    with h5py.File(tmp_path / "k.weights.h5") as h5:
        assert sorted(h5["layers/layer_with_custom_variable/vars"]) == ["0", "1", "table"]     # Keras' own
    target = _model(gn, table=(0.0, 0.0, 0.0), vocab="unchanged")
    target.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_array_equal(target.layers[0].table, [7.0, 8.0, 9.0])
    assert target.layers[1].vocab == "unchanged"            # no assets in a weights file, as in Keras
    np.testing.assert_allclose(target.predict(X, verbose=0), source.predict(X, verbose=0), rtol=1e-6, atol=1e-7)
    # the other way
    target.layers[0].table = np.array([1.5, 2.5, 3.5], "float32")
    target.save_weights(tmp_path / "g.weights.h5")
    back = _model(keras, table=(0.0, 0.0, 0.0))
    back.load_weights(tmp_path / "g.weights.h5")
    np.testing.assert_array_equal(back.layers[0].table, [1.5, 2.5, 3.5])
    np.testing.assert_allclose(back.predict(X, verbose=0), target.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


def test_glassnets_own_weights_file_refuses_the_hooks_by_name(tmp_path):
    model = _model(gn)
    with pytest.raises(TypeError, match=r"save_weights\('.*w.npz'\): layer 'layer_with_custom_variable' "
                                        r"\(LayerWithCustomVariable\) defines \['save_own_variables', "
                                        r"'load_own_variables'\], Keras' saving hooks"):
        model.save_weights(tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()


# -- a block drawn from call: its .weights.h5 in Keras' layout (its attributes, its own vars) -------
def _block(lib):
    class Block(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seq = lib.Sequential([lib.layers.Dense(4), lib.layers.Dense(3)])
            self.head = lib.layers.Dense(2)
            self.parts = [lib.layers.Dense(2), [lib.layers.Dense(2)], {"a": lib.layers.Dense(2)}]
            self._hidden = lib.layers.Dense(2)
            self.w = lib.Variable(np.full((2,), 1.5, "float32"), name="w")

        def call(self, x):
            h = self.head(self.seq(x)) * self.w
            h = self.parts[2]["a"](self.parts[1][0](self.parts[0](h)))
            return self._hidden(h)
    model = Block()
    model(np.ones((1, 5), "float32"))
    return model


def _datasets(path):
    found = {}
    with h5py.File(path) as h5:
        # (groups and datasets' shapes: the vars' name attributes are each library's automatic layer
        # names, which depend on how many layers a session made before)
        h5.visititems(lambda name, obj: found.update({name: obj.shape if isinstance(obj, h5py.Dataset) else None}))
    return found


def test_a_blocks_weights_file_has_keras_3_15s_layout_both_ways(keras, tmp_path):
    x = np.random.default_rng(3).random((4, 5)).astype("float32")
    theirs = _block(keras)
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours = _block(gn)
    ours.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.save_weights(tmp_path / "g.weights.h5")
    layout = _datasets(tmp_path / "g.weights.h5")
    assert "head/vars/0" in layout and "layers/sequential/layers/dense_1/vars/1" in layout and "vars/0" in layout
    assert layout == _datasets(tmp_path / "k.weights.h5")      # groups, datasets' shapes: Keras'
    # other values, written by glassnet, read by Keras 3.15
    rng = np.random.default_rng(4)
    ours.set_weights([rng.normal(size=w.shape).astype("float32") for w in ours.get_weights()])
    ours.save_weights(tmp_path / "g.weights.h5")
    again = _block(keras)
    again.load_weights(tmp_path / "g.weights.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_blocks_weights_file_of_another_layout_is_refused(tmp_path):
    ours = _block(gn)
    ours.save_weights(tmp_path / "g.weights.h5")
    with h5py.File(tmp_path / "g.weights.h5", "a") as h5:
        h5.move("head", "tail")
    with pytest.raises(ModelFileError, match=r"not Keras 3's .weights.h5 layout of this model .* found \['layers', "
                                             r"'tail', 'vars'\]"):
        _block(gn).load_weights(tmp_path / "g.weights.h5")


# -- gn.Variables no file keeps: set after build (Keras refuses), or integers (glassnet's weights are floats)
class _Late(gn.layers.Layer):
    def build(self, input_shape):
        self.k = self.add_weight("k", (input_shape[-1], 2))
        self.count = gn.Variable(np.int32(0), name="count", dtype="int32")

    def forward(self, x, training=False):
        return x @ self.k

    def output_shape(self, input_shape):
        return (*input_shape[:-1], 2)


def test_keras_refuses_a_variable_set_after_build(keras):
    """The oracle for the warning below: Keras 3.15 refuses the assignment itself."""
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="You cannot add new elements of state"):
        layer.late = keras.Variable(np.ones(2, "float32"), name="late")


def test_saving_names_the_variables_no_file_keeps(tmp_path):
    model = gn.Sequential([gn.Input((3,)), _Late(name="late")])
    model.build()
    model.layers[0].extra = gn.Variable(np.ones(2, "float32"), name="extra")
    with pytest.warns(UserWarning) as caught:
        model.save(tmp_path / "m.npz")
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert messages[0].startswith("save_model: 'late' holds the gn.Variable 'count' (attribute 'count') that is no "
                                  "weight of it: its dtype int32 is no float")
    assert messages[1].startswith("save_model: 'late' holds the gn.Variable 'extra' (attribute 'extra') that is no "
                                  "weight of it: it was set after the layer was built (Keras 3.15 refuses that")
    assert caught[0].filename == __file__           # pointing at the save
    with pytest.warns(UserWarning) as caught:
        model.save_weights(tmp_path / "w.weights.h5")
    assert sorted(str(w.message).split(" (attribute")[0] for w in caught) == [
        "save_weights: 'late' holds the gn.Variable 'count'", "save_weights: 'late' holds the gn.Variable 'extra'"]
    assert [w.shape for w in gn.load_model(tmp_path / "m.npz").get_weights()] == [(3, 2)]     # neither kept


def test_a_variable_made_in_build_warns_of_nothing(tmp_path):
    import warnings

    class Scaled(gn.layers.Dense):
        def build(self, input_shape):
            super().build(input_shape)
            self.scale = gn.Variable(np.full(self.units, 2.0, "float32"), name="scale")
    model = gn.Sequential([gn.Input((3,)), Scaled(2)])
    model.build()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(tmp_path / "m.npz")
    assert len(gn.load_model(tmp_path / "m.npz").get_weights()) == 3       # adopted: a weight, kept


def test_the_legacy_h5_writer_still_refuses_a_registered_class_of_yours(tmp_path):
    """Keras 3.15's legacy loader looks the class up by its class name, not its registered name
    (measured: "Unknown layer: 'VarDense'" for glassnet's file of it), and calls no hook."""
    model = _model(gn)
    with pytest.raises(ValueError, match=r"save_model: .h5: 'layer_with_custom_variable': "
                                         r"'guides5>LayerWithCustomVariable' is a layer class of yours"):
        model.save(tmp_path / "m.h5", save_format="h5")
    assert not (tmp_path / "m.h5").exists()


def test_a_variable_a_sequential_subclass_holds_is_named_too(tmp_path):
    class Annealed(gn.Sequential):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.beta = gn.Variable(np.float32(1.0), name="beta")
    model = Annealed([gn.Input((3,)), gn.layers.Dense(2)])
    model.build()
    with pytest.warns(UserWarning, match=r"save_model: 'annealed' holds the gn.Variable 'beta' \(attribute 'beta'\) "
                                         r"that is no weight of it: a model not drawn from call holds it"):
        model.save(tmp_path / "m.npz")
