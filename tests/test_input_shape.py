"""``gn.Input(shape).shape`` is Keras' ``(None, *shape)`` (``(batch_size, *shape)`` when one was
given), as a layer's output's is: Keras code that reads ``inputs.shape[1]`` (a positional
embedding's sequence length) reads the same axis whether it was drawn on an Input or on a layer's
output. Each shape beside Keras 3.15's, and a keras.io-style positional embedding drawn both ways
predicting what Keras predicts from the same weights."""
import copy

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.gradcheck import check_model
from glassnet.layers.input import InputLayer


@pytest.fixture(autouse=True)
def _fresh_names(request):
    # default names from 0 in both libraries, whatever ran before
    if "keras" in request.fixturenames:
        request.getfixturevalue("keras").backend.clear_session()
    yield
    gn.utils.clear_session()


INPUTS = [dict(shape=(5, 3)), dict(shape=(10,)), dict(shape=(None, 3)), dict(shape=(4, 4, 2)),
          dict(shape=(10,), batch_size=32), dict(batch_shape=(8, None, 3)), dict(batch_shape=(None, 7)),
          dict(shape=(6,), dtype="int32"), dict(shape=(), dtype="string")]


@pytest.mark.parametrize("kwargs", INPUTS, ids=str)
def test_an_input_s_shape_is_keras(kwargs, keras):
    ours, theirs = gn.Input(**kwargs), keras.Input(**kwargs)
    assert ours.shape == tuple(theirs.shape)
    assert len(ours.shape) == ours.ndim == theirs.ndim == len(theirs.shape)
    assert ours.shape[-1] == theirs.shape[-1] and ours.shape[0] == theirs.shape[0]
    # the sample shape stays at hand: the shape without its batch axis
    assert ours.sample_shape == tuple(theirs.shape[1:]) == ours.shape[1:]


def test_keras_scalar_input_keeps_glassnet_s_sample_axis(keras):
    # documented difference: Keras' shape=() is one number per sample, glassnet's (1,)
    assert keras.Input(()).shape == (None,)
    assert gn.Input(()).shape == (None, 1) and gn.Input(()).ndim == 2


@pytest.mark.parametrize("shape", [(5, 3), (None, 3), (7,)])
def test_an_input_and_a_layer_s_output_read_the_same_axes(shape, keras):
    ours_in, theirs_in = gn.Input(shape), keras.Input(shape)
    ours_out, theirs_out = gn.layers.Dense(4)(ours_in), keras.layers.Dense(4)(theirs_in)
    assert ours_out.shape == tuple(theirs_out.shape) and ours_out.ndim == theirs_out.ndim
    # the axes before the last are the Input's: the same positions in both
    assert ours_in.shape[:-1] == ours_out.shape[:-1] == tuple(theirs_in.shape[:-1])
    assert ops.shape(ours_in) == ours_in.shape == tuple(keras.ops.shape(theirs_in))


def test_a_functional_model_s_inputs_and_outputs_shapes_are_keras(keras):
    models = []
    for lib in (gn, keras):
        x = lib.Input((5, 3), name="seq")
        models.append(lib.Model(x, lib.layers.Dense(4)(x)))
    ours, theirs = models
    assert ours.inputs[0].shape == ours.input.shape == tuple(theirs.inputs[0].shape) == (None, 5, 3)
    assert ours.outputs[0].shape == tuple(theirs.outputs[0].shape) == (None, 5, 4)
    # a model's input_shape/output_shape have Keras' batch axis too (tests/test_model_shape.py)
    assert ours.input_shape == tuple(theirs.input_shape) == (None, 5, 3)
    assert ours.output_shape == tuple(theirs.output_shape) == (None, 5, 4)


@pytest.mark.parametrize("way", ["input", "input_shape", "build"])
def test_a_sequential_s_input_shape_is_keras_whichever_way_it_was_built(way, keras):
    models = []
    for lib in (gn, keras):
        if way == "input":
            model = lib.Sequential([lib.Input((5, 3)), lib.layers.Dense(2)])
        elif way == "input_shape":
            with pytest.warns(UserWarning) if lib is keras else _nothing():
                model = lib.Sequential([lib.layers.Dense(2, input_shape=(5, 3))])
        else:
            model = lib.Sequential([lib.layers.Dense(2)])
            model.build((None, 5, 3))
        models.append(model)
    ours, theirs = models
    assert ours.inputs[0].shape == tuple(theirs.inputs[0].shape) == (None, 5, 3)
    assert ours.layers[0].input.shape == tuple(theirs.layers[0].input.shape)
    assert ours.outputs[0].shape == tuple(theirs.outputs[0].shape) == (None, 5, 2)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_dict_inputs_shapes_are_keras(keras):
    shapes = {"ids": (6,), "seq": (None, 3), "image": (4, 4, 2)}
    for lib in (gn, keras):
        inputs = {k: lib.Input(s, name=k) for k, s in shapes.items()}
        if lib is gn:
            ours = {k: t.shape for k, t in inputs.items()}
        else:
            theirs = {k: tuple(t.shape) for k, t in inputs.items()}
    assert ours == theirs == {k: (None, *s) for k, s in shapes.items()}


def test_an_input_s_shape_is_read_only_and_survives_copies_and_files(tmp_path):
    x = gn.Input((5, 3), name="seq")
    with pytest.raises(AttributeError):
        x.shape = (5, 3)
    assert copy.deepcopy(x).shape == (None, 5, 3)
    model = gn.Model(x, gn.layers.Dense(2)(x), seed=0)
    path = str(tmp_path / "m.npz")
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.inputs[0].shape == (None, 5, 3) and loaded.input_shape == (None, 5, 3)
    again = gn.Model.from_config(model.get_config())
    assert again.inputs[0].shape == (None, 5, 3)
    data = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_an_input_pickled_with_the_old_sample_shape_reads_back():
    # before, the sample shape was kept as the attribute "shape": a state of then loads
    old = InputLayer.__new__(InputLayer)
    old.__setstate__({"shape": (5, 3), "batch_size": None, "name": "seq", "_auto_named": False,
                      "dtype": None})
    assert old.sample_shape == (5, 3) and old.shape == (None, 5, 3) and old.dtype == "float32"


