"""keras.io guides not run before, ported to glassnet's imports and run as written (session 47,
guides3): "Working with RNNs" (every section but the CuDNN timing, MNIST replaced by random rows of
its shape, and the nested-cell section, whose cell takes nested states) and the compile section of
"Customizing Saving and Serialization"; each beside Keras 3.15 from the same weights where Keras runs it.

What they met: ``summary()`` of a Sequential whose layers were added but not built refused
("the model is not built yet"), where Keras 3.15 lists the layers with "?" shapes and
"0 (unbuilt)"; the saving guide's ``ModelWithCustomCompile`` saved and loaded compiled through
its own ``get_compile_config`` / ``compile_from_config`` (glassnet compiled with its own settings,
which that ``compile(optimizer, loss_fn, metrics)`` refused: tests/test_guides3.py)."""
import warnings

import numpy as np

import glassnet as gn

from test_review_guides2 import _custom_compile_class     # the saving guide's ModelWithCustomCompile


# -- "Working with RNNs" ----------------------------------------------------------------------------

def _summary_rows(model):
    return _summary_rows_of(model)


def _summary_rows_of(model, **options):
    captured = []
    model.summary(print_fn=lambda text, **_: captured.append(text), **options)
    return "\n".join(captured)


def _sequential_of_added_layers(lib):
    """The guide's first two models: layers added to an empty Sequential, summary asked at once."""
    layers = lib.layers
    model = lib.Sequential()
    model.add(layers.Embedding(input_dim=1000, output_dim=64))
    model.add(layers.LSTM(128))
    model.add(layers.Dense(10))
    second = lib.Sequential()
    second.add(layers.Embedding(input_dim=1000, output_dim=64))
    second.add(layers.GRU(256, return_sequences=True))
    second.add(layers.SimpleRNN(128))
    second.add(layers.Dense(10))
    return model, second


def test_the_summary_of_a_sequential_not_built_yet_lists_its_layers_as_keras(keras):
    for ours, theirs in zip(_sequential_of_added_layers(gn), _sequential_of_added_layers(keras)):
        text = _summary_rows(ours)
        keras_text = _summary_rows(theirs)
        for layer in theirs.layers:
            kind = type(layer).__name__
            assert f"({kind})" in keras_text and f"({kind})" in text
        assert text.count("0 (unbuilt)") == keras_text.count("0 (unbuilt)") == len(ours.layers)
        assert "Total params: 0" in text
    # a layer Keras builds when made counts its (no) weights; layer_range picks rows as for a built model
    model = gn.Sequential()
    for layer in (gn.layers.Dense(3), gn.layers.Dropout(0.1), gn.layers.Dense(2, name="out")):
        model.add(layer)
    rows = _summary_rows_of(model, layer_range=("dropout", "out")).splitlines()
    assert [row.split()[0] for row in rows if "(" in row and "?" in row] == ["dropout", "out"]
    assert any(row.split()[:4] == ["dropout", "(Dropout)", "?", "0"] for row in rows)
    # built afterwards, the same model gives its shapes and counts
    model, _ = _sequential_of_added_layers(gn)
    model.build((None, 7))
    assert "(unbuilt)" not in _summary_rows(model)


def _encoder_decoder(lib):
    layers = lib.layers
    encoder_input = layers.Input(shape=(None,))
    encoder_embedded = layers.Embedding(input_dim=1000, output_dim=64)(encoder_input)
    output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(encoder_embedded)
    encoder_state = [state_h, state_c]
    decoder_input = layers.Input(shape=(None,))
    decoder_embedded = layers.Embedding(input_dim=2000, output_dim=64)(decoder_input)
    decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
    output = layers.Dense(10)(decoder_output)
    return lib.Model([encoder_input, decoder_input], output)


def test_the_encoder_decoder_of_initial_states_predicts_as_keras(keras):
    theirs, ours = _encoder_decoder(keras), _encoder_decoder(gn)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    assert ours.count_params() == theirs.count_params()
    r = np.random.default_rng(0)
    x = [r.integers(0, 1000, (3, 6)), r.integers(0, 2000, (3, 4))]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_cross_batch_statefulness_and_state_reuse_as_keras(keras):
    """A stateful LSTM fed three paragraphs in turn, reset_states(), then its states handed to a
    new LSTM as initial_state: each output as Keras 3.15's from the same weights."""
    r = np.random.default_rng(1)
    paragraph1, paragraph2, paragraph3 = (r.random((20, 10, 50)).astype(np.float32) for _ in range(3))
    results = {}
    start = None
    for name, lib in (("keras", keras), ("gn", gn)):
        lstm_layer = lib.layers.LSTM(64, stateful=True)
        first = lstm_layer(paragraph1)
        if start is None:
            start = [np.asarray(w) for w in lstm_layer.get_weights()]
        else:
            lstm_layer.set_weights(start)
            lstm_layer.reset_states()
            first = lstm_layer(paragraph1)
        second = lstm_layer(paragraph2)
        third = lstm_layer(paragraph3)
        lstm_layer.reset_states()
        again = lstm_layer(paragraph1)          # from zero states again: the first output
        lstm_layer.reset_states()
        lstm_layer(paragraph1)
        lstm_layer(paragraph2)
        existing_state = lstm_layer.states
        new_lstm_layer = lib.layers.LSTM(64)
        new_lstm_layer(paragraph3[:1])          # (built, to be given the same weights)
        new_lstm_layer.set_weights(start)
        new_output = new_lstm_layer(paragraph3, initial_state=existing_state)
        results[name] = [np.asarray(v) for v in (first, second, third, again, new_output)]
    for ours, theirs in zip(results["gn"], results["keras"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results["gn"][3], results["gn"][0], rtol=1e-6)
    np.testing.assert_allclose(results["gn"][4], results["gn"][2], rtol=1e-5, atol=1e-6)   # the same states


def _bidirectional(lib):
    layers = lib.layers
    model = lib.Sequential()
    model.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True), input_shape=(5, 10)))
    model.add(layers.Bidirectional(layers.LSTM(32)))
    model.add(layers.Dense(10))
    return model


