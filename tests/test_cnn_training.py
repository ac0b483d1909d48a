"""Convolutional models end to end through Sequential: training lowers the loss, whole-model gradients
match finite differences, and save/load keeps weights, running statistics and predictions."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from glassnet.layers import (AveragePooling2D, BatchNormalization, Conv1D, Conv2D, Dense, Dropout, Flatten,
                             GlobalAveragePooling2D, MaxPooling1D, MaxPooling2D, Reshape)


def bars(n, size=10, seed=0):
    """Images with one horizontal (label 0) or vertical (label 1) bar at a random place, plus noise."""
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((n, size, size, 1))
    y = rng.integers(0, 2, n)
    where = rng.integers(1, size - 1, n)
    for i in range(n):                      # building the data set, not the code under test
        if y[i]:
            x[i, :, where[i], 0] += 1.0
        else:
            x[i, where[i], :, 0] += 1.0
    return x.astype(np.float32), y


def small_cnn(seed=0, dtype="float32", dropout=True):
    layers = [Conv2D(4, 3, padding="same", activation="relu", input_shape=(10, 10, 1)),
              MaxPooling2D(),
              Conv2D(8, 3, activation="relu"),
              BatchNormalization(momentum=0.9),    # running statistics settle within a few epochs
              Flatten()]
    layers += [Dropout(0.2)] if dropout else []
    layers += [Dense(2, activation="softmax")]
    return gn.Sequential(layers, seed=seed, dtype=dtype)


def test_cnn_loss_decreases_and_learns_bars():
    x, y = bars(256)
    model = small_cnn()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(0.01),
                  metrics=["accuracy"])
    assert model.layers[0].output_shape((10, 10, 1)) == (10, 10, 4)
    before = model.evaluate(x, y)[0]
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    loss, accuracy = model.evaluate(x, y)
    assert loss < 0.5 * before and accuracy > 0.9
    assert model.predict(x[:5]).shape == (5, 2)
    assert model.layers[0].params["kernel"].dtype == np.float32


def test_cnn_training_is_reproducible_with_a_seed():
    x, y = bars(64)
    weights = []
    for _ in range(2):
        model = small_cnn(seed=3)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_conv1d_model_trains():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, 24, 2)).astype(np.float32)
    y = (x[:, :, 0].cumsum(axis=1)[:, -1] > 0).astype(int)     # the sign of the first channel's sum
    model = gn.Sequential([Conv1D(6, 5, strides=1, padding="same", activation="tanh", input_shape=(24, 2)),
                           MaxPooling1D(2), Conv1D(4, 3, strides=2), Flatten(),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.01))
    losses = model.fit(x, y, epochs=10, batch_size=32, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]


def test_dense_per_step_after_conv1d_trains_saves_and_checks(rng, tmp_path):
    # a sequence tagger: Dense on (batch, steps, channels) acts per step, as in Keras
    model = gn.Sequential([Conv1D(4, 3, activation="relu", input_shape=(10, 2)), Dense(6, activation="tanh"),
                           Dense(3, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.Adam(0.02), metrics=["accuracy"])
    assert model.output_shape == (None, 8, 3) and model.count_params() == 28 + 30 + 21
    x = rng.standard_normal((64, 10, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, 1:9, 0] > 0) * 1 + (x[:, 1:9, 1] > 1)]    # a class per step
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    model.save(tmp_path / "tagger.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "tagger.npz").predict(x), model.predict(x))
    wide = gn.Sequential([Conv1D(2, 3, activation="tanh", input_shape=(7, 2)), Dense(3, activation="elu"),
                          Flatten(), Dense(2, activation="softmax")], seed=0, dtype="float64")
    wide.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    assert check_model(wide, rng.standard_normal((4, 7, 2)), np.array([0, 1, 1, 0]))["max_error"] < 1e-6


def test_whole_cnn_gradients_match_finite_differences(rng):
    # float64, no dropout (its mask would change between evaluations); BatchNormalization in training
    model = gn.Sequential([Reshape((6, 6, 1), input_shape=(36,)),
                           Conv2D(2, 3, strides=2, padding="same", activation="tanh"),
                           BatchNormalization(),
                           AveragePooling2D(2, strides=1),
                           Conv2D(3, 2, activation="elu"),
                           GlobalAveragePooling2D(),
                           Dense(3, activation="softmax")], seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    report = check_model(model, rng.standard_normal((4, 36)), np.array([0, 1, 2, 1]))
    assert report["max_error"] < 1e-6


def test_save_load_round_trip(tmp_path):
    x, y = bars(64)
    model = small_cnn(seed=5)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    bn = model.layers[3]
    assert not np.allclose(bn.state["moving_mean"], 0)           # running statistics were trained
    path = tmp_path / "cnn.npz"
    model.save(path)
    loaded = gn.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert loaded.get_config() == model.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.layers[3].state["moving_variance"], bn.state["moving_variance"])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # training goes on identically: optimizer slots and the dropout/shuffle generators were restored
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- models whose output is an image (per-pixel targets) ----------------------------------------
def _per_pixel(activation, channels, dtype="float32"):
    model = gn.Sequential([Conv2D(4, 3, padding="same", activation="tanh", input_shape=(6, 6, 1)),
                           Conv2D(channels, 3, padding="same", activation=activation)], seed=0, dtype=dtype)
    return model


def test_a_model_with_image_outputs_trains_on_targets_of_that_shape():
    x, _ = bars(32, size=6)
    model = _per_pixel("sigmoid", 1)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.02), metrics=["accuracy"])
    target = (x > 0.5).astype(np.float32)               # find the bar: one probability per pixel
    history = model.fit(x, target, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.predict(x).shape == target.shape
    for bad, message in [(target[:, :5], r"y: expected targets of shape \(n_samples, 6, 6, 1\)"),
                         (target.reshape(32, -1), r"got shape \(32, 36\)")]:
        with pytest.raises(ValueError, match=message):
            model.fit(x, bad, verbose=0)
    with pytest.raises(ValueError, match="class_weight: .* a class per position; use sample_weight"):
        model.fit(x, target, class_weight={0: 1.0, 1: 2.0}, verbose=0)


@pytest.mark.parametrize("loss,activation,channels", [
    ("mse", "linear", 2), ("mae", "linear", 2), ("squared_error", "tanh", 2),
    ("binary_crossentropy", "sigmoid", 2), ("categorical_crossentropy", "softmax", 3)])
def test_per_pixel_losses_have_checked_gradients_and_keras_values(loss, activation, channels, rng):
    x = rng.standard_normal((3, 6, 6, 1))
    model = _per_pixel(activation, channels, dtype="float64")
    model.compile(loss=loss, optimizer="sgd")
    if loss == "categorical_crossentropy":
        y = np.eye(channels)[rng.integers(0, channels, (3, 6, 6))]
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (3, 6, 6, channels)).astype(float)
    else:
        y = rng.standard_normal((3, 6, 6, channels))
    check_model(model, x, y, sample_weight=rng.uniform(0.5, 2, 3))
    # the value is Keras': each position's loss, averaged over samples and positions
    p = model.predict(x)
    per_position = {"mse": lambda: ((p - y) ** 2).mean(-1), "mae": lambda: np.abs(p - y).mean(-1),
                    "binary_crossentropy": lambda: -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1),
                    "categorical_crossentropy": lambda: -(y * np.log(p)).sum(-1),
                    # half the summed squares per sample, by its definition
                    "squared_error": lambda: np.full(3, 0.5 * ((p - y) ** 2).sum() / 3)}[loss]
    np.testing.assert_allclose(model.evaluate(x, y), per_position().mean(), rtol=1e-10)


def test_sparse_labels_per_pixel_score_as_one_hot():
    # a segmenter's labels: one class per pixel, (n, H, W), scored as Keras does, i.e. as their one-hot
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((4, 6, 6, 1)), rng.integers(0, 3, (4, 6, 6))
    sparse, dense = _per_pixel("softmax", 3, "float64"), _per_pixel("softmax", 3, "float64")
    sparse.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    dense.compile(loss="categorical_crossentropy", optimizer="sgd")
    np.testing.assert_allclose(sparse.evaluate(x, labels), dense.evaluate(x, np.eye(3)[labels]), rtol=1e-12)
    # anything but one label per position is refused, naming the shape wanted
    with pytest.raises(ValueError, match=r"y: sparse_categorical_crossentropy takes one class label per position "
                                         r"of the model's output \(n_samples, 6, 6, 3\), an array of shape "
                                         r"\(n_samples, 6, 6\); got shape \(4,\)"):
        sparse.fit(x, labels[:, 0, 0], verbose=0)
