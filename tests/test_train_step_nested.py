"""A model with its own train_step given several arrays as x or y (lists, tuples, dicts, nested),
as Keras 3 takes them: the step receives each batch in the same structure, every array cut to the
same rows and shuffled by the same permutation (glassnet._step_data._NestedArrays)."""
import numpy as np
import pytest

import glassnet as gn

N = 10


def _describe(data, tuples=False):
    """The structure of a batch with each array as (shape, dtype name); ``tuples``: lists written
    as tuples (Keras on TensorFlow hands lists as tuples: tf.data has no lists)."""
    if isinstance(data, dict):
        return {key: _describe(value, tuples) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        kind = tuple if tuples else type(data)
        return (kind.__name__, [_describe(value, tuples) for value in data])
    return tuple(data.shape), np.dtype(getattr(data.dtype, "as_numpy_dtype", data.dtype)).name


def _flat(data):
    if isinstance(data, dict):
        return [leaf for key in data for leaf in _flat(data[key])]
    if isinstance(data, (list, tuple)):
        return [leaf for value in data for leaf in _flat(value)]
    return [np.asarray(data)]


def _copied(data):
    """The batch with each array copied: shuffled batches are views of buffers each epoch reuses."""
    if isinstance(data, dict):
        return {key: _copied(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_copied(value) for value in data)
    return data.copy()


class RecordingNested(gn.Model):
    """Records (copies of) what each step receives; logs the number of steps so far."""

    def __init__(self):
        super().__init__(seed=0)
        self.seen = []

    def train_step(self, data):
        self.seen.append(("train", _copied(data)))
        return {"steps": float(len(self.seen))}

    def test_step(self, data):
        self.seen.append(("test", _copied(data)))
        return {"steps": float(len(self.seen))}


def _data():
    x1 = np.arange(N * 2, dtype=np.float64).reshape(N, 2)       # float64: comes in the model's float32
    x2 = np.arange(N, dtype=np.int64) * 10                      # integers stay integers
    y1 = np.arange(N, dtype=np.float32).reshape(N, 1) / 10
    return x1, x2, y1


def _keras_recording(keras):
    class KRecording(keras.Model):
        def __init__(self):
            super().__init__()
            self.seen = []

        def train_step(self, data):
            self.seen.append(("train", keras.tree.map_structure(np.asarray, data)))
            return {"steps": float(len(self.seen))}

        def test_step(self, data):
            self.seen.append(("test", keras.tree.map_structure(np.asarray, data)))
            return {"steps": float(len(self.seen))}

    model = KRecording()
    model.compile(run_eagerly=True)         # eager: the step sees the batch's values
    return model


@pytest.mark.parametrize("call", [
    lambda x1, x2, y1: dict(x=[x1, x2]),                                    # x alone: a 1-tuple ((x1, x2),)
    lambda x1, x2, y1: dict(x=(x1, x2), y=y1),
    lambda x1, x2, y1: dict(x={"b": x1, "a": x2}, y=[y1, x2], validation_split=0.3),
    lambda x1, x2, y1: dict(x=[x1, {"n": x2}], y=y1, sample_weight=np.linspace(1, 2, N),
                            validation_data=([x1[:5], {"n": x2[:5]}], y1[:5])),
])
def test_steps_receive_the_batches_keras_hands_its_step(keras, call):
    ours, theirs = RecordingNested(), _keras_recording(keras)
    ours.compile()
    args = call(*_data())
    ours.fit(**args, epochs=2, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(**args, epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert len(ours.seen) == len(theirs.seen) > 0
    for (our_kind, mine), (their_kind, keras_data) in zip(ours.seen, theirs.seen):
        assert our_kind == their_kind
        assert _describe(mine, tuples=True) == _describe(keras_data, tuples=True)
        for a, b in zip(_flat(mine), _flat(keras_data)):
            np.testing.assert_array_equal(a, b)
    # lists stay lists here (as Keras' JAX, PyTorch and NumPy backends hand them)
    first = ours.seen[0][1]
    assert _describe(first) == _describe(_structure_of(args, first))


def _structure_of(args, batch):
    """The batch as it should be: args' x (and y, weights) structure with the batch's arrays in it."""
    leaves = iter(_flat(batch))

    def fill(part):
        if isinstance(part, dict):
            return {key: fill(value) for key, value in part.items()}
        if isinstance(part, (list, tuple)):
            return type(part)(fill(value) for value in part)
        return next(leaves)
    parts = [args[key] for key in ("x", "y", "sample_weight") if key in args]
    return fill(tuple(parts)) if len(parts) > 1 else (fill(parts[0]),)


def test_evaluate_with_several_arrays_runs_test_step_as_keras(keras):
    ours, theirs = RecordingNested(), _keras_recording(keras)
    ours.compile()
    x1, x2, y1 = _data()
    assert ours.evaluate({"a": x1, "b": [x2, x1]}, (y1, x2), batch_size=4) == 3.0
    theirs.evaluate({"a": x1, "b": [x2, x1]}, (y1, x2), batch_size=4, verbose=0)
    assert [_describe(d, tuples=True) for _, d in ours.seen] == [_describe(d, tuples=True) for _, d in theirs.seen]
    assert all(kind == "test" for kind, _ in ours.seen)
    np.testing.assert_array_equal(ours.seen[-1][1][0]["b"][1], x1[8:].astype(np.float32))


def test_shuffled_leaves_share_one_permutation_per_epoch_drawn_as_for_one_array():
    x1, x2, y1 = _data()
    nested, single = RecordingNested(), RecordingNested()
    for model in (nested, single):
        model.compile()
    nested.fit({"a": x1, "b": [x2]}, (y1, x2), sample_weight=np.arange(N), epochs=3, batch_size=4, verbose=0)
    single.fit(x2, epochs=3, batch_size=4, verbose=0)     # the one-array path, same seed
    for (_, (x, y, w)), (_, rows) in zip(nested.seen, single.seen):
        order = rows // 10                                 # x2 = 10 * row number
        np.testing.assert_array_equal(x["b"][0], rows)     # same permutation as the one-array path
        np.testing.assert_array_equal(x["a"], x1[order].astype(np.float32))
        np.testing.assert_array_equal(y[0], y1[order])
        np.testing.assert_array_equal(y[1], rows)
        np.testing.assert_array_equal(w, order.astype(np.float32))
    epochs = [np.concatenate([rows for _, rows in single.seen[i:i + 3]]) for i in (0, 3, 6)]
    assert all(sorted(e) == list(range(0, 10 * N, 10)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])        # a new permutation each epoch


def _two_by_two(lib):
    """Two inputs (3 and 2 features), two outputs (a regression, a probability)."""
    a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
    hidden = lib.layers.Dense(4, activation="tanh")(lib.layers.Concatenate()([a, b]))
    return [a, b], [lib.layers.Dense(1, name="r")(hidden), lib.layers.Dense(1, activation="sigmoid", name="c")(hidden)]


class SteppingNested(gn.Model):
    """Keras' default step, ported: glassnet's own step on the batch."""

    def train_step(self, data):
        x, y = data
        return self.train_on_batch(x, y, return_dict=True)

    def test_step(self, data):
        x, y = data
        return self.test_on_batch(x, y, return_dict=True)


def test_two_inputs_two_outputs_train_as_keras_default_step(keras):
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    yr, yc = rng.normal(size=(16, 1)).astype(np.float32), rng.integers(0, 2, (16, 1)).astype(np.float32)
    ours, theirs = SteppingNested(*_two_by_two(gn), seed=0), keras.Model(*_two_by_two(keras))
    ours.compile(loss=["mse", "binary_crossentropy"], optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss=["mse", "binary_crossentropy"], optimizer=keras.optimizers.SGD(0.1))
    theirs.set_weights(ours.get_weights())
    # one batch an epoch: Keras' epoch logs are running means, a step's logs are its batch's
    args = dict(x=[xa, xb], y=[yr, yc], epochs=4, batch_size=16, shuffle=False, verbose=0,
                validation_data=([xa[:6], xb[:6]], [yr[:6], yc[:6]]))
    h_ours, h_theirs = ours.fit(**args).history, theirs.fit(**args).history
    for key in ("loss", "r_loss", "c_loss", "val_loss"):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-5)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-4, atol=1e-6)
    # several batches an epoch: the same batches, so the same weights
    args.update(batch_size=5, validation_data=None)
    ours.fit(**args)
    theirs.fit(**args)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-4, atol=1e-6)


def test_several_arrays_are_refused_by_name_when_they_do_not_fit():
    model = RecordingNested()
    model.compile()
    x1, x2, y1 = _data()
    with pytest.raises(ValueError, match=r"^x\['b'\]\[1\]: expected as many samples as x\['a'\] \(10\), got 4"):
        model.fit({"a": x1, "b": [x2, x1[:4]]}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^y\[1\]: expected as many samples as x\[0\] \(10\), got 3"):
        model.fit([x1, x2], [y1, y1[:3]], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^validation_data\[0\]\[1\]: expected as many samples"):
        model.fit([x1, x2], y1, epochs=1, verbose=0, validation_data=([x1, x2[:2]], y1))
    with pytest.raises(TypeError, match=r"^sample_weight: RecordingNested with its own train_step takes one array of "
                                        r"sample weights.*got a list"):
        model.fit(x1, [y1, y1], sample_weight=[np.ones(N), np.ones(N)], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^x\[1\]: expected an array with a batch axis, got a scalar"):
        model.fit([x1, 3.0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^x: expected arrays, got an empty dict"):
        model.fit({}, epochs=1, verbose=0)


def test_a_list_of_numbers_is_one_array_of_targets_as_before():
    model = RecordingNested()
    model.compile()
    x1, _, _ = _data()
    model.fit(x1, list(range(N)), epochs=1, batch_size=4, shuffle=False, verbose=0)
    x, y = model.seen[0][1]
    assert isinstance(y, np.ndarray) and y.tolist() == [0, 1, 2, 3]
    model.seen.clear()
    model.fit([[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]], epochs=1, verbose=0)    # lists of lists: arrays
    x, y = model.seen[0][1]
    assert x.shape == (2, 2) and x.dtype == np.float32 and y.shape == (2, 1)