def test_the_bidirectional_sequential_as_keras(keras):
    with warnings.catch_warnings():     # (Keras warns of input_shape given to a layer)
        warnings.simplefilter("ignore")
        theirs = _bidirectional(keras)
    ours = _bidirectional(gn)
    assert ours.count_params() == theirs.count_params()
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    x = np.random.default_rng(2).random((4, 5, 10)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def _build_model(lib, allow_cudnn_kernel=True):
    """The guide's build_model, as written."""
    units, input_dim, output_size = 64, 28, 10
    if allow_cudnn_kernel:
        lstm_layer = lib.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        lstm_layer = lib.layers.RNN(lib.layers.LSTMCell(units), input_shape=(None, input_dim))
    return lib.models.Sequential([lstm_layer, lib.layers.BatchNormalization(), lib.layers.Dense(output_size)])


def test_lstm_and_rnn_of_lstm_cell_train_alike_and_as_keras(keras):
    """The guide's MNIST rows model (random rows of MNIST's shape here, offline): LSTM, then
    RNN(LSTMCell) given its weights (``noncudnn_model.set_weights(model.get_weights())``), one epoch
    of SGD each with validation; both histories as Keras 3.15's, and the two models alike."""
    r = np.random.default_rng(3)
    x_train, y_train = r.random((128, 28, 28)), r.integers(0, 10, 128)
    x_test, y_test = r.random((64, 28, 28)), r.integers(0, 10, 64)
    histories = {}
    start = None
    for name, lib in (("keras", keras), ("gn", gn)):
        model = _build_model(lib, allow_cudnn_kernel=True)
        if start is None:
            start = [np.asarray(w) for w in model.get_weights()]
        model.set_weights(start)
        runs = []
        for m in (model, _build_model(lib, allow_cudnn_kernel=False)):
            m.set_weights(start)
            m.compile(loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd",
                      metrics=["accuracy"])
            runs.append(m.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=64, epochs=1,
                              shuffle=False, verbose=0).history)
        cpu_model = _build_model(lib, allow_cudnn_kernel=True)
        cpu_model.set_weights(model.get_weights())
        sample = x_train[0]
        runs.append(np.argmax(cpu_model.predict_on_batch(np.expand_dims(sample, 0)), axis=1))
        histories[name] = runs
    for k in (0, 1):
        for key in histories["keras"][k]:
            np.testing.assert_allclose(histories["gn"][k][key], histories["keras"][k][key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(histories["gn"][1]["loss"], histories["gn"][0]["loss"], rtol=1e-5)
    np.testing.assert_array_equal(histories["gn"][2], histories["keras"][2])


# -- "Customizing Saving and Serialization": get_compile_config and compile_from_config ---------------

def test_the_saving_guides_custom_compile_as_written(tmp_path):
    """The guide's section as written (its losses in glassnet.ops; the class is
    test_review_guides2's transcription, with Keras' ``**kwargs``): ``model.save("....keras")``
    (glassnet's own file under that name), ``load_model`` compiles the model through its
    ``compile_from_config``, and the guide's three checks hold. (Keras 3.15 itself fails to load
    the class as the guide writes it: its ``__init__`` takes no ``trainable``, which Keras' config passes.)"""
    ops = gn.ops

    @gn.saving.register_keras_serializable(package="my_custom_package")
    def mean_pred(y_true, y_pred):
        return ops.mean(y_pred)

    ModelWithCustomCompile, small_square_sum_loss = _custom_compile_class(gn, ops)
    model = ModelWithCustomCompile()
    model.compile(optimizer="SGD", loss_fn=small_square_sum_loss, metrics=["accuracy", mean_pred])
    r = np.random.default_rng(4)
    x, y = r.random((4, 8)), r.random((4,))
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "custom_compile_model.keras")
    restored_model = gn.models.load_model(tmp_path / "custom_compile_model.keras")
    np.testing.assert_equal(model.model_optimizer, restored_model.model_optimizer)
    np.testing.assert_equal(model.loss_fn, restored_model.loss_fn)
    np.testing.assert_equal(model.loss_metrics, restored_model.loss_metrics)
    np.testing.assert_allclose(restored_model.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)
