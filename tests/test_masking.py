"""Masks (Embedding(mask_zero=True), Masking): the recurrent layers, Bidirectional and
GlobalAveragePooling1D against Keras 3.15 given the same mask, their gradients by finite differences
and against PyTorch's packed sequences, whole models trained against Keras, how a model plans the
mask (which layers pass it on, drop it with a warning, or are refused), and model files."""
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck
from glassnet.io import load_model
from glassnet.layers import (GRU, LSTM, BatchNormalization, Bidirectional, Dense, Dropout, Embedding, Flatten,
                             GlobalAveragePooling1D, Masking, SimpleRNN, Softmax, TimeDistributed)

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RECURRENT = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
SETTINGS = [{}, {"return_sequences": True}, {"go_backwards": True}, {"zero_output_for_mask": True},
            {"return_sequences": True, "zero_output_for_mask": True},
            {"return_sequences": True, "go_backwards": True, "zero_output_for_mask": True}]


def _mask(rng, n=4, steps=6):
    """Holes anywhere, a sample with every step real, one with none, one right-padded."""
    mask = rng.random((n, steps)) > 0.4
    mask[0], mask[1], mask[2, 3:] = True, False, False
    return mask


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_outputs_match_keras_given_a_mask(name, settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, mask = rng.normal(size=(4, 6, 3)).astype(np.float32), _mask(rng)
    ours = RECURRENT[name](5, seed=0, bias_initializer="random_normal", **settings)
    out = ours(x, mask=mask)
    theirs = getattr(keras.layers, name)(5, **settings)
    theirs.build((None, 6, 3))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x, mask=mask)), rtol=1e-5, atol=2e-6)
    # and the mask matters: every step real is another answer
    assert not np.allclose(out, ours(x))


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_gradients_with_a_mask_agree_with_finite_differences(name, settings, rng):
    x, mask = rng.normal(size=(4, 6, 3)), _mask(rng)
    layer = RECURRENT[name](5, seed=0, dtype="float64", bias_initializer="random_normal", **settings)
    # the mask a model would hand on, before every pass of the check
    report = gradcheck.check_layer(layer, x, before_forward=lambda: setattr(layer, "pending_mask", mask))
    assert report["max_error"] < 1e-6


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_right_padded_gradients_match_torch_packed_sequences(name, rng, torch):
    """PyTorch's packed sequences skip each sample's padding at the end: its last state is the one
    a mask keeps, and its padded outputs are zeros (``zero_output_for_mask``)."""
    from test_recurrent import _torch_module
    lengths = np.array([6, 4, 1, 3])
    mask = np.arange(6) < lengths[:, None]
    x = rng.normal(size=(4, 6, 3))
    layer = RECURRENT[name](5, return_sequences=True, zero_output_for_mask=True, dtype="float64", seed=1,
                            bias_initializer="random_normal")
    out = layer(x, mask=mask)
    grad_out = rng.normal(size=out.shape)
    grad_x = layer.backward(grad_out)
    module, order = _torch_module(torch, name, layer)
    tx = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    theirs, _ = torch.nn.utils.rnn.pad_packed_sequence(module(packed)[0], batch_first=True, total_length=6)
    theirs.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    kernel_grad = module.weight_ih_l0.grad.numpy().T
    if order is not None:
        kernel_grad = kernel_grad[:, np.argsort(order)]
    np.testing.assert_allclose(layer.grads["kernel"], kernel_grad, rtol=1e-10, atol=1e-12)
    # the last real state, without return_sequences
    last = RECURRENT[name](5, dtype="float64", seed=1, bias_initializer="random_normal")
    np.testing.assert_allclose(last(x, mask=mask), out[np.arange(4), lengths - 1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_matches_keras_given_a_mask(merge_mode, return_sequences, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, mask = rng.normal(size=(4, 6, 3)).astype(np.float32), _mask(rng)
    ours = Bidirectional(LSTM(5, return_sequences=return_sequences), merge_mode=merge_mode, seed=0)
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=return_sequences), merge_mode=merge_mode)
    out = ours(x, mask=mask)
    theirs.build((None, 6, 3))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x, mask=mask)), rtol=1e-5, atol=2e-6)
    # Keras' rule: each direction outputs zeros at masked steps when it returns sequences
    assert ours.forward_layer.zero_output_for_mask is return_sequences


