"""fit, evaluate and predict on data that comes batch by batch (glassnet.feeding): a PyDataset or a
generator trains exactly as the same batches given as arrays, PyDataset batches are shuffled with
the model's generator, generators end as Keras' do, and every misuse is refused naming the batch."""
import io
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import ProgressBar
from glassnet.utils import PyDataset
from test_backup import Crash, CrashAfter

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class Batches(PyDataset):
    """Batches of ``batch_size`` rows of x, y (and w), recording the order they are read in."""

    def __init__(self, x, y, w=None, batch_size=16, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.w, self.batch_size = x, y, w, batch_size
        self.read, self.begun, self.ended = [], 0, 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.read.append(index)
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return (self.x[rows], self.y[rows]) if self.w is None else (self.x[rows], self.y[rows], self.w[rows])

    def on_epoch_begin(self):
        self.begun += 1

    def on_epoch_end(self):
        self.ended += 1


def _data(rng, n=100):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.float32)


def _model(input_shape=(4,), optimizer="adam"):
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_shape=input_shape),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", optimizer, metrics=["accuracy"])
    return model


def _generator(x, y, batch_size=16):
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]


def test_a_pydataset_trains_validates_and_evaluates_as_the_same_batches_in_arrays(rng):
    x, y = _data(rng)
    w = rng.uniform(0.5, 2, len(x)).astype(np.float32)
    arrays, batches = _model(), _model()
    expected = arrays.fit(x, y, epochs=3, batch_size=16, shuffle=False, sample_weight=w, verbose=0,
                          validation_data=(x[:40], y[:40])).history
    data = Batches(x, y, w)
    history = batches.fit(data, epochs=3, shuffle=False, verbose=0, validation_data=Batches(x[:40], y[:40])).history
    assert history == expected
    for a, b in zip(arrays.get_weights(), batches.get_weights()):
        np.testing.assert_array_equal(a, b)
    # read once before training (to build and check), then in order, each epoch framed by its hooks
    assert data.read == [0] + [0, 1, 2, 3, 4, 5, 6] * 3 and data.begun == data.ended == 3
    assert batches.evaluate(Batches(x, y)) == arrays.evaluate(x, y, batch_size=16)
    np.testing.assert_array_equal(batches.predict(Batches(x, y)), arrays.predict(x, batch_size=16))
    assert batches.evaluate(Batches(x, y), steps=2) == arrays.evaluate(x[:32], y[:32], batch_size=16)


def test_fit_shuffles_a_pydataset_s_batches_with_the_model_s_generator(rng):
    x, y = _data(rng)
    first, second = Batches(x, y), Batches(x, y)
    _model().fit(first, epochs=3, verbose=0)
    _model().fit(second, epochs=3, verbose=0)
    orders = [first.read[1 + 7 * e:1 + 7 * (e + 1)] for e in range(3)]
    assert all(sorted(order) == list(range(7)) for order in orders)     # each epoch reads each batch once
    assert orders[0] != list(range(7)) and orders[0] != orders[1]       # in a new order each epoch
    assert first.read == second.read                                    # drawn from the model's seed


