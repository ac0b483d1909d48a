"""fit, evaluate and predict on a PyTorch DataLoader and a TensorFlow tf.data.Dataset
(glassnet._frameworks, glassnet.feeding): read a pass per epoch in their own order, they train
exactly as the same batches in arrays and as Keras 3.15 on the same Dataset; tensors become NumPy
arrays of their own dtype; bad batches are refused naming the batch."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet._frameworks import batch_as_numpy

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch not installed")


@pytest.fixture
def tf():
    return pytest.importorskip("tensorflow", reason="TensorFlow not installed")


def _data(rng, n=50):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.float32)


def _model(optimizer=None):
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_shape=(4,)),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", optimizer or gn.optimizers.SGD(0.3), metrics=["accuracy"])
    return model


def _loader(torch, x, y, batch_size=16, **kwargs):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, **kwargs)


def _same_weights(a, b):
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


def _fit_quietly(model, data, **kwargs):
    """fit with shuffle=False (the frameworks' data shuffles itself), failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return model.fit(data, shuffle=False, verbose=0, **kwargs).history


def test_a_dataloader_trains_validates_evaluates_and_predicts_as_the_same_batches_in_arrays(rng, torch):
    x, y = _data(rng)
    arrays, loaded = _model(), _model()
    expected = arrays.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                          validation_data=(x[:20], y[:20])).history
    history = _fit_quietly(loaded, _loader(torch, x, y), epochs=3, validation_data=_loader(torch, x[:20], y[:20]))
    assert history == expected
    _same_weights(arrays, loaded)
    assert loaded.evaluate(_loader(torch, x, y)) == arrays.evaluate(x, y, batch_size=16)
    predicted = loaded.predict(_loader(torch, x, y))
    np.testing.assert_array_equal(predicted, arrays.predict(x, batch_size=16))
    assert predicted.dtype == np.float32 and predicted.shape == (50, 1)
    assert loaded.evaluate(_loader(torch, x, y), steps=2) == arrays.evaluate(x[:32], y[:32], batch_size=16)


def test_a_tf_dataset_trains_evaluates_and_predicts_as_the_same_batches_in_arrays(rng, tf):
    x, y = _data(rng)
    arrays, streamed = _model(), _model()
    expected = arrays.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0,
                          validation_data=(x[:20], y[:20])).history
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    history = _fit_quietly(streamed, data, epochs=3,
                           validation_data=tf.data.Dataset.from_tensor_slices((x[:20], y[:20])).batch(16))
    assert history == expected
    _same_weights(arrays, streamed)
    assert streamed.evaluate(data) == arrays.evaluate(x, y, batch_size=16)
    # predict reads x of (x, y) batches, or batches of x alone
    for given in (data, data.map(lambda features, _: features)):
        np.testing.assert_array_equal(streamed.predict(given), arrays.predict(x, batch_size=16))
    # a Dataset of unknown length (filter) is read a whole pass per epoch
    unknown = _model()
    _fit_quietly(unknown, data.filter(lambda *_: True), epochs=3, validation_data=(x[:20], y[:20]))
    _same_weights(arrays, unknown)


def test_a_shuffling_dataloader_is_read_in_its_own_order_and_fit_s_shuffle_is_ignored_with_keras_warning(rng, torch):
    x, y = _data(rng)
    seeded = lambda: _loader(torch, x, y, shuffle=True, generator=torch.Generator().manual_seed(5))     # noqa: E731
    model = _model()
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored since the data `x` was "
                                         "provided as a torch DataLoader"):
        model.fit(seeded(), epochs=2, verbose=0)       # fit's default shuffle=True, as Keras warns
    # the same loader's two passes, drawn by the same generator, given in that order: the same run
    # (the batch read before training to build the model is not a pass of its own)
    twin, again = seeded(), _model()
    batches = [(bx.numpy(), by.numpy()) for _ in range(2) for bx, by in twin]
    _fit_quietly(again, iter(batches), epochs=2, steps_per_epoch=len(twin))
    _same_weights(model, again)