def test_bidirectional_gradients_with_a_mask_agree_with_finite_differences(rng):
    x, mask = rng.normal(size=(4, 6, 3)), _mask(rng)
    layer = Bidirectional(GRU(4, return_sequences=True), dtype="float64", seed=0)
    report = gradcheck.check_layer(layer, x, before_forward=lambda: setattr(layer, "pending_mask", mask))
    assert report["max_error"] < 1e-6


def test_global_average_pooling_averages_the_real_steps_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, mask = rng.normal(size=(4, 6, 3)).astype(np.float32), _mask(rng)
    mask[1, 2] = True                   # Keras divides 0 by 0 for a sample with no real step
    out = GlobalAveragePooling1D()(x, mask=mask)
    np.testing.assert_allclose(out, np.asarray(keras.layers.GlobalAveragePooling1D()(x, mask=mask)), rtol=1e-6)
    np.testing.assert_allclose(out[2], x[2][mask[2]].mean(axis=0), rtol=1e-6)


def test_global_average_pooling_with_no_real_step_gives_zeros_and_its_gradient_checks(rng):
    x, mask = rng.normal(size=(4, 6, 3)), _mask(rng)
    layer = GlobalAveragePooling1D(dtype="float64")
    assert np.array_equal(layer(x, mask=mask)[1], np.zeros(3))
    report = gradcheck.check_layer(layer, x, before_forward=lambda: setattr(layer, "pending_mask", mask))
    assert report["max_error"] < 1e-6


def test_masking_zeroes_the_masked_steps_and_their_gradient_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.5
    x[1, 1, 0] = 0.5                    # one feature alone is not padding
    layer = Masking(0.5)
    out = layer(x)
    np.testing.assert_array_equal(out, np.asarray(keras.layers.Masking(0.5)(x)))
    assert layer.compute_mask(x).tolist() == [[True] * 3 + [False] * 2, [True] * 5, [True] * 5]
    grad = layer.backward(np.ones_like(x))
    assert np.array_equal(grad[0, 3:], np.zeros((2, 2))) and np.array_equal(grad[1:], np.ones((2, 5, 2)))


def _sequences(rng, n=32, steps=7, vocab=12):
    """Right-padded ids (0 is padding) and a label that depends on the real ids only."""
    lengths = rng.integers(2, steps + 1, n)
    x = rng.integers(1, vocab, (n, steps))
    x[np.arange(steps) >= lengths[:, None]] = 0
    y = (np.where(x > 0, x, 0).sum(axis=1) / lengths > vocab / 2).astype(np.float32)
    return x, y


def _keras_twin(keras, ours, keras_layers):
    theirs = keras.Sequential([keras.Input(ours.input_shape[1:], dtype="int32" if isinstance(ours.layers[0], Embedding)
                                           else "float32"), *keras_layers])
    theirs.set_weights(ours.get_weights())
    return theirs


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_an_embedding_with_mask_zero_then_a_recurrent_layer_trains_as_keras(name, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _sequences(rng)
    ours = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)), RECURRENT[name](5),
                          Dense(1, activation="sigmoid")], seed=0)
    theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 4, mask_zero=True), getattr(keras.layers, name)(5),
                                       keras.layers.Dense(1, activation="sigmoid")])
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5))
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the padding changes nothing: more of it, same predictions
    longer = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(10,)), RECURRENT[name](5),
                            Dense(1, activation="sigmoid")])
    longer.set_weights(ours.get_weights())
    np.testing.assert_allclose(longer.predict(np.pad(x, ((0, 0), (0, 3)))), ours.predict(x), rtol=1e-5, atol=1e-6)


