"""The Lambda layer: a function of the input, Keras' shapes rules, where it trains (a model's first
layers) and where it is refused (a gradient to pass back; a model file)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)


def test_shapes_found_given_or_computed():
    add_axis = layers.Lambda(lambda x: x[..., None])
    assert add_axis.output_shape((28, 28)) == (28, 28, 1)
    # an axis of any length stays open; a fixed one is found
    pooled = layers.Lambda(lambda x: x.mean(axis=1))
    assert pooled.output_shape((None, 5)) == (5,)
    assert layers.Lambda(lambda x: x[:, ::2]).output_shape((None, 3)) == (None, 3)
    assert layers.Lambda(lambda x: x, output_shape=(7,)).output_shape((3,)) == (7,)
    # Keras' callable: the whole input shape in, the whole output shape out
    assert layers.Lambda(lambda x: x, output_shape=lambda s: (s[0], s[1] * 2)).output_shape((3,)) == (6,)
    with pytest.raises(ValueError, match="give output_shape"):
        layers.Lambda(lambda x: x.reshape(-1, 5)).output_shape((3,))


def test_first_layer_trains_in_a_sequential_as_without_it():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 6, 6)).astype(np.uint8)
    labels = rng.integers(0, 3, 32)

    def build(first):
        model = gn.Sequential([*first, layers.Conv2D(2, 3, activation="relu", seed=1), layers.Flatten(),
                               layers.Dense(3, activation="softmax", seed=2)])
        model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
        return model
    with_lambda = build([layers.Input((6, 6)), layers.Lambda(lambda x: x[..., None] / 255.0)])
    by_hand = build([layers.Input((6, 6, 1))])
    ours = with_lambda.fit(images, labels, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    theirs = by_hand.fit((images / 255.0)[..., None].astype(np.float32), labels, epochs=2, batch_size=8,
                         shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    out = with_lambda.predict(images[:3])
    assert out.dtype == np.float32 and out.shape == (3, 3)       # x / 255.0 computed in float64: cast back


def test_integers_stay_ids_for_an_embedding():
    model = gn.Sequential([layers.Input((4,), dtype="int64"), layers.Lambda(lambda ids: ids % 5),
                           layers.Embedding(5, 2, seed=0), layers.Flatten(), layers.Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="sgd")
    ids = np.array([[1, 6, 11, 3]])
    embedding = model.layers[1]
    np.testing.assert_array_equal(model.predict(ids), model.predict(ids % 5))
    assert embedding.built


def test_a_gradient_through_it_is_refused_before_any_weight_changes():
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, seed=0), layers.Lambda(lambda x: x * 2),
                           layers.Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
    first, _, last = model.layers
    np.testing.assert_allclose(model.predict(x), last.forward(first.forward(x) * 2))     # fine for inference
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="cannot pass a gradient back"):
        model.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_in_a_functional_model_on_the_input_branch():
    inputs = gn.Input((4,))
    logs = layers.Lambda(np.log1p, name="log")(inputs)
    model = gn.Model(inputs, layers.Dense(2, seed=0)(layers.Concatenate()([logs, inputs])))
    model.compile(loss="mse", optimizer="sgd")
    x = np.abs(np.random.default_rng(1).standard_normal((8, 4))).astype(np.float32)
    model.fit(x, np.zeros((8, 2), np.float32), epochs=2, verbose=0)
    assert np.isfinite(model.predict(x)).all()


def test_model_files_refuse_it(tmp_path):
    model = gn.Sequential([layers.Input((3,)), layers.Lambda(lambda x: x + 1), layers.Dense(1, seed=0)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="holds a Python function"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    # the weights alone (a weights-only file), which load_model refuses by name
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(gn.ModelFileError, match="holds weights only"):
        gn.load_model(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="to_json: layer lambda"):
        model.to_json()             # a config could not rebuild it either
    with pytest.raises(ValueError, match="cannot hold it"):
        layers.Lambda.from_config(model.layers[0].get_config())


def test_fakecupy(cupy):
    x = cupy.asarray(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    out = layers.Lambda(lambda a: a[:, ::-1] * 2)(x)
    assert isinstance(out, cupy.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(cupy.asnumpy(out), [[4, 2, 0], [10, 8, 6]])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(function=3), TypeError, "callable"),
    (dict(function=abs, mask=np.ones(3)), NotImplementedError, "mask"),
    (dict(function=abs, arguments=[1]), TypeError, "arguments"),
    (dict(function=abs, output_shape="7"), TypeError, "output_shape"),
    (dict(function=abs, output_shape=(0,)), TypeError, "output_shape"),
])
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        layers.Lambda(**kwargs)


def test_a_function_changing_the_batch_is_refused():
    with pytest.raises(ValueError, match="one row per sample"):
        layers.Lambda(lambda x: x.sum())(np.ones((3, 2)))


def test_review_fixes_shapes_training_argument_and_refusal_before_any_state_moves():
    # an open axis whose output follows it only for some lengths is open
    assert layers.Lambda(lambda h: h[:, :2]).output_shape((None, 4)) == (None, 4)
    # no warnings from the trial on zeros; ids tried where floats fail
    with np.errstate(all="raise"):
        assert layers.Lambda(np.log).output_shape((3,)) == (3,)
    table = np.arange(20.0)
    assert layers.Lambda(lambda ids: table[ids]).output_shape((4,)) == (4,)
    # Keras passes training= to a function that takes it
    noisy = layers.Lambda(lambda x, training=None: x + (100.0 if training else 0.0))
    assert noisy(np.zeros((1, 2)), training=True).tolist() == [[100.0, 100.0]]
    assert noisy(np.zeros((1, 2))).tolist() == [[0.0, 0.0]]
    with pytest.raises(NotImplementedError, match="mask"):
        layers.Lambda(lambda x, mask=None: x)
    # refused before the forward pass: BatchNormalization's moving statistics stay as they were
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, seed=0), layers.BatchNormalization(),
                           layers.Lambda(lambda h: h * 2), layers.Dense(1, seed=1)])
    model.compile(loss="mse", optimizer="sgd")
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match="cannot pass a gradient back"):
        model.train_on_batch(np.random.default_rng(0).standard_normal((8, 3)), np.ones((8, 1)))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_trace_and_check_model_below_a_lambda():
    from glassnet.gradcheck import check_model
    model = gn.Sequential([layers.Input((3,)), layers.Dense(4, name="frozen", seed=0),
                           layers.Lambda(np.tanh), layers.Dense(1, name="top", seed=1)], dtype="float64")
    model.get_layer("frozen").trainable = False
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.random.default_rng(1).standard_normal((5, 3)), np.zeros((5, 1))
    trace = model.trace(x, y)
    assert trace[0]["dA"] is None and trace[0]["grads"] == {} and "frozen" in str(trace)
    report = check_model(model, x, y)
    assert report["skipped"] == ["frozen/kernel", "frozen/bias"] and report["max_error"] < 1e-6


def test_a_wrapped_lambda_above_a_frozen_layer_trains_and_traces():
    model = gn.Sequential([layers.Input((4, 3)), layers.Dense(2, name="frozen", seed=0),
                           layers.TimeDistributed(layers.Lambda(lambda h: h ** 2)), layers.Flatten(),
                           layers.Dense(1, seed=1)])
    model.get_layer("frozen").trainable = False
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.random.default_rng(2).standard_normal((6, 4, 3)).astype(np.float32), np.ones((6, 1), np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.trace(x, y)[0]["grads"] == {}