def test_steps_per_epoch_goes_on_through_passes_and_an_endless_dataset_needs_it(rng, torch, tf):
    x, y = _data(rng, n=64)                 # 4 batches of 16 a pass
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    expected = _model()
    _fit_quietly(expected, iter(batches * 3), epochs=4, steps_per_epoch=3)    # 12 batches: 3 passes
    for data in (_loader(torch, x, y), tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()):
        model = _model()
        _fit_quietly(model, data, epochs=4, steps_per_epoch=3)
        _same_weights(expected, model)
    endless = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    with pytest.raises(ValueError, match=r"the tf.data.Dataset has no end \(repeat\(\)\): give steps_per_epoch"):
        _model().fit(endless, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="validation_data: the tf.data.Dataset has no end.*give validation_steps"):
        _model().fit(x, y, validation_data=endless, verbose=0)
    # validation_steps: each validation reads the first batches of a new pass
    arrays, streamed = _model(), _model()
    expected = arrays.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0,
                          validation_data=(x[:32], y[:32])).history
    assert _fit_quietly(streamed, _loader(torch, x, y), epochs=2, validation_data=_loader(torch, x, y),
                        validation_steps=2) == expected


def test_an_iterable_dataset_without_length_is_read_a_pass_per_epoch(rng, torch):
    x, y = _data(rng)

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(zip(torch.from_numpy(x), torch.from_numpy(y)))

    arrays, streamed = _model(), _model()
    expected = arrays.fit(x, y, epochs=3, batch_size=10, shuffle=False, verbose=0).history
    assert _fit_quietly(streamed, torch.utils.data.DataLoader(Stream(), batch_size=10), epochs=3) == expected
    _same_weights(arrays, streamed)


def test_bad_batches_and_arguments_are_refused_naming_the_batch(rng, torch, tf):
    x, y = _data(rng)

    class Broken(torch.utils.data.Dataset):         # batch 2 (samples 32-47) loses a feature
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return torch.from_numpy(x[i, :3] if 32 <= i < 48 else x[i]), torch.tensor(y[i])

    with pytest.raises(ValueError, match=r"x \(batch 2 of torch DataLoader\): the model expects samples of shape"):
        _model().fit(torch.utils.data.DataLoader(Broken(), batch_size=16), shuffle=False, verbose=0)
    dicts = tf.data.Dataset.from_tensor_slices({"x": x, "y": y}).batch(16)
    with pytest.raises(ValueError, match=r"batch 0 of tf.data.Dataset\): expected a tuple \(x, y\)"):
        _model().fit(dicts, shuffle=False, verbose=0)
    strings = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).map(lambda a, b: (a, tf.strings.as_string(b)))
    with pytest.raises(TypeError, match=r"y \(batch 0 of tf.data.Dataset\): expected numbers"):
        _model().fit(strings, shuffle=False, verbose=0)
    ragged = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).map(
        lambda a, b: (tf.RaggedTensor.from_tensor(a), b))
    with pytest.raises(TypeError, match=r"x \(batch 0 of tf.data.Dataset\): a tf RaggedTensor"):
        _model().fit(ragged, shuffle=False, verbose=0)
    bfloat = [(torch.from_numpy(x[:16]).bfloat16(), torch.from_numpy(y[:16]))]
    with pytest.raises(TypeError, match=r"x \(batch 0 of validation_data torch DataLoader\): a torch tensor of "
                                        r"dtype torch.bfloat16 has no NumPy dtype"):
        _model().fit(x, y, validation_data=torch.utils.data.DataLoader(bfloat, batch_size=None), verbose=0)
    with pytest.raises(ValueError, match="When providing x as a torch DataLoader, y should not be passed"):
        _model().fit(_loader(torch, x, y), y, verbose=0)
    with pytest.raises(ValueError, match="a tf.data.Dataset has no last samples"):
        _model().fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="evaluate: x is a torch DataLoader whose batches hold their own"):
        _model().evaluate(_loader(torch, x, y), batch_size=8)
    with pytest.raises(ValueError, match="x: the tf.data.Dataset gave no batch"):
        _model().predict(tf.data.Dataset.from_tensor_slices(x).batch(16).take(0))
    with pytest.warns(UserWarning, match="steps=9 is more than the 4 batches of torch DataLoader; reading 4"):
        _model().evaluate(_loader(torch, x, y), steps=9)