def test_a_mask_passes_dense_and_dropout_to_a_bidirectional_layer_and_pooling_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _sequences(rng)
    ours = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)), Dense(6, activation="tanh"),
                          Dropout(0.0), Bidirectional(GRU(3, return_sequences=True)), GlobalAveragePooling1D(),
                          Dense(1, activation="sigmoid")], seed=0)
    assert ours._mask_plan == ((ours.layers[0], (ours.layers[3], ours.layers[4])),)
    theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 4, mask_zero=True),
                                       keras.layers.Dense(6, activation="tanh"), keras.layers.Dropout(0.0),
                                       keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True)),
                                       keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5))
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_masking_layer_feeds_an_lstm_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(6, 5, 3)).astype(np.float32)
    x[:3, 3:] = 0.0
    ours = gn.Sequential([Masking(input_shape=(5, 3)), LSTM(4, return_sequences=True), LSTM(2)], seed=0)
    theirs = _keras_twin(keras, ours, [keras.layers.Masking(), keras.layers.LSTM(4, return_sequences=True),
                                       keras.layers.LSTM(2)])
    assert ours._mask_plan == ((ours.layers[0], (ours.layers[1], ours.layers[2])),)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_layer_that_does_not_support_masking_drops_the_mask_with_keras_warning(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    # drawn on its Input, the chain warns once, in Keras 3.15's words (glassnet._block_masks)
    with pytest.warns(UserWarning, match=r"Layer 'flatten' \(of type Flatten\) was passed an input with a mask"):
        ours = gn.Sequential([Embedding(12, 2, mask_zero=True, input_shape=(7,)), Flatten(),
                              Dense(1, activation="sigmoid")], seed=0)
    assert ours._mask_plan == ()
    x, _ = _sequences(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Keras' own warning, at its first call
        theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 2, mask_zero=True), keras.layers.Flatten(),
                                           keras.layers.Dense(1, activation="sigmoid")])
        expected = theirs.predict(x, verbose=0)
    np.testing.assert_allclose(ours.predict(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer, message", [
    (lambda: BatchNormalization(), "out of its batch statistics"),
    (lambda: Softmax(), "takes the mask as its own")])
def test_layers_that_keras_feeds_the_mask_to_but_glassnet_cannot_are_refused(layer, message):
    with pytest.raises(ValueError, match=message):
        gn.Sequential([Embedding(12, 2, mask_zero=True, input_shape=(7,)), layer(), LSTM(2)])