def test_steps_per_epoch_goes_on_through_a_pydataset_and_through_an_endless_one(rng):
    x, y = _data(rng)
    data = Batches(x, y)
    _model().fit(data, epochs=3, steps_per_epoch=3, shuffle=False, verbose=0)
    assert data.read[1:] == [0, 1, 2, 3, 4, 5, 6, 0, 1]

    class Endless(PyDataset):
        num_batches = None

        def __init__(self):
            super().__init__()
            self.read = []

        def __getitem__(self, index):
            self.read.append(index)
            return x[index % 6 * 16:(index % 6 + 1) * 16], y[index % 6 * 16:(index % 6 + 1) * 16]

    endless = Endless()
    model = _model()
    assert len(model.fit(endless, epochs=2, steps_per_epoch=4, shuffle=False, verbose=0).history["loss"]) == 2
    assert endless.read == [0, 0, 1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(ValueError, match=r"x: Endless has no end \(num_batches is None\): give steps_per_epoch"):
        model.fit(Endless(), verbose=0)
    assert model.predict(Endless(), steps=3).shape == (48, 1)


def test_a_generator_trains_as_arrays_and_ends_training_when_it_runs_out_as_keras(rng):
    x, y = _data(rng)
    arrays, generated = _model(), _model()
    expected = arrays.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    with pytest.warns(UserWarning, match=r"fit: your input ran out of data in epoch 2 after 0 batches; "
                                         r"interrupting training"):
        history = generated.fit(_generator(x, y), epochs=3, verbose=0).history
    assert history == expected                  # the first epoch read it to its end; nothing after
    with pytest.warns(UserWarning, match="ran out of data in epoch 2 after 3 batches.*steps_per_epoch \\* epochs"):
        history = _model().fit(_generator(x, y), epochs=3, steps_per_epoch=4, verbose=0).history
    assert len(history["loss"]) == 2            # the epoch that ran out still counts its batches
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = _model().fit(_generator(x, y), epochs=7, steps_per_epoch=1, verbose=0).history
    assert len(history["loss"]) == 7
    model = _model()
    assert model.evaluate(_generator(x, y)) == model.evaluate(x, y, batch_size=16)
    np.testing.assert_array_equal(model.predict(_generator(x, y)), model.predict(x, batch_size=16))
    np.testing.assert_array_equal(model.predict(iter([x[:5], (x[5:9],), (x[9:12], y[9:12])])), model.predict(x[:12]))


def test_class_weight_weighs_a_pydataset_s_batches_as_arrays(rng):
    x, y = _data(rng)
    arrays, batches = _model(), _model()
    weights = {0: 1.0, 1: 3.0}
    expected = arrays.fit(x, y, epochs=2, batch_size=16, shuffle=False, class_weight=weights, verbose=0).history
    assert batches.fit(Batches(x, y), epochs=2, shuffle=False, class_weight=weights, verbose=0).history == expected
    with pytest.raises(ValueError, match=r"class_weight: x \(batch 0 of Batches\) carries sample weights too"):
        _model().fit(Batches(x, y, np.ones(len(x))), class_weight=weights, verbose=0)


def test_the_first_batch_builds_a_model_without_an_input_shape(rng):
    x, y = _data(rng)
    model = gn.Sequential([gn.layers.Dense(3, activation="relu"), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "sgd")
    model.fit(Batches(x, y), epochs=1, verbose=0)
    assert model.input_shape == (None, 4)


def test_what_batch_by_batch_data_does_not_take_is_refused(rng):
    x, y = _data(rng)
    model = _model()
    data = Batches(x, y)
    with pytest.raises(ValueError, match="When providing x as a PyDataset, y should not be passed"):
        model.fit(data, y, verbose=0)
    with pytest.raises(ValueError, match="When providing x as a generator, sample_weight should not be passed"):
        model.fit(_generator(x, y), sample_weight=np.ones(100), verbose=0)
    with pytest.raises(ValueError, match="validation_split: .* a PyDataset has no last samples"):
        model.fit(data, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="validation_data: a generator is read once"):
        model.fit(data, validation_data=_generator(x, y), verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch: with arrays an epoch is one pass"):
        model.fit(x, y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="evaluate: steps counts the batches of a PyDataset"):
        model.evaluate(x, y, steps=2)
    with pytest.raises(ValueError, match="predict: x is a Batches .* batch_size should not be passed"):
        model.predict(data, batch_size=8)
    with pytest.raises(ValueError, match=r"x \(batch 0 of the generator\): expected a tuple \(x, y\) or "
                                         r"\(x, y, sample_weight\), got dict"):
        model.fit(iter([{"x": x, "y": y}]), verbose=0)
    with pytest.raises(ValueError, match=r"x \(batch 2 of the generator\): expected a tuple"):
        model.fit(iter([(x[:4], y[:4]), (x[4:8], y[4:8]), x[8:12]]), verbose=0)
    with pytest.raises(ValueError, match=r"x \(batch 1 of the generator\): the model expects samples of shape \(4,\), got "
                                         r"samples of shape \(3,\)"):
        model.fit(iter([(x[:4], y[:4]), (x[4:8, :3], y[4:8])]), verbose=0)
    with pytest.raises(ValueError, match=r"y \(batch 0 of validation_data Batches\): expected targets of shape \(n_samples, 1\)"):
        model.fit(data, validation_data=Batches(x, np.ones((100, 2))), verbose=0)
    with pytest.raises(ValueError, match="x: the generator gave no batch"):
        model.fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="PyDataset: glassnet reads batches in the training thread.*workers=4"):
        Batches(x, y, workers=4)
    assert Batches(x, y, workers=0).workers == 0          # Keras reads 0 workers in the calling thread too


def test_the_progress_bar_counts_batches_of_unknown_number(rng):
    stream = io.StringIO()
    stream.isatty = lambda: True
    bar = ProgressBar(1, stream=stream)
    bar.set_params({"epochs": 1, "steps": None})
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    bar.last_draw -= 1
    bar.on_train_batch_end(6, {"loss": 0.5})
    assert "Epoch 1/1 7/? - loss: 0.5000" in stream.getvalue()


def test_a_keras_pydataset_trains_glassnet_and_keras_alike(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _data(rng)

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return x[index * 20:(index + 1) * 20], y[index * 20:(index + 1) * 20]

    ours = _model(optimizer=gn.optimizers.SGD(0.3))
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.3), metrics=["accuracy"])
    history = ours.fit(KerasBatches(), epochs=3, shuffle=False, verbose=0).history
    expected = theirs.fit(KerasBatches(), epochs=3, shuffle=False, verbose=0).history
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5)
    np.testing.assert_allclose(ours.evaluate(KerasBatches()), theirs.evaluate(KerasBatches(), verbose=0), rtol=1e-5)


