"""Weight regularizers: Keras' formulas and numbers, finite differences, PyTorch, files, and refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import regularizers
from glassnet.gradcheck import check_model
from glassnet.layers import Conv2D, Dense, Flatten, Layer
from glassnet.regularizers import L1, L1L2, L2


def test_keras_worked_numbers():
    # Keras 3.15 (TensorFlow) on this model printed loss 9.2, kernel [0.38, -0.22] after one SGD step,
    # 4.7 for evaluate with sample_weight 0.5: pred 3, mse 9, penalty 0.1 * (1 + 1) = 0.2, which
    # sample weights do not scale; gradient 2 * 3 * [1, 2] + 2 * 0.1 * [1, 1] = [6.2, 12.2]
    x, y = np.array([[1.0, 2.0]]), np.array([[0.0]])
    model = gn.Sequential([Dense(1, kernel_initializer="ones", kernel_regularizer=L2(0.1), input_dim=2)],
                          dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    assert model.evaluate(x, y) == pytest.approx(9.2, rel=1e-14)
    assert model.evaluate(x, y, sample_weight=[0.5]) == pytest.approx(4.7, rel=1e-14)
    assert model.test_on_batch(x, y) == pytest.approx(9.2, rel=1e-14)
    history = model.fit(x, y, epochs=1, batch_size=1, verbose=0)
    assert history.history["loss"] == [pytest.approx(9.2, rel=1e-14)]     # before the update, as Keras logs it
    np.testing.assert_allclose(model.get_weights()[0].ravel(), [0.38, -0.22], rtol=1e-14)
    np.testing.assert_allclose(model.get_weights()[1], [-0.6], rtol=1e-14)      # the bias: no penalty


@pytest.mark.parametrize("regularizer, penalty, gradient", [
    (L2(0.5), 0.5 * (1 + 4 + 0 + 9), [[1, -2], [0, 3]]),
    (L1(0.5), 0.5 * (1 + 2 + 0 + 3), [[0.5, -0.5], [0, 0.5]]),     # sign(0) = 0, as Keras and PyTorch
    (L1L2(l1=0.5, l2=0.5), 0.5 * 6 + 0.5 * 14, [[1.5, -2.5], [0, 3.5]]),
])
def test_formulas(regularizer, penalty, gradient):
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert regularizer(w) == pytest.approx(penalty, rel=1e-15)
    grad = np.zeros_like(w)
    regularizer.add_gradient(w, grad)
    np.testing.assert_array_equal(grad, gradient)


def test_float32_stays_float32():
    w = np.array([1.0, -2.0], dtype=np.float32)
    grad = np.zeros_like(w)
    L1L2(l1=0.1, l2=0.1).add_gradient(w, grad)
    assert grad.dtype == np.float32


def _dense_net(seed=0, frozen=False):
    model = gn.Sequential([Dense(4, activation="tanh", kernel_regularizer=L1L2(l1=0.01, l2=0.02),
                                 bias_regularizer=L2(0.03), input_dim=3),
                           Dense(3, activation="softmax", kernel_regularizer=L1(0.05))],
                          seed=seed, dtype="float64")
    model.layers[0].trainable = not frozen
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    return model


def test_finite_differences(rng):
    x, y = rng.standard_normal((6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    report = check_model(_dense_net(), x, y)
    assert report["max_error"] < 1e-6
    conv = gn.Sequential([Conv2D(2, 3, activation="relu", kernel_regularizer="l2", bias_regularizer=L1(0.1),
                                 bias_initializer="ones", input_shape=(5, 5, 1)),
                          Flatten(), Dense(2, activation="sigmoid", kernel_regularizer=L2(0.2))],
                         seed=1, dtype="float64")
    conv.compile(loss="binary_crossentropy", optimizer="sgd")
    report = check_model(conv, rng.standard_normal((4, 5, 5, 1)), rng.integers(0, 2, (4, 2)))
    assert report["max_error"] < 1e-6


def test_penalty_is_part_of_every_loss_value(rng):
    x, y = rng.standard_normal((6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    model, plain = _dense_net(), _dense_net()
    for layer in plain.layers:              # the same network without penalties
        layer.regularizers = {}
    plain.build(plain.input_shape)
    w = model.get_weights()
    penalty = (0.01 * np.abs(w[0]).sum() + 0.02 * (w[0] ** 2).sum() + 0.03 * (w[1] ** 2).sum()
               + 0.05 * np.abs(w[2]).sum())
    assert model.evaluate(x, y) == pytest.approx(plain.evaluate(x, y) + penalty, rel=1e-13)
    assert model.test_on_batch(x, y) == pytest.approx(plain.test_on_batch(x, y) + penalty, rel=1e-13)
    trace = model.trace(x, y)
    assert trace.loss == pytest.approx(plain.trace(x, y).loss + penalty, rel=1e-13)
    # trace's gradients are training's, penalties included
    model._loss_and_gradients(*model._prepare_xy(x, y))
    for layer, record in zip(model.layers, trace):
        for key, grad in layer.grads.items():
            np.testing.assert_array_equal(record["grads"][key], grad)
    history = model.fit(x, y, epochs=1, batch_size=6, validation_data=(x, y), verbose=0)
    assert history.history["loss"][0] == pytest.approx(plain.evaluate(x, y) + penalty, rel=1e-13)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x, y), rel=1e-13)


def test_frozen_layers_are_not_penalised(rng):
    # Keras penalises trainable weights only; with the first layer frozen only the second's counts
    x, y = rng.standard_normal((6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    model = _dense_net(frozen=True)
    w = model.get_weights()
    kernel = model.layers[1].params["kernel"]
    data_loss = model._loss_from_output(model._forward(model._prepare_x(x), training=True), y)
    assert model.evaluate(x, y) == pytest.approx(data_loss + 0.05 * np.abs(kernel).sum(), rel=1e-13)
    model.fit(x, y, epochs=3, verbose=0)
    for before, after in zip(w[:2], model.get_weights()[:2]):
        np.testing.assert_array_equal(before, after)
    report = check_model(model, x, y)
    assert report["max_error"] < 1e-6


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_matches_torch(optimizer, rng, torch):
    # L2(a) on a kernel is torch's weight_decay = 2a on that tensor alone; L1 an explicit penalty
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 3, 8)
    model = gn.Sequential([Dense(5, activation="relu", kernel_regularizer=L2(0.05), input_dim=3),
                           Dense(3, activation="softmax", kernel_regularizer=L1(0.02),
                                 bias_regularizer=L2(0.1))], seed=2, dtype="float64")
    opt = gn.optimizers.SGD(learning_rate=0.1) if optimizer == "sgd" else gn.optimizers.Adam(learning_rate=0.01,
                                                                                              epsilon=1e-8)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=opt)
    params = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    groups = [{"params": [params[0]], "weight_decay": 0.1}, {"params": params[1:]}]
    t_opt = torch.optim.SGD(groups, lr=0.1) if optimizer == "sgd" else torch.optim.Adam(groups, lr=0.01)
    losses = []
    for _ in range(5):
        t_opt.zero_grad()
        h = torch.relu(torch.tensor(x) @ params[0] + params[1]) @ params[2] + params[3]
        data = torch.nn.functional.cross_entropy(h, torch.tensor(y))
        # the logged loss includes every penalty; weight decay is only the gradient of the first
        loss = data + 0.02 * params[2].abs().sum() + 0.1 * (params[3] ** 2).sum()
        losses.append(loss.item() + 0.05 * (params[0] ** 2).sum().item())
        loss.backward()
        t_opt.step()
    history = model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), params):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_saved_and_loaded(tmp_path, rng):
    model = _dense_net()
    x, y = rng.standard_normal((6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].regularizers == {"kernel": L1L2(l1=0.01, l2=0.02), "bias": L2(0.03)}
    assert loaded.layers[1].regularizers == {"kernel": L1(0.05)}
    assert loaded.evaluate(x, y) == model.evaluate(x, y)
    model.fit(x, y, epochs=1, verbose=0)
    loaded.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # without regularizers the config has no such keys: files stay readable by older versions
    assert "kernel_regularizer" not in Dense(2).get_config()


def test_a_custom_layer_regularises_through_add_weight(rng):
    class PenalisedScale(Layer):
        def build(self, input_shape):
            self.add_weight("scale", input_shape, "ones", regularizer=L2(0.5))
            super().build(input_shape)

        def forward(self, x, training=False):
            self.x = x
            return x * self.params["scale"]

        def backward(self, grad_output):
            self.grads["scale"][...] = (grad_output * self.x).sum(axis=0)
            return grad_output * self.params["scale"]

    model = gn.Sequential([PenalisedScale(input_shape=(3,)), Dense(1)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    assert check_model(model, x, y)["max_error"] < 1e-6
    assert model.evaluate(x, y) == pytest.approx(
        model._loss_from_output(model._forward(model._prepare_x(x), training=False), y) + 0.5 * 3, rel=1e-13)


def test_get():
    assert regularizers.get(None) is None
    assert regularizers.get("l2") == L2(0.01) and regularizers.get("L1") == L1(0.01)
    assert regularizers.get({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}) == L1L2(0.1, 0.2)
    assert regularizers.l2 is L2 and regularizers.l1 is L1 and regularizers.l1_l2 is L1L2    # Keras' aliases
    reg = L2(0.3)
    assert regularizers.get(reg) is reg and repr(reg) == "L2(l2=0.3)"


@pytest.mark.parametrize("value, message", [
    ("l1_l2", r"Dense: kernel_regularizer: 'l1_l2' by name would penalise nothing"),
    ("L1L2", r"Dense: kernel_regularizer: 'L1L2' by name would penalise nothing"),
    ("l3", r"Dense: kernel_regularizer: expected None, a Regularizer \(L1, L2, L1L2, OrthogonalRegularizer\), 'l1', 'l2' or 'orthogonal_regularizer', got 'l3'"),
    (0.01, r"Dense: kernel_regularizer: expected None, a Regularizer .*got 0.01"),
    ({"class_name": "L2", "config": {"x": 1}}, r"Dense: kernel_regularizer: bad config"),
    ({"class_name": "os.system", "config": {}}, r"Dense: kernel_regularizer: expected None"),
])
def test_get_refuses(value, message):
    with pytest.raises(ValueError, match=message):
        Dense(2, kernel_regularizer=value)
    with pytest.raises(ValueError, match=message.replace("Dense: kernel", "Conv1D: bias")):
        gn.layers.Conv1D(2, 3, bias_regularizer=value)
    with pytest.raises(ValueError, match=message.replace("Dense: kernel_regularizer", "regularizer")):
        regularizers.get(value)


@pytest.mark.parametrize("make, message", [
    (lambda: L2(-0.1), r"L2: l2 must be a finite number >= 0, got -0.1"),
    (lambda: L1(float("nan")), r"L1: l1 must be a finite number >= 0, got nan"),
    (lambda: L1L2(l2="0.1"), r"L1L2: l2 must be a finite number >= 0, got '0.1'"),
    (lambda: L2(True), r"L2: l2 must be a finite number >= 0, got True"),
])
def test_factors_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_custom_regularizer_trains_but_is_not_saved(tmp_path, rng):
    class Half(L2):                     # trains as written; a file would load it as its parent
        def __call__(self, w):
            return super().__call__(w) / 2

    model = gn.Sequential([Dense(2, kernel_regularizer=Half(0.1), input_dim=3)], dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"save_model: regularizer Half\(l2=0.1\) \(Half\) is not a built-in one"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    with pytest.raises(ValueError, match="is not a built-in one"):
        model.fit(x, y, verbose=0, callbacks=[gn.ModelCheckpoint(str(tmp_path / "c.npz"))])


def test_evaluate_reads_the_trainable_flags_as_they_are(rng):
    # Keras sums the penalties of the weights trainable when it computes the loss; a layer frozen
    # after compile is out of evaluate's loss at once, not only after the next fit
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    model = gn.Sequential([Dense(4, kernel_regularizer=L2(1.0), input_dim=3), Dense(1)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    with_penalty = model.evaluate(x, y)
    kernel = model.layers[0].params["kernel"]
    model.layers[0].trainable = False
    assert model.evaluate(x, y) == pytest.approx(with_penalty - (kernel ** 2).sum(), rel=1e-13)
    assert model.test_on_batch(x, y) == pytest.approx(with_penalty - (kernel ** 2).sum(), rel=1e-13)
    model.layers[0].trainable = True
    assert model.evaluate(x, y) == pytest.approx(with_penalty, rel=1e-13)


def test_a_model_pickled_before_regularizers_and_use_bias_still_works(tmp_path, rng):
    import pickle
    model = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    model.fit(x, y, verbose=0)
    old = pickle.loads(pickle.dumps(model))
    for layer in old.layers:           # what an object pickled by the previous glassnet lacks
        for name in ("use_bias", "kernel_regularizer", "bias_regularizer", "regularizers"):
            layer.__dict__.pop(name, None)
    for name in ("_declared_input", "_penalties"):
        old.__dict__.pop(name, None)
    old = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(old.predict(x), model.predict(x))
    old.fit(x, y, verbose=0)
    model.fit(x, y, verbose=0)
    np.testing.assert_array_equal(old.predict(x), model.predict(x))
    old.save(tmp_path / "old.npz")
    assert gn.load_model(tmp_path / "old.npz").get_config() == model.get_config()