@pytest.mark.parametrize("mask_zero", [True, False])
def test_a_tagger_trains_on_labels_per_step_as_keras_counting_the_real_steps_alone(mask_zero, rng):
    """Keras' masked loss is the mean over the batch's real steps, its metrics count them alone;
    sample weights weigh each step as its sample (Keras 3.15 takes them as (n, 1) there)."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, _ = _sequences(rng)
    y = x % 4                                   # a class per step
    w = rng.random(32).astype(np.float32)
    ours = gn.Sequential([Embedding(12, 5, mask_zero=mask_zero, input_shape=(7,)), LSTM(6, return_sequences=True),
                          Dense(4, activation="softmax")], seed=0)
    theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 5, mask_zero=mask_zero),
                                       keras.layers.LSTM(6, return_sequences=True),
                                       keras.layers.Dense(4, activation="softmax")])
    ours.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.5), metrics=["accuracy"])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    np.testing.assert_allclose(ours.evaluate(x, y), theirs.evaluate(x, y, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=w), theirs.evaluate(x, y, sample_weight=w[:, None],
                                                                                    verbose=0), rtol=1e-6)
    ours_history = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, sample_weight=w).history
    theirs_history = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, sample_weight=w[:, None]).history
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(ours_history[key], theirs_history[key], rtol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    if mask_zero:          # the padding changes nothing: a different class there, same loss
        assert ours.evaluate(x, np.where(x == 0, 3, y)) == ours.evaluate(x, np.where(x == 0, 0, y))


def test_one_hot_targets_per_step_with_a_mask_train_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, _ = _sequences(rng)
    y = np.eye(3, dtype=np.float32)[x % 3]
    ours = gn.Sequential([Embedding(12, 5, mask_zero=True, input_shape=(7,)), GRU(4, return_sequences=True),
                          Dense(3, activation="softmax")], seed=0)
    theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 5, mask_zero=True),
                                       keras.layers.GRU(4, return_sequences=True), keras.layers.Dense(3, activation="softmax")])
    ours.compile("categorical_crossentropy", gn.optimizers.SGD(0.5), metrics=["categorical_accuracy"])
    theirs.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.5), metrics=["categorical_accuracy"])
    ours_history = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    theirs_history = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    for key in ("loss", "categorical_accuracy"):
        np.testing.assert_allclose(ours_history[key], theirs_history[key], rtol=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_labels_per_pixel_train_a_segmenter_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 6, 6, 2)).astype(np.float32)
    y = (x[..., 0] > 0).astype(np.int64) + (x[..., 1] > 1)
    ours = gn.Sequential([gn.layers.Conv2D(3, 3, padding="same", activation="softmax", input_shape=(6, 6, 2))], seed=0)
    theirs = _keras_twin(keras, ours, [keras.layers.Conv2D(3, 3, padding="same", activation="softmax")])
    ours.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.5), metrics=["accuracy"])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    ours_history = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    theirs_history = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(ours_history[key], theirs_history[key], rtol=1e-5)
    with pytest.raises(ValueError, match=r"y: sparse_categorical_crossentropy takes one class label per position "
                                         r"of the model's output \(n_samples, 6, 6, 3\), an array of shape "
                                         r"\(n_samples, 6, 6\); got shape \(16, 6\)"):
        ours.fit(x, y[:, 0], verbose=0)


def test_a_masked_tagger_traces_and_its_gradient_checks(rng):
    x, _ = _sequences(rng, n=6)
    y = x % 3
    model = gn.Sequential([Embedding(12, 3, mask_zero=True, input_shape=(7,)), SimpleRNN(4, return_sequences=True),
                           Dense(3, activation="softmax")], seed=0, dtype="float64")
    model.compile("sparse_categorical_crossentropy", "sgd")
    assert gradcheck.check_model(model, x, y)["max_error"] < 1e-6
    record = model.trace(x, y)[-1]
    assert np.array_equal(record["dA"][x == 0], np.zeros(((x == 0).sum(), 3)))     # no gradient at padding
    assert np.abs(record["dA"][x != 0]).sum(axis=1).min() > 0
    assert model.predict(x).shape == (6, 7, 3)


def test_a_mask_belongs_to_one_pass_of_its_model(rng):
    """A layer called alone reads no mask but the one it is given: not the last pass's, nor one
    its maker made alone; and a maker shared with another model keeps each model's plan."""
    model = gn.Sequential([Embedding(12, 2, mask_zero=True, input_shape=(7,)), LSTM(3)], seed=0)
    x, _ = _sequences(rng)
    embedding, lstm = model.layers
    expected = model.predict(x)
    assert lstm.pending_mask is None and embedding.mask_readers == ()
    vectors = embedding(x)                   # alone: hands nothing on
    unmasked = lstm(vectors)
    np.testing.assert_array_equal(unmasked, lstm(vectors, mask=np.ones(x.shape, bool)))
    assert not np.allclose(unmasked, expected)
    np.testing.assert_allclose(lstm(vectors, mask=x != 0), expected, rtol=1e-6)
    other = gn.Sequential([embedding, GRU(2)])        # shares the maker: its own plan
    gn.Sequential([embedding])
    np.testing.assert_array_equal(model.predict(x), expected)
    assert other.predict(x).shape == (32, 2) and model.layers[1].pending_mask is None
    model.compile("mse", "sgd")
    model.fit(x, np.zeros((32, 3)), verbose=0)
    assert not model.layers[0].grads["embeddings"][0].any()      # the padding's row: no gradient


def test_time_distributed_hands_a_mask_within_each_step_to_the_layer_it_wraps_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.integers(1, 12, (4, 5, 6))
    x[:, :, 4:] = 0
    x[0, :, 2:] = 0
    ours = gn.Sequential([Embedding(12, 3, mask_zero=True, input_shape=(5, 6)),
                          TimeDistributed(GlobalAveragePooling1D()), Flatten(), Dense(1)], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Keras' own: its TimeDistributed passes the mask to Flatten
        theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 3, mask_zero=True),
                                           keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling1D()),
                                           keras.layers.Flatten(), keras.layers.Dense(1)])
        expected = theirs.predict(x, verbose=0)
    np.testing.assert_allclose(ours.predict(x), expected, rtol=1e-5, atol=1e-6)
    tagger = gn.Sequential([Embedding(12, 3, mask_zero=True, input_shape=(5, 6)), TimeDistributed(LSTM(2)), LSTM(2)])
    assert tagger._mask_plan == ((tagger.layers[0], (tagger.layers[1],)),)     # the inner LSTM ends it
    assert tagger.predict(x).shape == (4, 2)