class _BatchNumbers(gn.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(batch)


def test_hooks_count_the_steps_of_an_epoch_whatever_batches_the_dataset_serves(rng):
    x, y = _data(rng)
    numbers = _BatchNumbers()
    _model().fit(Batches(x, y), epochs=2, verbose=0, callbacks=[numbers])        # shuffled batches
    assert numbers.seen == list(range(7)) * 2
    numbers.seen.clear()
    _model().fit(Batches(x, y), epochs=2, steps_per_epoch=3, verbose=0, callbacks=[numbers])
    assert numbers.seen == [0, 1, 2] * 2


class _Endless(PyDataset):
    num_batches = None

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __getitem__(self, index):
        rows = slice(index % 6 * 16, (index % 6 + 1) * 16)
        return self.x[rows], self.y[rows]


@pytest.mark.parametrize("endless", [False, True], ids=["shuffled", "endless"])
def test_backup_and_restore_resumes_a_pydataset_exactly(endless, rng, tmp_path):
    x, y = _data(rng)

    def data():
        return _Endless(x, y) if endless else Batches(x, y)
    steps = {"steps_per_epoch": 4, "shuffle": False} if endless else {}
    whole = _model()
    expected = whole.fit(data(), epochs=5, verbose=0, **steps).history
    crashed = _model()
    with pytest.raises(Crash):
        crashed.fit(data(), epochs=5, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path), CrashAfter(2)], **steps)
    resumed = _model()
    history = resumed.fit(data(), epochs=5, verbose=0, callbacks=[gn.BackupAndRestore(tmp_path)], **steps).history
    assert history["loss"] == expected["loss"][2:]
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_steps_beyond_a_pydataset_s_end_read_it_once_with_keras_warning(rng):
    x, y = _data(rng)
    model = _model()
    with pytest.warns(UserWarning, match="predict: steps=9 is more than the 7 batches of Batches; reading 7"):
        assert model.predict(Batches(x, y), steps=9).shape == (100, 1)
    with pytest.warns(UserWarning, match="evaluate: steps=9 is more than the 7 batches"):
        assert model.evaluate(Batches(x, y), steps=9) == model.evaluate(Batches(x, y))
    with pytest.warns(UserWarning, match="evaluate: your input ran out of data after 7 batches of the 9 asked for"):
        model.evaluate(_generator(x, y), steps=9)
    # a generator's steps may be any number: nothing is sized by it
    with pytest.warns(UserWarning, match="predict: your input ran out of data after 7 batches of the 10000000000"):
        np.testing.assert_array_equal(model.predict(_generator(x, y), steps=10 ** 10), model.predict(Batches(x, y)))


