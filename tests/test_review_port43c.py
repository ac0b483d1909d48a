"""What porting keras.io examples end to end found (timeseries classification from scratch, the
denoising convolutional autoencoder, text classification from scratch with its end-to-end model
saved by Keras, the captcha OCR with CTC): Keras 3.15's ``.keras`` files of a model nesting a
functional model, and the message of a CTC loss computed in an endpoint layer."""
import numpy as np
import pytest

import glassnet as gn


def _inner(keras):
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3, name="inner_dense")(inputs))


def test_keras_file_whose_output_is_a_nested_functional_call(keras, tmp_path):
    # Keras numbers a nested Functional's calls from 1 in output_layers (["functional", 1, 0]) and
    # from 0 in the nodes that read it: glassnet refused the file ("names a tensor no layer of the
    # config makes"), as it did keras.io's end-to-end text model, whose output is the inner model's
    inner = _inner(keras)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, inner(keras.layers.Dense(4, name="before")(inputs)))
    model.save(tmp_path / "nested.keras")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    loaded = gn.load_model(tmp_path / "nested.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_keras_file_of_a_nested_model_compiled_and_trained_on_its_own(keras, tmp_path):
    # keras.io's text classification compiles and fits `model`, then saves `end_to_end_model`
    # around it: Keras writes the inner model's optimizer state beside its layers
    # (layers/functional/optimizer/vars), which glassnet took for weights of a nested model
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4)).astype("float32")
    inner = _inner(keras)
    inner.compile(optimizer="sgd", loss="mse")
    inner.fit(x, rng.normal(size=(8, 3)).astype("float32"), epochs=1, verbose=0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inner(inputs)))
    model.save(tmp_path / "trained_inner.keras")
    loaded = gn.load_model(tmp_path / "trained_inner.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_keras_io_text_classification_end_to_end_file(keras, tmp_path):
    # the example's whole flow at a small size: TextVectorization adapted, the id model compiled and
    # trained, the end-to-end model on raw strings saved by Keras, read by glassnet
    import tensorflow as tf
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(40)] + ["good", "bad"]
    y = rng.integers(0, 2, size=32)
    texts = np.array([" ".join(list(rng.choice(words, size=12)) + (["good"] if label else ["bad"])) for label in y])
    vectorize_layer = keras.layers.TextVectorization(max_tokens=30, output_mode="int", output_sequence_length=20)
    vectorize_layer.adapt(texts)
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = keras.layers.Embedding(30, 8)(inputs)
    x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Conv1D(8, 7, padding="valid", activation="relu", strides=3)(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    predictions = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(vectorize_layer(texts), y, epochs=1, verbose=0)
    text_input = keras.Input(shape=(1,), dtype="string")
    end_to_end_model = keras.Model(text_input, model(vectorize_layer(text_input)))
    end_to_end_model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    end_to_end_model.save(tmp_path / "end_to_end.keras")
    loaded = gn.load_model(tmp_path / "end_to_end.keras")
    np.testing.assert_allclose(loaded.predict(texts, verbose=0),
                               end_to_end_model.predict(tf.constant(texts), verbose=0), atol=1e-6)


def test_ctc_loss_in_an_endpoint_layer_points_to_the_ctc_loss():
    # keras.io's captcha OCR adds ops.ctc_loss in a CTCLayer's call: glassnet draws calls, where
    # ctc_loss takes arrays only; the message said "compute it on arrays, before or after the
    # model", which no endpoint layer can; compile(loss="ctc") on the logits is what trains it
    labels = gn.layers.Input((4,), name="label")
    logits = gn.layers.Input((10, 11), name="logits")
    lengths = np.full(2, 4, dtype="int32")
    with pytest.raises(TypeError, match='loss="ctc"'):
        gn.ops.ctc_loss(labels, logits, lengths, np.full(2, 10, dtype="int32"))
    # arrays keep working
    value = gn.ops.ctc_loss(np.ones((2, 4), "int32"), np.zeros((2, 10, 11), "float32"), lengths,
                            np.full(2, 10, dtype="int32"))
    assert value.shape == (2,) and np.isfinite(value).all()