def test_time_distributed_passes_the_mask_of_the_steps_past_any_layer_it_wraps_as_keras(rng):
    """Keras' TimeDistributed passes a (batch, steps) mask on whatever it wraps: a Flatten, which
    alone would end the mask, sees one step at a time there."""
    x, _ = _sequences(rng, n=6)
    ours = gn.Sequential([Embedding(12, 3, mask_zero=True, input_shape=(7,)), TimeDistributed(Flatten()), LSTM(2)],
                         seed=0)
    assert ours._mask_plan == ((ours.layers[0], (ours.layers[1], ours.layers[2])),)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 3, mask_zero=True),
                                       keras.layers.TimeDistributed(keras.layers.Flatten()), keras.layers.LSTM(2)])
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_refused_layer_does_not_join_and_keras_warning_comes_once_per_layer(rng):
    model = gn.Sequential([Embedding(12, 2, mask_zero=True, input_shape=(7,))])
    with pytest.raises(ValueError, match="out of its batch statistics"):
        model.add(BatchNormalization())
    assert len(model.layers) == 1
    with pytest.warns(UserWarning, match="does not support masking") as caught:
        model.add(Flatten())
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # adding the layers after it warns no more
        model.add(Dense(2))
        model.add(Dense(1))
    assert len(caught) == 1


def test_masking_an_infinite_value_gives_zeros_not_nan():
    x = np.array([[[np.inf, np.inf], [1.0, 2.0]]], dtype=np.float32)
    layer = Masking(np.inf)
    assert layer(x).tolist() == [[[0.0, 0.0], [1.0, 2.0]]]
    assert layer.backward(np.ones_like(x)).tolist() == [[[0.0, 0.0], [1.0, 1.0]]]


def test_masks_follow_predict_batches_of_every_size(rng):
    model = gn.Sequential([Embedding(12, 2, mask_zero=True, input_shape=(7,)), GRU(3)], seed=0)
    x, _ = _sequences(rng, n=11)
    whole = model.predict(x, batch_size=11)
    np.testing.assert_allclose(model.predict(x, batch_size=4), whole, rtol=1e-6)
    for i in range(11):
        np.testing.assert_allclose(model.predict(x[i:i + 1]), whole[i:i + 1], rtol=1e-5, atol=1e-7)


def test_a_mask_given_by_hand_is_checked(rng):
    layer, x = LSTM(2), rng.normal(size=(2, 4, 3))
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, steps\) = \(2, 4\) of the input \(2, 4, 3\), "
                                         r"got shape \(4,\)"):
        layer(x, mask=np.ones(4, bool))
    with pytest.raises(ValueError, match="mask must hold booleans"):
        layer(x, mask=np.full((2, 4), 0.5))
    np.testing.assert_array_equal(layer(x, mask=np.ones((2, 4))), layer(x))
    with pytest.raises(TypeError, match=r"dense \(Dense\)|Dense: takes no mask"):
        Dense(2)(x, mask=np.ones((2, 4), bool))


def test_time_distributed_passes_a_mask_on_but_refuses_to_wrap_a_maker():
    model = gn.Sequential([Embedding(12, 2, mask_zero=True, input_shape=(7,)), TimeDistributed(Dense(3)), LSTM(2)])
    assert model._mask_plan == ((model.layers[0], (model.layers[1], model.layers[2])),)
    with pytest.raises(ValueError, match="makes a mask, which would not leave the wrapper"):
        TimeDistributed(Embedding(5, 2, mask_zero=True))
    with pytest.raises(TypeError, match="mask_value must be a number"):
        Masking("0")


