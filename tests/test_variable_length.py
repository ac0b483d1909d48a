"""Samples of any length along an axis: ``Input((None, features))``, Keras' None ("any size").

A model declared so is built once and reads, batch by batch, sequences (or images) of whatever
length each batch brings: a PyDataset that groups sequences by length, or predict on longer ones
than it trained on. Layers whose weights or output need the length refuse it by name when the
model is built.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers

from test_layer_contract import BATCH, TABLE

# layers that need every axis sized: the error says which and why
NEED_SIZES = {"Flatten", "Normalization", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
OPEN_FIRST_AXIS = sorted(name for name, (_, shape, _) in TABLE.items() if len(shape) >= 2)


def _input(layer, shape, seed):
    if getattr(layer, "discrete_input", False):
        return np.random.default_rng(seed).integers(0, getattr(layer, "input_dim", 8), (BATCH, *shape)).astype(np.float64)
    return np.random.default_rng(seed).standard_normal((BATCH, *shape))


@pytest.mark.parametrize("name", OPEN_FIRST_AXIS)
def test_a_layer_built_for_any_length_computes_what_it_computes_for_one(name):
    factory, shape, training = TABLE[name]

    def open_model():
        return gn.Sequential([layers.InputLayer((None, *shape[1:])), factory(dtype="float64", seed=0)],
                             seed=0, dtype="float64")

    if name in NEED_SIZES:
        with pytest.raises(ValueError, match=r"needs every axis of its input sized, got samples of shape \(None"):
            open_model()
        return
    for length in (shape[0], shape[0] + 2):
        model = open_model()            # each length from the same start (a random layer's draws too)
        assert model.input_shape[1] is None          # (after Keras' batch axis)
        layer = model.layers[0]
        fixed = gn.Sequential([layers.InputLayer((length, *shape[1:])), factory(dtype="float64", seed=0)],
                              seed=0, dtype="float64").layers[0]
        fixed.set_weights(layer.get_weights())
        # backward's cache is kept only where an input gradient is wanted (a model's first layer: not)
        layer.needs_input_gradient = fixed.needs_input_gradient = True
        x = _input(fixed, (length, *shape[1:]), length)
        out = model._forward(model._prepare_x(x), training=training)
        expected = fixed.forward(x, training=training)
        np.testing.assert_array_equal(out, expected)
        grad = np.random.default_rng(1).standard_normal(out.shape)
        np.testing.assert_array_equal(layer.backward(grad), fixed.backward(grad))
        for key in fixed.grads:
            np.testing.assert_array_equal(layer.grads[key], fixed.grads[key])


class _ByLength(gn.utils.PyDataset):
    """Batches of sequences grouped by length: batch i holds ``lengths[i]`` steps."""

    def __init__(self, x_by_length, y_by_length, w_by_length=None):
        super().__init__()
        self.x, self.y, self.w = x_by_length, y_by_length, w_by_length

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return (self.x[i], self.y[i]) if self.w is None else (self.x[i], self.y[i], self.w[i])


def test_a_model_for_any_length_trains_on_batches_of_several_lengths_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    lengths = [5, 9, 7, 5]
    xs = [rng.normal(size=(8, n, 3)).astype(np.float32) for n in lengths]
    ys = [(x.mean(axis=(1, 2)) > 0).astype(np.float32) for x in xs]
    ours = gn.Sequential([gn.Input((None, 3)), layers.LSTM(6, return_sequences=True),
                          layers.Conv1D(4, 3, padding="same", activation="relu"), layers.GlobalAveragePooling1D(),
                          layers.Dense(1, activation="sigmoid")], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.1, momentum=0.5))
    theirs = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(6, return_sequences=True),
                               keras.layers.Conv1D(4, 3, padding="same", activation="relu"),
                               keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.1, momentum=0.5))
    theirs.set_weights(ours.get_weights())
    history = ours.fit(_ByLength(xs, ys), epochs=2, shuffle=False, verbose=0).history["loss"]
    keras_history = theirs.fit(_KerasByLength(keras, xs, ys), epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(history, keras_history, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    longer = rng.normal(size=(5, 13, 3)).astype(np.float32)         # a length it never saw
    np.testing.assert_allclose(ours.predict(longer), theirs.predict(longer, verbose=0), rtol=1e-4, atol=1e-5)


def _KerasByLength(keras, xs, ys):
    class ByLength(keras.utils.PyDataset):
        def __len__(self):
            return len(xs)

        def __getitem__(self, i):
            return xs[i], ys[i]
    return ByLength()


def test_a_masked_tagger_for_any_length_with_weights_per_position(rng):
    lengths = [6, 4, 9]
    xs = [rng.integers(1, 12, (5, n)).astype(np.float32) for n in lengths]
    for x in xs:
        x[::2, -2:] = 0                                       # padding, masked by the Embedding
    ys = [rng.integers(0, 3, x.shape) for x in xs]
    ws = [rng.random(x.shape).astype(np.float32) for x in xs]
    model = gn.Sequential([gn.Input((None,)), layers.Embedding(12, 4, mask_zero=True),
                           layers.Bidirectional(layers.GRU(5, return_sequences=True)),
                           layers.TimeDistributed(layers.Dense(3, activation="softmax"))], seed=1)
    model.compile("sparse_categorical_crossentropy", "adam", metrics=["accuracy"])
    assert model.output_shape == (None, None, 3)
    model.fit(_ByLength(xs, ys, ws), epochs=2, verbose=0)
    # the same batch scored alone equals that batch in a model built for its length
    fixed = gn.Sequential([gn.Input((9,)), layers.Embedding(12, 4, mask_zero=True),
                           layers.Bidirectional(layers.GRU(5, return_sequences=True)),
                           layers.TimeDistributed(layers.Dense(3, activation="softmax"))], seed=1)
    fixed.compile("sparse_categorical_crossentropy", "adam", metrics=["accuracy"])
    fixed.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(xs[2]), fixed.predict(xs[2]))
    np.testing.assert_array_equal(model.evaluate(xs[2], ys[2], sample_weight=ws[2]),
                                  fixed.evaluate(xs[2], ys[2], sample_weight=ws[2]))
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(xs[2], ys[2], sample_weight=ws[1])           # weights of another length


def test_a_model_for_any_length_keeps_it_in_its_files_and_summary(tmp_path, rng):
    model = gn.Sequential([gn.Input((None, 2)), layers.SimpleRNN(3), layers.Dense(1)], seed=0)
    model.compile("mse", "sgd")
    x = rng.normal(size=(4, 6, 2)).astype(np.float32)
    model.fit(x, np.ones((4, 1), np.float32), epochs=1, verbose=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, None, 3)" not in lines[0] and "(None, 3)" in lines[0]
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.input_shape == (None, None, 2)
    longer = rng.normal(size=(2, 11, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(longer), model.predict(longer))
    assert gn.model_from_json(model.to_json()).input_shape == (None, None, 2)
    assert model.compute_output_shape((None, 17, 2)) == (None, 1)


def test_what_needs_a_length_says_so(rng):
    with pytest.raises(ValueError, match=r"dense.*weight 'kernel' has shape \(None, 4\).*give that axis a size"):
        gn.Sequential([gn.Input((None,)), layers.Dense(4)])
    with pytest.raises(ValueError, match="Flatten.*needs every axis of its input sized.*GlobalAveragePooling1D"):
        gn.Sequential([gn.Input((None, 3)), layers.Conv1D(2, 2), layers.Flatten()])
    model = gn.Sequential([gn.Input((None, 3)), layers.LSTM(2)])
    with pytest.raises(ValueError, match=r"samples of shape \(None, 3\), got samples of shape \(5, 4\)"):
        model.predict(np.zeros((2, 5, 4), np.float32))


class _Batches(gn.utils.PyDataset):
    def __init__(self, *columns):
        super().__init__()
        self.columns = columns

    def __len__(self):
        return len(self.columns[0])

    def __getitem__(self, i):
        return tuple(c[i] for c in self.columns)


def _tagger(mask_zero=False):
    model = gn.Sequential([gn.Input((None,)), layers.Embedding(12, 4, mask_zero=mask_zero),
                           layers.GRU(5, return_sequences=True), layers.Dense(3, activation="softmax")], seed=1)
    model.compile("sparse_categorical_crossentropy", "sgd", metrics=["accuracy"])
    return model


def test_sparse_per_position_accuracy_over_batches_of_several_lengths_is_per_sample_as_keras(rng):
    # Keras reduces a per-position metric per sample before averaging: each batch weighs its
    # samples, whatever its length (not its positions)
    xs = [rng.integers(1, 12, (5, n)).astype(np.float32) for n in (6, 4, 9)]
    ys = [rng.integers(0, 3, x.shape) for x in xs]
    model = _tagger()
    per_batch = [np.mean(model.predict(x, verbose=0).argmax(-1) == y) for x, y in zip(xs, ys)]
    expected = np.average(per_batch, weights=[len(x) for x in xs])       # Keras: 0.2667 here
    _, accuracy = model.evaluate(_Batches(xs, ys))
    assert accuracy == pytest.approx(expected, abs=1e-9)


def test_sparse_per_position_accuracy_matches_keras_on_batches_of_several_lengths(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    xs = [rng.integers(1, 12, (5, n)).astype(np.float32) for n in (6, 4, 9)]
    for x in xs:
        x[::2, -2:] = 0
    ys = [rng.integers(0, 3, x.shape) for x in xs]
    ours = _tagger(mask_zero=True)
    theirs = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(12, 4, mask_zero=True),
                               keras.layers.GRU(5, return_sequences=True),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    theirs.set_weights(ours.get_weights())

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return len(xs)

        def __getitem__(self, i):
            return xs[i], ys[i]
    np.testing.assert_allclose(ours.evaluate(_Batches(xs, ys)), theirs.evaluate(KerasBatches(), verbose=0),
                               rtol=1e-6)


def test_class_weight_on_an_output_whose_classes_are_the_open_axis_is_a_clear_error(rng):
    # a pointer over positions: softmax over the sequence, one label (a position) per sample
    model = gn.Sequential([gn.Input((None,)), layers.Softmax()], seed=0)
    model.compile("sparse_categorical_crossentropy", "sgd")
    x, y = rng.normal(size=(4, 5)).astype(np.float32), rng.integers(0, 5, 4)
    model.fit(x, y, verbose=0)                                  # trains
    with pytest.raises(ValueError, match="class_weight"):       # TypeError: int() ... 'NoneType'
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_a_layer_bug_is_not_reported_as_a_length_given_as_none():
    class Buggy(layers.Layer):
        def build(self, input_shape):
            self.add_weight("k", (input_shape[-1],), "zeros", bogus=1)     # a real TypeError
            super().build(input_shape)

        def forward(self, x, training=False):
            return x

    with pytest.raises(TypeError, match="bogus"):
        gn.Sequential([gn.Input((5, 3)), Buggy()])
    # the same bug after Input((None, 3)) is not taken for a length given as None
    with pytest.raises(TypeError, match="bogus"):
        gn.Sequential([gn.Input((None, 3)), Buggy()])


def test_cli_predict_on_a_model_for_any_length_says_why(tmp_path, capsys):
    from glassnet import cli
    model = gn.Sequential([gn.Input((None, 3)), layers.LSTM(2), layers.Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.save(tmp_path / "m.npz")
    np.savetxt(tmp_path / "x.csv", np.ones((2, 15)), delimiter=",")
    assert cli.main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "NoneType" not in err, err          # "unsupported operand type(s) for *: 'NoneType' and 'int'"


def test_feature_maps_takes_one_image_of_a_model_for_any_size(rng):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    model = gn.Sequential([gn.Input((None, None, 3)), layers.Conv2D(2, 3, name="c"),
                           layers.GlobalAveragePooling2D()], seed=0)
    image = rng.normal(size=(6, 6, 3)).astype(np.float32)
    plot.feature_maps(model, image[None], "c")           # a batch of one: fine
    plot.feature_maps(model, image, "c")                 # one image (H, W, C), as documented


def test_one_sample_without_its_batch_axis_gets_the_hint_for_a_model_for_any_length():
    model = gn.Sequential([gn.Input((None, 3)), layers.LSTM(2)], seed=0)
    with pytest.raises(ValueError, match="one sample needs a batch axis"):
        model.predict(np.zeros((7, 3), np.float32))


@pytest.mark.parametrize("make", [lambda: layers.PReLU(input_shape=(None, 3)),
                                  lambda: layers.Conv1DTranspose(2, 3, input_shape=(None, 3))],
                         ids=["PReLU", "Conv1DTranspose"])
def test_a_layer_alone_given_none_in_its_input_shape_refuses_it_by_name(make):
    with pytest.raises(ValueError, match="None"):
        make()(np.ones((2, 5, 3), np.float32))


def test_reshape_with_minus_one_takes_an_open_length_as_keras():
    # Keras 3.15: Input((None, 4)) -> Reshape((-1, 2)) -> (None, None, 2)
    model = gn.Sequential([gn.Input((None, 4)), layers.Reshape((-1, 2))])
    assert model.predict(np.ones((2, 5, 4), np.float32)).shape == (2, 10, 2)


def test_a_model_without_input_names_the_declaration_for_several_lengths(rng):
    # Keras builds such a model for any length; glassnet builds for the first batch's and says how
    xs = [rng.normal(size=(4, n, 3)).astype(np.float32) for n in (5, 7)]
    ys = [np.ones((4, 1), np.float32)] * 2
    model = gn.Sequential([layers.LSTM(2), layers.Dense(1)], seed=0)
    model.compile("mse", "sgd")
    with pytest.raises(ValueError, match=r"declare them with None, Input\(\(None, 3\)\)"):
        model.fit(_Batches(xs, ys), verbose=0)


def test_an_empty_sequence_is_named_as_such():
    model = gn.Sequential([gn.Input((None, 3)), layers.LSTM(2)], seed=0)
    with pytest.raises(ValueError, match=r"expected samples that hold values, got 2 empty ones"):
        model.predict(np.zeros((2, 0, 3), np.float32))