def test_tensors_become_arrays_of_their_own_dtype_without_a_copy(torch, tf):
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    tensor = torch.from_numpy(values.copy())
    x, y, w = batch_as_numpy((tensor, torch.tensor([0, 1, 2, 1]), torch.ones(4, dtype=torch.float64)), str)
    assert (x.dtype, y.dtype, w.dtype) == (np.float32, np.int64, np.float64)
    assert np.shares_memory(x, tensor.numpy())          # a CPU tensor's memory, read in place
    # a tensor that requires grad is read as data (detached): glassnet never backpropagates into it
    graded = batch_as_numpy([tensor.clone().requires_grad_(True), {"a": tensor}], str)
    assert isinstance(graded, list) and graded[0].dtype == np.float32 and graded[1]["a"].dtype == np.float32
    np.testing.assert_array_equal(graded[0], values)
    # a lazily negated view (x.conj().imag, its "negative bit"): its values, not a dtype error
    lazy = torch.complex(tensor, tensor).conj().imag
    np.testing.assert_array_equal(batch_as_numpy(lazy, str), -values)
    x, y = batch_as_numpy((tf.constant(values), tf.constant([1, 0, 1, 1], dtype=tf.int32)), str)
    assert (x.dtype, y.dtype) == (np.float32, np.int32)
    np.testing.assert_array_equal(x, values)
    # in a float32 model the batches stay float32 through every layer
    seen = []

    class Spy(gn.layers.Layer):
        def forward(self, x, training=False):
            seen.append(x.dtype)
            return x

        def backward(self, grad_output):
            return grad_output

    model = gn.Sequential([Spy(input_shape=(3,)), gn.layers.Dense(1)], seed=0)
    model.compile("mse", "sgd")
    _fit_quietly(model, tf.data.Dataset.from_tensor_slices((values, values[:, :1])).batch(2), epochs=1)
    model.predict(_loader(torch, values, values[:, 0]))
    assert seen and set(seen) == {np.dtype(np.float32)}


def test_dict_inputs_and_class_weights_come_through(rng, tf):
    x, y = _data(rng)
    wide, deep = gn.Input((2,)), gn.Input((2,))
    out = gn.layers.Dense(1, activation="sigmoid")(gn.layers.Concatenate()([wide, deep]))
    model = gn.Model({"wide": wide, "deep": deep}, out, seed=0)
    model.compile("binary_crossentropy", gn.optimizers.SGD(0.3))
    twin = gn.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile("binary_crossentropy", gn.optimizers.SGD(0.3))
    inputs = {"wide": x[:, :2], "deep": x[:, 2:]}
    weights = {0: 1.0, 1: 3.0}
    expected = twin.fit(inputs, y, epochs=2, batch_size=16, shuffle=False, class_weight=weights, verbose=0).history
    data = tf.data.Dataset.from_tensor_slices((inputs, y)).batch(16)
    assert _fit_quietly(model, data, epochs=2, class_weight=weights) == expected
    _same_weights(twin, model)
    np.testing.assert_array_equal(model.predict(data), twin.predict(inputs, batch_size=16))


def test_keras_fits_the_same_tf_dataset_to_the_same_weights(rng, tf):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = _data(rng, n=60)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ours = _model()
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.3), metrics=["accuracy"])
    mine = _fit_quietly(ours, data, epochs=4, validation_data=data.take(2))
    their = theirs.fit(data, epochs=4, shuffle=False, verbose=0, validation_data=data.take(2)).history
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(mine[key], their[key], rtol=2e-5, err_msg=key)
    for p, q in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict(data), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.evaluate(data), theirs.evaluate(data, verbose=0), rtol=2e-5)


def test_glassnet_imports_neither_torch_nor_tensorflow():
    code = ("import sys, numpy as np, glassnet as gn; from glassnet.feeding import is_batches; "
            "gn.Sequential([gn.layers.Dense(1, input_shape=(2,))]).compile('mse', 'sgd'); "
            "assert not is_batches(np.ones((2, 2))) and not is_batches([1, 2]); "
            "print(sorted({'torch', 'tensorflow', 'keras'} & set(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