def test_masked_models_round_trip_through_model_files(rng, tmp_path):
    x, y = _sequences(rng)
    model = gn.Sequential([Embedding(12, 3, mask_zero=True, input_shape=(7,)),
                           Bidirectional(LSTM(2, return_sequences=True)), SimpleRNN(2, zero_output_for_mask=True),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "adam")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.layers[0].mask_zero and loaded.layers[2].zero_output_for_mask
    assert loaded._mask_plan == ((loaded.layers[0], (loaded.layers[1], loaded.layers[2])),)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    dense = rng.normal(size=(5, 4, 2)).astype(np.float32)
    dense[:2, 2:] = -1.0
    masked = gn.Sequential([Masking(-1.0, input_shape=(4, 2)), GRU(2)], seed=0)
    masked.save(tmp_path / "k.npz")
    again = load_model(tmp_path / "k.npz")
    assert again.layers[0].mask_value == -1.0
    np.testing.assert_array_equal(again.predict(dense), masked.predict(dense))


def test_a_masked_model_gradient_agrees_with_finite_differences(rng):
    x, y = _sequences(rng, n=8)
    model = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)),
                           Bidirectional(GRU(3, return_sequences=True)), GlobalAveragePooling1D(),
                           Dense(1, activation="sigmoid")], seed=0, dtype="float64")
    model.compile("binary_crossentropy", "sgd")
    assert gradcheck.check_model(model, x, y)["max_error"] < 1e-6
    # and the padding's row of the table gets no gradient: every layer after it skipped the padding
    model._loss_and_gradients(x.astype(np.float64), y[:, None])
    assert np.array_equal(model.layers[0].grads["embeddings"][0], np.zeros(4))


PER_STEP_LOSSES = [("sparse_categorical_crossentropy", 3, "softmax", "accuracy"),
                   ("binary_crossentropy", 1, "sigmoid", "binary_accuracy"), ("mse", 1, None, "mae")]


@pytest.mark.parametrize("loss, units, activation, metric", PER_STEP_LOSSES, ids=[p[0] for p in PER_STEP_LOSSES])
def test_a_batch_of_padding_alone_scores_zero_and_changes_nothing_as_keras(loss, units, activation, metric, rng):
    """Every step of a batch masked: nothing to score. Keras' loss and metrics are 0 there and its
    gradient zero; an epoch's values weigh such a batch 0."""
    x, _ = _sequences(rng)
    x[8:16] = 0                                              # the second batch of 8: padding alone
    y = x % 3 if units == 3 else (x % 2)[..., None].astype(np.float32)
    ours = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)), LSTM(5, return_sequences=True),
                          Dense(units, activation=activation)], seed=0)
    ours.compile(loss, gn.optimizers.SGD(0.5), metrics=[metric])
    before = ours.get_weights()
    assert ours.test_on_batch(x[8:16], y[8:16]) == [0.0, 0.0]
    assert ours.train_on_batch(x[8:16], y[8:16]) == [0.0, 0.0]
    assert ours.evaluate(x[8:16], y[8:16], batch_size=4) == [0.0, 0.0]
    for a, b in zip(ours.get_weights(), before):
        np.testing.assert_array_equal(a, b)                 # a zero gradient: SGD moved nothing
    evaluated = ours.evaluate(x, y, batch_size=8)
    history = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    assert np.isfinite(evaluated).all() and np.isfinite(history["loss"]).all()
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = _keras_twin(keras, gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)),
                                               LSTM(5, return_sequences=True), Dense(units, activation=activation)],
                                              seed=0),
                         [keras.layers.Embedding(12, 4, mask_zero=True), keras.layers.LSTM(5, return_sequences=True),
                          keras.layers.Dense(units, activation=activation)])
    theirs.compile(loss=loss, optimizer=keras.optimizers.SGD(0.5), metrics=[metric])
    np.testing.assert_allclose(theirs.test_on_batch(x[8:16], y[8:16]), [0.0, 0.0])
    np.testing.assert_allclose(evaluated, theirs.evaluate(x, y, batch_size=8, verbose=0), rtol=1e-5)
    theirs_history = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    for key in ("loss", metric):
        np.testing.assert_allclose(history[key], theirs_history[key], rtol=1e-5)


def test_precision_and_recall_count_the_real_steps_alone(rng):
    """Unlike Keras' confusion-matrix metrics, which ignore the mask, glassnet's count the real
    steps, as every other metric does (docs/layers.md, Masks)."""
    x, _ = _sequences(rng)
    y = (x % 2)[..., None].astype(np.float32)
    y[x == 0] = 1.0                                 # padding labelled 1: counted, it would change both
    model = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)), LSTM(5, return_sequences=True),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "sgd", metrics=[gn.metrics.Precision(), gn.metrics.Recall()])
    real = x > 0
    predicted, truth = model.predict(x)[real][:, 0] > 0.5, y[real][:, 0] == 1
    true_positives = (predicted & truth).sum()
    np.testing.assert_allclose(model.evaluate(x, y)[1:], [true_positives / predicted.sum(),
                                                          true_positives / truth.sum()], rtol=1e-6)


