"""Review of the training loop and data paths against Keras 3: fit, evaluate and their hooks."""
import numpy as np
import pytest

import glassnet as gn


def _model():
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    return model


def _data(n=10):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, n)


class _StopAtTestBegin(gn.callbacks.Callback):
    def on_test_begin(self, logs=None):
        self.model.stop_evaluating = True


class _Batches(gn.utils.PyDataset):
    def __init__(self, x, y, size=4):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, index):
        rows = slice(index * self.size, (index + 1) * self.size)
        return self.x[rows], self.y[rows]


def test_stop_evaluating_set_in_on_test_begin_still_evaluates_one_batch_as_keras():
    # Keras checks stop_evaluating after each batch: the first batch always runs. Checked before
    # each batch, glassnet ran none and divided by zero samples (ZeroDivisionError)
    x, y = _data()
    model = _model()
    first = model.evaluate(x[:4], y[:4])
    assert model.evaluate(x, y, batch_size=4, callbacks=[_StopAtTestBegin()]) == pytest.approx(first)
    assert model.evaluate(_Batches(x, y), callbacks=[_StopAtTestBegin()]) == pytest.approx(first)
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), batch_size=4,
                        callbacks=[_StopAtTestBegin()])
    assert len(history.history["val_loss"]) == 1


def test_stop_evaluating_does_not_read_a_further_batch_from_a_generator():
    x, y = _data()
    read = []

    def batches():
        for start in range(0, 10, 2):
            read.append(start)
            yield x[start:start + 2], y[start:start + 2]

    stop = gn.callbacks.LambdaCallback(on_test_batch_end=lambda b, logs: setattr(model, "stop_evaluating", True))
    model = _model()
    model.evaluate(batches(), callbacks=[stop])
    assert read == [0]


def test_validation_batch_size_sets_the_validation_batches_as_keras():
    x, y = _data()
    seen = []
    record = gn.callbacks.LambdaCallback(on_test_batch_begin=lambda b, logs: seen.append(b))
    ours = _model()
    history = ours.fit(x, y, batch_size=5, epochs=1, verbose=0, shuffle=False, validation_data=(x[:7], y[:7]),
                       validation_batch_size=2, callbacks=[record]).history
    assert seen == [0, 1, 2, 3]             # 7 validation samples in batches of 2
    keras = pytest.importorskip("keras")
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    theirs.set_weights(_model().get_weights())
    expected = theirs.fit(x, y, batch_size=5, epochs=1, verbose=0, shuffle=False, validation_data=(x[:7], y[:7]),
                          validation_batch_size=2).history
    np.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)


def test_validation_batch_size_is_refused_where_it_cannot_apply():
    x, y = _data()
    with pytest.raises(ValueError, match="validation_batch_size: .*no validation_data or validation_split"):
        _model().fit(x, y, verbose=0, validation_batch_size=2)
    with pytest.raises(ValueError, match="validation_batch_size: .*gives its own batches"):
        _model().fit(x, y, verbose=0, validation_data=_Batches(x, y), validation_batch_size=2)
    with pytest.raises(ValueError, match="validation_batch_size"):
        _model().fit(x, y, verbose=0, validation_split=0.2, validation_batch_size=0)
    _model().fit(x, y, verbose=0, validation_split=0.3, validation_batch_size=2)


def test_fit_never_reads_keras_positional_options_in_another_order():
    # Keras' fit(x, y, batch_size, epochs, ...): fit(x, y, 5, 2) trains 2 epochs in batches of 5.
    # glassnet's order (epochs, batch_size) read it as 5 epochs in batches of 2, silently
    x, y = _data()
    try:
        history = _model().fit(x, y, 5, 2, verbose=0)
    except TypeError:
        return                              # refused: the options go by name
    assert len(history.epoch) == 2 and history.params["batch_size"] == 5