def test_list_batches_are_taken_as_tuples_and_keras_workers_are_refused(rng):
    x, y = _data(rng)
    model = _model()
    np.testing.assert_array_equal(model.evaluate(iter([[x[:50], y[:50]], [x[50:], y[50:]]])),
                                  model.evaluate(x, y, batch_size=50))
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")

    class Threaded(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return x, y

    with pytest.raises(ValueError, match="x: Threaded asks for workers=4, use_multiprocessing=False; glassnet reads"):
        model.fit(Threaded(workers=4), verbose=0)


def test_the_model_does_not_keep_the_dataset_s_array_alive(rng):
    x, y = _data(rng, n=1000)
    model = _model()
    model.fit(Batches(x, y), epochs=1, verbose=0)
    for call in (lambda: None, lambda: model.evaluate(Batches(x, y)), lambda: model.predict(Batches(x, y))):
        call()
        held = model.layers[0].x
        assert held.shape[0] <= 16 and not np.shares_memory(held, x)


def test_validation_steps_read_a_dataset_s_first_batches_or_a_generator_s_next_ones(rng, tmp_path):
    x, y = _data(rng)
    with pytest.raises(ValueError, match=r"validation_data: _Endless has no end \(num_batches is None\): give "
                                         r"validation_steps"):
        _model().fit(Batches(x, y), validation_data=_Endless(x, y), verbose=0)
    with pytest.raises(ValueError, match="validation_steps: it counts the batches of validation_data given as a "
                                         "PyDataset, a DataLoader, a Dataset or a generator; arrays are validated "
                                         "whole"):
        _model().fit(x, y, validation_data=(x, y), validation_steps=2, verbose=0)
    with pytest.raises(ValueError, match="validation_steps: .*; no validation_data was given"):
        _model().fit(x, y, validation_steps=2, verbose=0)
    with pytest.warns(UserWarning, match="fit: validation_steps=20 is more than the 7 batches of Batches; each "
                                         "validation reads 7"):
        _model().fit(Batches(x, y), validation_data=Batches(x, y), validation_steps=20, verbose=0)
    # a PyDataset (endless too): its first batches at every validation, as Keras
    arrays, endless, finite = _model(), _model(), _model()
    expected = arrays.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0,
                          validation_data=(x[:32], y[:32])).history
    for model, data in ((endless, _Endless(x, y)), (finite, Batches(x, y))):
        history = model.fit(Batches(x, y), epochs=2, shuffle=False, verbose=0, validation_data=data,
                            validation_steps=2).history
        assert history["val_loss"] == expected["val_loss"]
    # a generator: its next batches at every validation; when it runs out, that epoch has no val_ values
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _model().fit(x, y, epochs=3, batch_size=16, verbose=0, validation_data=_generator(x, y),
                               validation_steps=4).history
    assert [str(w.message) for w in caught] == [
        f"validation_data: your input ran out of data after {n} batches of the 4 asked for" for n in (3, 0)]
    assert len(history["loss"]) == 3 and len(history["val_loss"]) == 2
    # callbacks watching a "val_" value skip that epoch, as they skip those validation_freq leaves out
    watchers = [gn.EarlyStopping(monitor="val_loss", patience=5), gn.ReduceLROnPlateau(monitor="val_loss"),
                gn.ModelCheckpoint(str(tmp_path / "best.npz"), monitor="val_loss", save_best_only=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = _model().fit(x, y, epochs=3, batch_size=16, verbose=0, validation_data=_generator(x, y),
                               validation_steps=4, callbacks=watchers).history
        assert len(history["val_loss"]) == 2 and (tmp_path / "best.npz").exists()
        with pytest.raises(ValueError, match="names a validation value, which an epoch whose validation generator "
                                             "has run dry does not log"):
            _model().fit(x, y, verbose=0, validation_data=_generator(x, y), validation_steps=4,
                         callbacks=[gn.ModelCheckpoint(str(tmp_path / "m-{val_loss:.2f}.npz"))])
    with pytest.warns(UserWarning, match="shuffle=True is ignored for _Endless, which has no end"):
        _model().fit(_Endless(x, y), steps_per_epoch=2, verbose=0)


@pytest.mark.parametrize("sizes", [[16] * 6 + [4], [4] + [16] * 6, [8, 8, 16, 16, 32, 20]], ids=str)
def test_predict_on_batches_of_any_sizes_gives_each_batch_s_outputs_in_order(sizes, rng):
    """Batches as large as the first fill one array as they come; a larger one falls back to joining."""
    x, _ = _data(rng)

    class Sized(PyDataset):
        def __len__(self):
            return len(sizes)

        def __getitem__(self, index):
            start = sum(sizes[:index])
            return x[start:start + sizes[index]]

    model = _model()
    starts = np.cumsum([0, *sizes])
    expected = np.concatenate([model.predict(x[a:b], batch_size=b - a) for a, b in zip(starts[:-1], starts[1:])])
    np.testing.assert_array_equal(model.predict(Sized()), expected)