@pytest.mark.parametrize("wrapped", [gn.layers.GlobalMaxPooling1D, GlobalAveragePooling1D, Flatten],
                         ids=["GlobalMaxPooling1D", "GlobalAveragePooling1D", "Flatten"])
def test_a_mask_within_the_steps_ends_at_a_time_distributed_layer_that_drops_those_axes(wrapped, rng):
    """Ids (n, T, L) give a mask (n, T, L); past TimeDistributed(GlobalMaxPooling1D()) the steps have
    no L axis, so the mask ends there (Keras hands it on, and its next layer fails on it): the
    LSTM after it reads every step, as in the same model without mask_zero (a wrapped
    GlobalAveragePooling1D reads the mask first)."""
    x = rng.integers(0, 6, (4, 3, 5))
    x[:, 2] = 0                                  # a whole step of padding: a mask would skip it

    def model(mask_zero):
        return gn.Sequential([Embedding(6, 2, mask_zero=mask_zero, input_shape=(3, 5)), TimeDistributed(wrapped()),
                              LSTM(2), Dense(3, activation="softmax")], seed=0)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        masked = model(True)
    # the padding then counts as data: said, as Keras says it of a layer that drops a mask, unless the
    # wrapped layer reads the mask itself
    warned = [str(w.message) for w in caught if "cannot hand on a mask within the steps" in str(w.message)]
    assert len(warned) == (wrapped is not GlobalAveragePooling1D)
    assert masked._mask_plan == ((masked.layers[0], (masked.layers[1],)),)
    if wrapped is not GlobalAveragePooling1D:       # which itself reads the mask within each step
        np.testing.assert_array_equal(masked.predict(x), model(False).predict(x))
    masked.compile("sparse_categorical_crossentropy", "sgd")
    assert np.isfinite(masked.fit(x, np.zeros(4, int), verbose=0).history["loss"]).all()
    # a layer that keeps the mask within each step (Dense) passes it on
    kept = gn.Sequential([Embedding(6, 2, mask_zero=True, input_shape=(3, 5)), TimeDistributed(Dense(3)),
                          TimeDistributed(GlobalAveragePooling1D())])
    assert kept._mask_plan == ((kept.layers[0], (kept.layers[1], kept.layers[2])),)


def test_a_batch_of_padding_alone_traces_with_zero_gradients(rng):
    x, _ = _sequences(rng, n=8)
    x[:] = 0
    model = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)), LSTM(5, return_sequences=True),
                           Dense(3, activation="softmax")], seed=0)
    for loss in ("sparse_categorical_crossentropy", "categorical_crossentropy", "mse"):
        model.compile(loss, "sgd")
        y = x % 3 if loss.startswith("sparse") else np.eye(3, dtype=np.float32)[x % 3]
        trace = model.trace(x, y)
        assert trace.loss == 0.0
        assert all(not np.any(g) for record in trace for g in record["grads"].values())


def test_fit_checks_its_metrics_before_training_even_when_the_first_samples_are_padding(rng):
    x, _ = _sequences(rng, n=16)
    x[:2] = 0
    model = gn.Sequential([Embedding(12, 4, mask_zero=True, input_shape=(7,)), LSTM(5, return_sequences=True),
                           Dense(3, activation="softmax")], seed=0)
    model.compile("categorical_crossentropy", "sgd", metrics=[gn.metrics.F1Score()])
    before = model.get_weights()
    with pytest.raises(TypeError, match="metric 'f1_score': result\\(\\) must give one number"):
        model.fit(x, np.eye(3, dtype=np.float32)[x % 3], batch_size=4, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)          # refused before any update


PER_STEP = [("sparse_categorical_crossentropy", 4, "softmax"), ("categorical_crossentropy", 4, "softmax"),
            ("mse", 1, None)]