# -- a keras.io-style positional embedding, its call reading the steps from the tensor's shape -------
def _position_classes(lib, kops):
    class AddPositions(lib.layers.Layer):
        """keras.io's learned positions, added to (batch, steps, dim): ``x.shape[1]`` steps."""

        def __init__(self, maxlen, read="shape", **kwargs):
            super().__init__(**kwargs)
            self.maxlen, self.read = maxlen, read

        def build(self, input_shape):
            self.pos = self.add_weight(shape=(self.maxlen, input_shape[-1]), initializer="glorot_uniform",
                                       name="positions")

        def call(self, x):
            steps = x.shape[1] if self.read == "shape" else kops.shape(x)[1]
            return x + self.pos[:steps]

    class TokenAndPositionEmbedding(lib.layers.Layer):
        """keras.io's TokenAndPositionEmbedding, its length read as ``inputs.shape[1]``; the
        positions given the batch axis by ``x * 0 +`` (glassnet's arange is a constant)."""

        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = lib.layers.Embedding(vocab_size, embed_dim)
            self.pos_emb = lib.layers.Embedding(maxlen, embed_dim)

        def call(self, x):
            maxlen = x.shape[1]
            positions = self.pos_emb(x * 0 + kops.arange(0, maxlen, 1))
            return self.token_emb(x) + positions

    return AddPositions, TokenAndPositionEmbedding


def _same_weights(ours, theirs):
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])


@pytest.mark.parametrize("read", ["shape", "ops.shape"])
@pytest.mark.parametrize("on", ["input", "layer_output", "sequential"])
def test_a_positional_embedding_reading_the_steps_predicts_as_keras(read, on, keras):
    # 6 steps of 4 features, a table of 9 positions: reading shape[1] of the sample (4) fails
    models = []
    for lib, kops in ((gn, ops), (keras, keras.ops)):
        AddPositions, _ = _position_classes(lib, kops)
        if on == "sequential":
            model = lib.Sequential([lib.Input((6, 4)), AddPositions(9, read), lib.layers.Dense(2)])
        else:
            inputs = lib.Input((6, 4))
            x = inputs if on == "input" else lib.layers.Dense(4)(inputs)
            model = lib.Model(inputs, lib.layers.Dense(2)(AddPositions(9, read)(x)))
        models.append(model)
    ours, theirs = models
    _same_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((5, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("on", ["input", "layer_output", "sequential"])
def test_a_weightless_layer_reading_the_steps_predicts_as_keras(on, keras):
    # a layer with no build of its own is called on the Input itself (one with a build, above, on
    # the tensor its weights are added to): x.shape[1] read the features (4) there before
    def last_minus_first(lib):
        class LastMinusFirst(lib.layers.Layer):
            def call(self, x):
                steps = x.shape[1]
                return x[:, steps - 1] - x[:, 0]
        return LastMinusFirst()

    models = []
    for lib in (gn, keras):
        if on == "sequential":
            model = lib.Sequential([lib.Input((6, 4)), last_minus_first(lib), lib.layers.Dense(2)])
        else:
            inputs = lib.Input((6, 4))
            x = inputs if on == "input" else lib.layers.Dense(3)(inputs)
            model = lib.Model(inputs, lib.layers.Dense(2)(last_minus_first(lib)(x)))
        models.append(model)
    ours, theirs = models
    _same_weights(ours, theirs)
    x = np.random.default_rng(4).standard_normal((5, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_keras_io_token_and_position_embedding_on_an_input_predicts_as_keras(keras):
    models = []
    for lib, kops in ((gn, ops), (keras, keras.ops)):
        _, TokenAndPositionEmbedding = _position_classes(lib, kops)
        inputs = lib.Input((7,), dtype="int32")
        x = TokenAndPositionEmbedding(7, 20, 4)(inputs)
        models.append(lib.Model(inputs, lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(x))))
    ours, theirs = models
    _same_weights(ours, theirs)
    ids = np.random.default_rng(1).integers(0, 20, size=(5, 7)).astype(np.int32)
    np.testing.assert_allclose(ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_subclass_call_reading_the_steps_of_its_input_predicts_as_keras(keras):
    def subclass(lib):
        class LastStep(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense = lib.layers.Dense(2)

            def call(self, inputs):
                steps = inputs.shape[1]            # drawn on the Input: Keras' (None, 6, 4)
                return self.dense(inputs[:, steps - 1] - inputs[:, 0])
        return LastStep()

    ours, theirs = subclass(gn), subclass(keras)
    x = np.random.default_rng(2).standard_normal((3, 6, 4)).astype(np.float32)
    theirs(x)
    ours.build((None, 6, 4))
    _same_weights(ours, theirs)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_the_positional_embedding_on_an_input_has_the_gradients_of_finite_differences():
    AddPositions, _ = _position_classes(gn, ops)
    inputs = gn.Input((6, 4))
    model = gn.Model(inputs, gn.layers.Dense(2)(gn.layers.Flatten()(AddPositions(9)(inputs))),
                     seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(3)
    report = check_model(model, rng.standard_normal((5, 6, 4)), rng.standard_normal((5, 2)))
    assert report["max_error"] < 1e-6 and not report.get("skipped")