@pytest.mark.parametrize("mask_zero", [True, False])
@pytest.mark.parametrize("loss, units, activation", PER_STEP, ids=[p[0] for p in PER_STEP])
def test_a_weight_per_step_trains_a_tagger_as_keras(loss, units, activation, mask_zero, rng):
    """Keras' temporal sample weights, (n, steps): each step's loss weighs as its own weight."""
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, _ = _sequences(rng)
    y = {"sparse_categorical_crossentropy": x % 4, "categorical_crossentropy": np.eye(4, dtype=np.float32)[x % 4],
         "mse": (x % 2)[..., None].astype(np.float32)}[loss]
    w = rng.random((32, 7)).astype(np.float32)
    ours = gn.Sequential([Embedding(12, 5, mask_zero=mask_zero, input_shape=(7,)), LSTM(6, return_sequences=True),
                          Dense(units, activation=activation)], seed=0)
    theirs = _keras_twin(keras, ours, [keras.layers.Embedding(12, 5, mask_zero=mask_zero),
                                       keras.layers.LSTM(6, return_sequences=True),
                                       keras.layers.Dense(units, activation=activation)])
    ours.compile(loss, gn.optimizers.SGD(0.5))
    theirs.compile(loss=loss, optimizer=keras.optimizers.SGD(0.5))
    np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=w), theirs.evaluate(x, y, sample_weight=w, verbose=0),
                               rtol=1e-6)
    history = ours.fit(x, y, sample_weight=w, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    expected = theirs.fit(x, y, sample_weight=w, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_weights_per_step_or_pixel_follow_their_samples_and_are_checked(rng):
    x, _ = _sequences(rng)
    y = x % 3
    w = rng.random(32).astype(np.float32)

    def tagger():
        model = gn.Sequential([Embedding(12, 4, input_shape=(7,)), GRU(5, return_sequences=True),
                               Dense(3, activation="softmax")], seed=0)
        model.compile("sparse_categorical_crossentropy", gn.optimizers.Adam(0.01))
        return model
    # a sample's weight on each of its steps is its weight: shuffled, validated, the same run bit for bit
    per_sample = tagger().fit(x, y, sample_weight=w, epochs=2, batch_size=8, verbose=0,
                              validation_data=(x[:8], y[:8], w[:8])).history
    per_step = tagger().fit(x, y, sample_weight=np.repeat(w[:, None], 7, axis=1), epochs=2, batch_size=8, verbose=0,
                            validation_data=(x[:8], y[:8], np.repeat(w[:8, None], 7, axis=1))).history
    np.testing.assert_allclose(per_step["loss"], per_sample["loss"], rtol=1e-6)
    np.testing.assert_allclose(per_step["val_loss"], per_sample["val_loss"], rtol=1e-6)
    # a step of weight 0 does not count: its label can be anything
    zeroed = np.ones((32, 7), np.float32)
    zeroed[:, -1] = 0
    model = tagger()
    other = y.copy()
    other[:, -1] = (other[:, -1] + 1) % 3
    assert model.evaluate(x, y, sample_weight=zeroed) == model.evaluate(x, other, sample_weight=zeroed)
    with pytest.raises(ValueError, match=r"sample_weight: expected one weight per sample, shape \(32,\), or one per "
                                         r"position of the output, shape \(32, 7\), got shape \(32, 6\)"):
        model.fit(x, y, sample_weight=np.ones((32, 6)), verbose=0)
    # a segmenter: a weight per pixel
    images = rng.normal(size=(6, 5, 5, 2)).astype(np.float32)
    labels = (images[..., 0] > 0).astype(np.int64)
    segmenter = gn.Sequential([gn.layers.Conv2D(2, 3, padding="same", activation="softmax", input_shape=(5, 5, 2))],
                              seed=0, dtype="float64")
    segmenter.compile("sparse_categorical_crossentropy", "sgd")
    pixel_weights = rng.random((6, 5, 5))
    p = segmenter.predict(images)
    by_hand = -(np.log(np.take_along_axis(p, labels[..., None], -1)[..., 0]) * pixel_weights).mean()
    np.testing.assert_allclose(segmenter.evaluate(images, labels, sample_weight=pixel_weights), by_hand, rtol=1e-12)
    assert gradcheck.check_model(segmenter, images, labels, sample_weight=pixel_weights)["max_error"] < 1e-6
