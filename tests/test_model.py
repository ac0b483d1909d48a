"""Sequential: the API contract, whole-network gradients (finite differences and PyTorch), dtypes,
reproducibility, and the bad inputs each public entry must refuse."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from glassnet.layers import Activation, Dense

LOSS_OUTPUTS = {   # loss -> (output activation, units)
    "mse": ("linear", 3), "squared_error": ("tanh", 3), "mae": ("linear", 3),
    "binary_crossentropy": ("sigmoid", 1), "categorical_crossentropy": ("softmax", 4),
    "sparse_categorical_crossentropy": ("softmax", 4)}


def _targets(loss, n, units, rng):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, units, n)
    if loss == "categorical_crossentropy":
        return np.eye(units)[rng.integers(0, units, n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, n)
    return rng.standard_normal((n, units))


def _net(loss, dtype="float64", seed=0, hidden=("tanh", "elu")):
    activation, units = LOSS_OUTPUTS[loss]
    model = gn.Sequential([Dense(5, activation=hidden[0], input_dim=3), Dense(4, activation=hidden[1]),
                           Dense(units, activation=activation)], seed=seed, dtype=dtype)
    model.compile(loss=loss, optimizer="sgd")
    return model


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_whole_model_gradient_check(loss, rng):
    model = _net(loss)
    x = rng.standard_normal((6, 3))
    report = check_model(model, x, _targets(loss, 6, LOSS_OUTPUTS[loss][1], rng))
    assert len(report["errors"]) == 6


def test_separate_activation_layers_fuse_too(rng):
    model = gn.Sequential([Dense(4, input_dim=3), Activation("tanh"), Dense(3), Activation("softmax")],
                          seed=0, dtype="float64")
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert model._fused
    check_model(model, rng.standard_normal((5, 3)), np.eye(3)[[0, 1, 2, 0, 1]])


@pytest.mark.parametrize("loss", sorted(LOSS_OUTPUTS))
def test_matches_torch_autograd(loss, rng, torch):
    model = _net(loss, hidden=("relu", "sigmoid"))
    x = rng.standard_normal((7, 3))
    y = _targets(loss, 7, LOSS_OUTPUTS[loss][1], rng)
    xp, yp = model._prepare_xy(x, y)
    value, out = model._loss_and_gradients(xp, yp)

    params = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    h = torch.tensor(x)
    acts = [torch.relu, torch.sigmoid, None]
    for i, act in enumerate(acts):
        h = h @ params[2 * i] + params[2 * i + 1]
        if act is not None:
            h = act(h)
    F, t = torch.nn.functional, torch.tensor(yp)
    if loss == "mse":
        tl = F.mse_loss(h, t)
    elif loss == "mae":
        tl = F.l1_loss(h, t)
    elif loss == "squared_error":
        tl = 0.5 * ((torch.tanh(h) - t) ** 2).sum() / 7
        h = torch.tanh(h)
    elif loss == "binary_crossentropy":
        tl = F.binary_cross_entropy_with_logits(h, t)
        h = torch.sigmoid(h)
    elif loss == "categorical_crossentropy":
        tl = F.cross_entropy(h, t)
        h = torch.softmax(h, dim=1)
    else:
        tl = F.cross_entropy(h, torch.tensor(yp))
        h = torch.softmax(h, dim=1)
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=1e-10)
    np.testing.assert_allclose(out, h.detach().numpy(), rtol=1e-10, atol=1e-12)
    grads = [g for layer in model.layers for g in layer.grads.values()]
    for mine, theirs in zip(grads, params):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-8, atol=1e-11)


def test_float32_end_to_end(rng):
    model = _net("sparse_categorical_crossentropy", dtype="float32")
    x, y = rng.standard_normal((20, 3)), rng.integers(0, 4, 20)     # float64 in, cast once
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(g.dtype == np.float32 for layer in model.layers for g in layer.grads.values())
    assert model.predict(x).dtype == np.float32
    assert all(a.dtype == np.float32 for s in model.optimizer.get_state()["slots"].values() for a in s.values())


def test_same_seed_same_run(rng):
    x, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
    runs = []
    for _ in range(2):
        model = _net("binary_crossentropy", dtype="float32", seed=7)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    other = _net("binary_crossentropy", dtype="float32", seed=8)
    assert not np.array_equal(other.get_weights()[0], _net("binary_crossentropy", "float32", seed=7).get_weights()[0])


def test_lazy_build_equals_eager_build(rng):
    eager = gn.Sequential([Dense(4, input_dim=3), Dense(1)], seed=3)
    lazy = gn.Sequential([Dense(4), Dense(1)], seed=3)
    lazy.build((3,))
    for a, b in zip(eager.get_weights(), lazy.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape, message", [
    (3, r"build: input_shape must be a tuple such as \(3,\), got the integer 3$"),
    ("32", r"build: input_shape must be a tuple of positive integers"),    # not the shape (3, 2)
    ((3.5,), r"build: input_shape must hold positive integer sizes"),
])
def test_build_refuses_what_is_not_a_sample_shape(shape, message):
    with pytest.raises(ValueError, match=message):
        gn.Sequential([Dense(4), Dense(1)], seed=3).build(shape)


def test_keras_batch_axis_none_in_build_is_the_sample_shape():
    keras_style = gn.Sequential([Dense(4), Dense(1)], seed=3)
    keras_style.build((None, 3))
    assert keras_style.input_shape == (None, 3)
    for a, b in zip(gn.Sequential([Dense(4, input_dim=3), Dense(1)], seed=3).get_weights(),
                    keras_style.get_weights()):
        np.testing.assert_array_equal(a, b)
    # past the batch axis, None is a length of any size (tests/test_variable_length.py): a Dense
    # then acts on every step; its weights cannot take an open feature axis
    with pytest.raises(ValueError, match=r"kernel' has shape \(None, 4\).*give that axis a size"):
        gn.Sequential([Dense(4)]).build((3, None))
    sequences = gn.Sequential([Dense(4)])
    sequences.build((None, None, 3))
    assert sequences.input_shape == (None, None, 3) and sequences.output_shape == (None, None, 4)


def test_input_declares_the_shape_and_is_not_a_layer(rng, tmp_path):
    declared = gn.Sequential([gn.Input((3,)), Dense(4, activation="tanh"), Dense(1)], seed=3)
    assert declared.built and declared.input_shape == (None, 3)
    assert [layer.name for layer in declared.layers] == ["dense", "dense_1"]    # as in Keras
    eager = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1)], seed=3)
    for a, b in zip(eager.get_weights(), declared.get_weights()):
        np.testing.assert_array_equal(a, b)
    images = gn.Sequential(seed=0)
    images.add(gn.layers.Input(shape=(8, 8, 1)))
    images.add(gn.layers.Conv2D(2, 3))
    assert images.built and images.output_shape == (None, 6, 6, 2)
    # popping every layer keeps the declaration: the next layer builds at once
    declared.pop(), declared.pop()
    assert not declared.built
    declared.add(Dense(2))
    assert declared.built and declared.input_shape == (None, 3)
    assert declared.predict(rng.standard_normal((5, 3))).shape == (5, 2)
    # the Input survives get_config and a model file, with or without layers after it
    for copy in (gn.Sequential.from_config(declared.get_config()), _saved_and_loaded(declared, tmp_path)):
        assert copy.built and [layer.name for layer in copy.layers] == [layer.name for layer in declared.layers]
        while copy.layers:
            copy.pop()
        copy.add(Dense(4))
        assert copy.built and copy.input_shape == (None, 3)
    declared.pop()
    for copy in (gn.Sequential.from_config(declared.get_config()), _saved_and_loaded(declared, tmp_path)):
        copy.add(Dense(4))
        assert copy.built and copy.input_shape == (None, 3)


def _saved_and_loaded(model, folder):
    model.save(folder / "m.npz")
    return gn.load_model(folder / "m.npz")


@pytest.mark.parametrize("build, message", [
    (lambda: gn.Sequential([Dense(2), gn.Input((3,))]), r"add: InputLayer\(shape=\(3,\)\) must come first"),
    (lambda: gn.Sequential([gn.Input((3,)), gn.Input((3,))]), "must come first, before any layer, and only once"),
    (lambda: gn.Sequential([gn.Input((3,)), Dense(2, input_dim=4)]),
     r"expects input samples of shape \(4,\), the model's Input declares \(3,\)"),
    (lambda: gn.Input(3), r"Input: shape must be a tuple such as \(3,\), got the integer 3$"),
    (lambda: gn.Input((0, 3)), r"Input: shape must hold positive integer sizes"),
    (lambda: gn.Input((3,), name="a\x1b[2J"), "Input: name: expected a non-empty string"),
])
def test_input_refuses_what_keras_would_not_build(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_api_contract(rng, capsys):
    model = gn.Sequential(seed=0)
    model.add(Dense(25, activation="relu", input_dim=2))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.1), metrics=["accuracy"])
    x, y = rng.standard_normal((40, 2)), rng.integers(0, 2, 40)
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x[:10], y[:10]), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    loss, acc = model.evaluate(x, y)
    assert 0 <= acc <= 1 and loss > 0
    assert model.predict(x).shape == (40, 1)
    before = model.evaluate(x, y)[0]
    assert model.train_on_batch(x, y)[0] == pytest.approx(before, rel=1e-5)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(2, 25), (25,), (25, 1), (1,)]
    model.set_weights([w * 0 for w in weights])
    assert np.all(model.predict(x) == 0.5)
    model.summary()
    out = capsys.readouterr().out
    assert "dense_1 (Dense)" in out and "(None, 25)" in out and "Total params: 101" in out


def test_history_loss_is_mean_of_batch_losses_and_batch_logs_are_running_means(rng):
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    # the same steps by hand: train_on_batch returns each batch's loss before its update
    by_hand = _net("mse", dtype="float64")
    by_hand.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    steps = [by_hand.train_on_batch(x[i:i + 4], y[i:i + 4]) for i in (0, 4, 8)]
    model = _net("mse", dtype="float64")
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    logs = []
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0, callbacks=[
        gn.callbacks.LambdaCallback(on_train_batch_end=lambda b, batch_logs: logs.append(batch_logs))])
    assert len(logs) == 3                     # batches of 4, 4 and 2 samples
    sizes = np.array([4, 4, 2])
    for k in range(3):                         # Keras: running means, weighted by batch size
        for j, name in enumerate(["loss", "mae"]):
            values = np.array([s[j] for s in steps[:k + 1]])
            assert logs[k][name] == pytest.approx(values @ sizes[:k + 1] / sizes[:k + 1].sum(), rel=1e-12)
    assert history.history["loss"][0] == pytest.approx(logs[-1]["loss"], rel=1e-12)
    assert history.history["mae"][0] == pytest.approx(logs[-1]["mae"], rel=1e-12)


def test_full_batch_and_per_sample_sgd(rng):
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    full = _net("mse")
    expected = [w.copy() for w in full.get_weights()]
    full.fit(x, y, epochs=1, batch_size=None, verbose=0)
    # one full-batch step equals a single train_on_batch on all the data
    manual = _net("mse")
    manual.set_weights(expected)
    manual.train_on_batch(x, y)
    for a, b in zip(full.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # batch_size=1 without shuffling: eight sequential single-sample steps
    sgd = _net("mse")
    sgd.fit(x, y, epochs=1, batch_size=1, shuffle=False, verbose=0)
    steps = _net("mse")
    for i in range(8):
        steps.train_on_batch(x[i:i + 1], y[i:i + 1])
    for a, b in zip(sgd.get_weights(), steps.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("make_optimizer", [lambda: gn.optimizers.Adam(0.01),
                                            lambda: gn.optimizers.SGD(0.05, momentum=0.9)],
                         ids=["adam", "sgd_momentum"])
def test_adding_a_layer_after_training_keeps_the_optimizer_state(make_optimizer, rng):
    """The new layer re-lays the flat parameter buffer: the old weights keep their state, the new
    one starts from zeros, and the step count goes on (glassnet._state_carry; Keras 3.15 refuses the
    new variable with the same optimizer, tests/test_freeze_more.py)."""
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 3))
    model, fresh = (gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(3)], seed=0)
                    for _ in range(2))
    for m in (model, fresh):
        m.compile(loss="mse", optimizer=make_optimizer())
        m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.build(model.input_shape)                 # the same layout again: the state stays
    assert model.optimizer.iterations == 4 and model.optimizer.slots
    state = model.optimizer.get_state()
    for m in (model, fresh):
        m.add(Dense(3))
    fresh.compile(loss="mse", optimizer=make_optimizer())     # what the carried state must amount to
    fresh.optimizer.set_state({"iterations": 4, "slots": {"params": {
        n: np.concatenate([a, np.zeros(12, a.dtype)]) for n, a in state["slots"]["params"].items()}}})
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.optimizer.iterations == 8
    assert all(a.shape == (model.count_params(),) for a in model.optimizer.slots["params"].values())
    fresh.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_freezing_a_layer_after_training_lays_the_optimizer_state_out_anew(rng):
    """The slots shrink to the weights still trained, which keep theirs, and the step count goes on
    (Keras' per-variable slots: tests/test_trainable_fresh.py)."""
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 3))
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(3)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.layers[0].trainable = False
    model.build(model.input_shape)
    frozen = model.get_weights()[:2]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, model.get_weights()[:2]))
    assert model.optimizer.slots["params"]["m"].shape == (model.layers[1].count_params(),)
    assert model.optimizer.iterations == 8


@pytest.mark.parametrize("recompile", [True, False])
def test_trainable_flags_take_effect_without_a_rebuild(recompile, rng):
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(2)], seed=0)  # built here
    model.compile(loss="mse", optimizer="sgd")
    model.layers[0].trainable = False
    if recompile:
        model.compile(loss="mse", optimizer="sgd")        # the Keras way
    frozen = model.layers[0].get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.train_on_batch(x, y)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    model.layers[0].trainable = True                      # and back: it trains again
    model.train_on_batch(x, y)
    assert not np.array_equal(frozen[0], model.layers[0].get_weights()[0])


def test_a_frozen_batchnorm_trains_in_inference_mode(rng):
    x, y = rng.normal(3, 2, (32, 3)), rng.standard_normal((32, 1))
    model = gn.Sequential([Dense(4, input_dim=3), gn.layers.BatchNormalization(), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    bn = model.layers[1]
    bn.trainable = False
    statistics = [a.copy() for a in bn.state.values()]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(statistics, bn.state.values()):        # Keras: frozen statistics stay put
        np.testing.assert_array_equal(a, b)
    h = model.layers[0].forward(x.astype(np.float32))
    np.testing.assert_array_equal(bn.forward(h, training=True), bn.forward(h, training=False))


def _summary_counts(model):
    lines = []
    model.summary(print_fn=lines.append)
    return [line for line in lines[0].splitlines() if "params" in line]


def test_model_trainable_freezes_and_unfreezes_every_layer(rng):
    # Keras: model.trainable = False freezes every layer (summary: "Trainable params: 0"), True
    # unfreezes them all; glassnet used to store the attribute and train on regardless
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    model = gn.Sequential([Dense(4, input_dim=3), gn.layers.BatchNormalization(), Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    assert model.trainable is True
    model.trainable = False
    assert model.trainable is False and not any(layer.trainable for layer in model.layers)
    assert _summary_counts(model) == ["Total params: 42", "Trainable params: 0", "Non-trainable params: 42"]
    frozen = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.train_on_batch(x, y)
    for a, b in zip(frozen, model.get_weights()):     # moving statistics too: a frozen BN keeps them
        np.testing.assert_array_equal(a, b)
    model.trainable = True
    assert model.trainable is True and all(layer.trainable for layer in model.layers)
    assert _summary_counts(model) == ["Total params: 42", "Trainable params: 34", "Non-trainable params: 8"]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(frozen, model.get_weights()))


def test_model_trainable_reads_the_layers_flags(rng):
    model = gn.Sequential([Dense(4, input_dim=3), Dense(2)], seed=0)
    model.trainable = np.bool_(False)                  # what a NumPy comparison gives
    assert [type(layer.trainable) for layer in model.layers] == [bool, bool]
    model.layers[-1].trainable = True                 # fine-tune the top: the model is not all trainable
    assert model.trainable is False
    assert _summary_counts(model)[1] == "Trainable params: 10"
    model.add(Dense(1))                               # a layer added later keeps its own flag
    assert model.layers[-1].trainable is True and model.trainable is False
    for layer in model.layers:
        layer.trainable = True
    assert model.trainable is True
    assert gn.Sequential().trainable is True            # as in Keras, a new model is trainable


@pytest.mark.parametrize("bad", ["False", 0, 1, None, 0.5], ids=repr)
def test_model_trainable_refuses_anything_but_a_bool(bad):
    model = gn.Sequential([Dense(2, input_dim=3)])
    with pytest.raises(TypeError, match=r"^trainable: expected True or False, got "):
        model.trainable = bad
    assert model.layers[0].trainable is True            # nothing was changed


def test_a_frozen_model_stays_frozen_after_save_and_load(tmp_path, rng):
    # model files store each layer's flag; model.trainable is read from them, so it round-trips
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    model = gn.Sequential([Dense(4, input_dim=3), Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.trainable = False
    model.compile(loss="mse", optimizer=model.optimizer)     # Keras' way to take up the change
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.trainable is False
    assert _summary_counts(loaded)[1:] == ["Trainable params: 0", "Non-trainable params: 26"]
    weights = loaded.get_weights()
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(weights, loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_from_architecture():
    arch = [{"input_dim": 2, "output_dim": 25, "activation": "relu"},
            {"input_dim": 25, "output_dim": 50, "activation": "relu"},
            {"input_dim": 50, "output_dim": 1, "activation": "sigmoid"}]
    model = gn.Sequential.from_architecture(arch, seed=0)
    assert [w.shape for w in model.get_weights()] == [(2, 25), (25,), (25, 50), (50,), (50, 1), (1,)]
    bad = [dict(arch[0]), dict(arch[1], input_dim=24)]
    with pytest.raises(ValueError, match=r"architecture\[1\]: input_dim is 24 but the previous layer's output_dim is 25"):
        gn.Sequential.from_architecture(bad)
    with pytest.raises(ValueError, match="unknown keys"):
        gn.Sequential.from_architecture([dict(arch[0], units=3)])
    with pytest.raises(ValueError, match="non-empty list"):
        gn.Sequential.from_architecture([])


@pytest.mark.parametrize("spec", [{"input_dim": 2}, {"output_dim": 1, "activation": "relu"}, "dense"],
                         ids=repr)
def test_from_architecture_names_the_required_keys_and_not_activation(spec):
    with pytest.raises(ValueError, match=r"architecture\[0\]: expected a dict with 'input_dim' and "
                                         r"'output_dim' \('activation' is optional"):
        gn.Sequential.from_architecture([spec])
    # activation may indeed be left out: the layer is linear
    model = gn.Sequential.from_architecture([{"input_dim": 2, "output_dim": 1}], seed=0)
    assert model.layers[0].get_config()["activation"] == "linear"


@pytest.mark.parametrize("entry, message", [({"activation": "rleu"}, r"Dense: activation: expected one of"),
                                            ({"output_dim": 0}, r"Dense: units must be a positive integer")])
def test_from_architecture_names_the_entry_a_layer_refuses(entry, message):
    # a config file's list: "Dense: units ..." alone did not say which entry is wrong
    architecture = [{"input_dim": 2, "output_dim": 4, "activation": "relu"},
                    {"input_dim": 4, "output_dim": 1, "activation": "sigmoid", **entry}]
    with pytest.raises(ValueError, match=rf"^architecture\[1\]: {message}"):
        gn.Sequential.from_architecture(architecture)


def test_early_stopping_restores_best(rng):
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
    model = _net("mse", dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(5.0))           # diverges: loss rises
    stopper = gn.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    initial = model.get_weights()
    history = model.fit(x, y, epochs=50, batch_size=None, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) < 50 and stopper.stopped_epoch > 0
    best = int(np.argmin(history.history["loss"]))
    assert best == stopper.best_epoch
    if best == 0:   # restored weights are those after epoch 1's update
        assert not all(np.array_equal(a, b) for a, b in zip(initial, model.get_weights()))


def test_non_finite_loss_names_epoch_batch_and_layer(rng):
    x, y = rng.standard_normal((64, 3)) * 1e3, rng.standard_normal((64, 3))
    model = gn.Sequential([Dense(8, activation="relu", input_dim=3), Dense(3)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(10.0))
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError, match=r"epoch \d+, batch \d+.*learning rate") as info:
        model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert info.value.epoch >= 1 and info.value.batch >= 1 and info.value.layer in ("dense", "dense_1")


@pytest.mark.parametrize("call", ["fit", "train_on_batch"])
def test_a_non_finite_loss_names_the_layer_it_came_from_and_spares_the_weights(call, rng):
    x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    model = gn.Sequential([Dense(3, activation="tanh", input_dim=2), Dense(3, activation="tanh"),
                           Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    weights = model.get_weights()
    weights[4][...], weights[5][...] = 3e38, 3e38     # finite, but dense_2's output overflows float32
    model.set_weights(weights)
    iterations = model.optimizer.iterations
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError) as info:
        model.fit(x, y, verbose=0) if call == "fit" else model.train_on_batch(x, y)
    assert info.value.layer == "dense_2" and "output of layer dense_2" in str(info.value)
    for a, b in zip(weights, model.get_weights()):          # the step was not applied
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == iterations
    weights[4][...], weights[5][...] = 1e37, 0     # outputs up to ~3e37: finite, their squares not
    model.set_weights(weights)
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError, match="the loss itself overflowed") as info:
        model.fit(x, y, verbose=0) if call == "fit" else model.train_on_batch(x, y)
    assert info.value.layer is None
    assert "scale the targets, or use dtype='float64'" in str(info.value)      # a float32 model


def test_an_update_that_overflows_the_weights_at_the_end_of_an_epoch_is_caught_before_callbacks(rng):
    # the loss of every batch was finite, so only a check of the weights can see that the epoch's
    # last update overflowed them; the next epoch's loss would, but a checkpoint saves before it
    x = 1000 * rng.standard_normal((16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=1e37))
    ends = []
    callback = gn.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError, match=r"the update after epoch 1, batch 1 "
                                                  r"made the parameters of layer dense \(Dense\) NaN or infinite"
                                                  r" \(the loss before it was finite\)") as info:
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert (info.value.epoch, info.value.batch, info.value.layer) == (1, 1, "dense")
    assert ends == [] and len(model.history.history.get("loss", [])) == 0


def test_an_update_that_overflows_the_weights_is_caught_before_a_batch_hook_saves_them(rng, tmp_path):
    x = 1000 * rng.standard_normal((16, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = gn.Sequential([Dense(4, activation="relu", input_dim=3), Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=1e37))
    checkpoint = gn.callbacks.ModelCheckpoint(str(tmp_path / "ck.npz"), monitor="loss", save_freq=1)
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError, match=r"the update after epoch 1, "
                                                  r"batch 1 made the parameters of layer dense"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert list(tmp_path.iterdir()) == []


def test_the_culprit_search_finds_an_infinite_z_and_changes_no_state(rng):
    # a sigmoid turns z = -inf into a finite output, and the search must not update
    # BatchNormalization's statistics a second time or advance Dropout's generator
    from glassnet.layers import BatchNormalization, Dropout
    x = (rng.standard_normal((16, 4)) + 3).astype(np.float32)
    model = gn.Sequential([BatchNormalization(input_dim=4, momentum=0.5), Dropout(0.5),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    weights = model.get_weights()
    weights[4][...] = np.where(np.arange(4)[:, None] % 2, 3e38, -3e38)
    model.set_weights(weights)
    with np.errstate(all="ignore"):
        model.layers[1].forward(x, training=True)           # what the failed step draws, once
    after_one_step = model.layers[1].rng.bit_generator.state
    model = gn.Sequential([BatchNormalization(input_dim=4, momentum=0.5), Dropout(0.5),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    model.set_weights(weights)
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError, match="pre-activation z of layer dense") as info:
        model.train_on_batch(x, np.ones(16))
    assert info.value.layer == "dense"
    np.testing.assert_allclose(model.layers[0].state["moving_mean"], 0.5 * x.mean(axis=0), rtol=1e-6)
    assert model.layers[1].rng.bit_generator.state == after_one_step


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch"])
def test_bad_inputs_are_refused(call, rng):
    model = _net("sparse_categorical_crossentropy", dtype="float32")
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 4, 10)
    fn = getattr(model, call)
    cases = [
        ((x, y[:9]), ValueError, "same number of samples, got 10 and 9"),
        ((x[:, :2], y), ValueError, r"expects samples of shape \(3,\), got samples of shape \(2,\)"),
        ((x, y + 4), ValueError, r"labels must lie in \[0, 4\)"),
        # (evaluate takes NaN inputs, as Keras: tests/test_guides4.py)
        *([((np.where(x > 1, np.nan, x), y), ValueError, "x: contains .* NaN")] if call != "evaluate" else []),
        # finite in float64, inf once cast to the model's float32
        ((np.where(x > 1, 1e39, x), y), ValueError, r"x: contains \d+ value\(s\) beyond the range of float32"),
        ((x, y.astype(float) / 2), ValueError, "integer class labels"),
        ((x[:, 0], y), ValueError, "2-D array"),
        ((np.array([["a", "b", "c"]] * 10), y), TypeError, "x: expected numbers"),
        (([[1, 2, 3], [1, 2]] * 5, y), ValueError, "ragged"),
        ((x[:0], y[:0]), ValueError, "at least one sample"),
        ((None, y), TypeError, "x: expected an array, got None"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=message):
            fn(*args)


def test_summary_counts_weights_as_keras_does():
    model = gn.Sequential([Dense(4, input_dim=3), gn.layers.BatchNormalization(), Dense(2)], seed=0)
    model.layers[2].trainable = False
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    # BatchNormalization: gamma, beta (trained) and the two moving statistics (not); dense_1 frozen
    assert "batch_normalization (BatchNormalization)  (None, 4)     16" in text
    assert "Total params: 42\nTrainable params: 24\nNon-trainable params: 18" in text
    # count_params is Keras' too: every weight, the summary's total
    assert model.count_params() == 42 and model.layers[1].count_params() == 16


def test_fit_arguments_are_checked(rng):
    model = _net("mse", dtype="float32")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    cases = [(dict(initial_epoch=-2), ValueError, "initial_epoch: expected a non-negative integer, got -2"),
             (dict(initial_epoch=1.5), ValueError, "initial_epoch: expected a non-negative integer"),
             (dict(initial_epoch=None), ValueError, "initial_epoch: expected a non-negative integer"),
             (dict(validation_split=None), ValueError, r"validation_split: expected a fraction in \[0, 1\), got None"),
             (dict(validation_split="0.2"), ValueError, "validation_split: expected a fraction"),
             (dict(callbacks=gn.callbacks.History()), TypeError, "callbacks: expected a list of glassnet Callback"),
             (dict(callbacks=[print]), TypeError, "callbacks: expected a list"),
             (dict(verbose=3), ValueError, "verbose: expected 0, 1, 2 or 'auto'")]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            model.fit(x, y, epochs=2, **kwargs)
    assert model.optimizer.iterations == 0               # refused before any step
    history = model.fit(x, y, epochs=3, initial_epoch=np.int64(1), validation_split=np.float32(0.25),
                        verbose=0)
    assert len(history.history["val_loss"]) == 2 and model.history is history


def test_a_fit_that_has_nothing_to_train_says_so(rng):
    # resuming at epoch 5 with epochs=5 trains nothing (Keras too, silently): the slip is reading
    # epochs as "five more"
    model = _net("mse", dtype="float32")
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    weights = model.get_weights()
    with pytest.warns(UserWarning, match=r"^fit: initial_epoch=5 and epochs=5: nothing to train; .* for 5 "
                                         r"more, epochs=10$"):
        history = model.fit(x, y, epochs=5, initial_epoch=5, verbose=0)
    assert history.history == {} and all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))


def test_evaluate_and_predict_take_keras_verbose(rng, capsys):
    model = _net("mse", dtype="float32")
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    loss, mae = model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose="auto")
    assert capsys.readouterr().out == f"loss: {loss:.4f} - mae: {mae:.4f}\n"
    np.testing.assert_array_equal(model.predict(x, verbose=1), model.predict(x))
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        model.predict(x, verbose=5)


def test_targets_and_predict_inputs_beyond_float32_are_refused(rng):
    model = _net("mse", dtype="float32")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"y: contains 1 value\(s\) beyond the range of float32"):
        model.evaluate(x, np.where(y == y.max(), 1e39, y))
    with pytest.raises(ValueError, match="x: contains 1 value"):
        model.predict(np.where(x == x.max(), -1e39, x))
    big = _net("mse", dtype="float64")              # float64 holds them: accepted
    assert np.isfinite(big.predict(np.where(x == x.max(), 1e39, x))).all()   # tanh saturates


def test_one_hot_width_and_compile_errors(rng):
    model = _net("categorical_crossentropy", dtype="float32")
    with pytest.raises(ValueError, match=r"shape \(n_samples, 4\)"):
        model.fit(rng.standard_normal((5, 3)), np.eye(3)[[0, 1, 2, 0, 1]], verbose=0)
    raw = gn.Sequential([Dense(2, input_dim=3)])
    with pytest.raises(ValueError, match="compile"):
        raw.fit(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="sgd"):
        raw.compile(loss="mse", optimizer="sgdd")
    with pytest.raises(ValueError, match="mse"):
        raw.compile(loss="l2")
    # Keras' positional order, compile(optimizer, loss), is taken (tests/test_smalls43.py); two optimizers are not
    with pytest.raises(ValueError, match=r"loss: expected a loss, got 'adam', an optimizer, with optimizer='sgd'"):
        raw.compile("adam", "sgd")
    raw.compile(loss="mse", optimizer="Adam")                 # Keras' spelling of the name
    assert type(raw.optimizer) is gn.optimizers.Adam
    raw.compile(loss="mse")
    for kwargs, message in [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"),
                            ({"epochs": 2.5}, "epochs"), ({"validation_split": 1.5}, "validation_split"),
                            ({"verbose": 3}, "verbose")]:
        with pytest.raises(ValueError, match=message):
            raw.fit(np.ones((4, 3)), np.ones((4, 2)), **kwargs)


def test_pandas_and_lists_are_accepted(rng):
    pd = pytest.importorskip("pandas")
    model = _net("binary_crossentropy", dtype="float32")
    x = rng.standard_normal((12, 3))
    y = rng.integers(0, 2, 12)
    model.fit(pd.DataFrame(x, columns=list("abc")), pd.Series(y), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(x.tolist()), model.predict(pd.DataFrame(x)))


def test_validation_split_holds_out_the_tail(rng):
    model = _net("mse", dtype="float64")
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    history = model.fit(x, y, epochs=1, batch_size=None, validation_split=0.25, verbose=0)
    # Keras' split: floor(10 * 0.75) = 7 training samples, the last 3 for validation
    np.testing.assert_allclose(history.history["val_loss"][0], model.evaluate(x[7:], y[7:]), rtol=1e-12)


@pytest.mark.parametrize("n, fraction, expected", [(10, 0.25, 7), (10, 0.2, 8), (10, 0.3, 7), (7, 0.5, 3),
                                                   (1000, 0.1, 900), (3, 0.01, 2)])
def test_split_point_is_keras_formula(n, fraction, expected):
    from glassnet.training import split_point
    assert split_point(n, fraction) == expected      # (10, 0.25): floor(7.5) = 7; round() had kept 8


def test_split_point_matches_keras_itself():
    pytest.importorskip("keras")
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split
    from glassnet.training import split_point
    for n in (5, 7, 10, 33, 100, 1000):
        for fraction in (0.01, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.9):
            k = split_point(n, fraction)
            if 0 < k < n:
                (train, _) = train_validation_split((np.zeros(n),), fraction)
                assert len(train[0]) == k, (n, fraction)


def test_verbose_output(rng, capsys):
    model = _net("mse", dtype="float32")
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    model.fit(x, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2") and "loss:" in lines[1]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out


def test_progress_bar_only_on_a_terminal():
    import io
    from glassnet.callbacks import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, expect_bar in ((Terminal(), True), (io.StringIO(), False)):
        bar = ProgressBar(1, stream=stream)
        bar.set_params({"epochs": 1, "steps": 3})
        bar.on_train_begin()
        bar.on_epoch_begin(0)
        bar.last_draw -= 1                          # as if the epoch had run for a second
        bar.on_train_batch_end(0, {"loss": 0.5})
        bar.on_epoch_end(0, {"loss": 0.4})
        text = stream.getvalue()
        assert ("[==" in text) is expect_bar and ("\r" in text) is expect_bar
        assert text.rstrip().endswith("loss: 0.4000") and text.endswith("\n")


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_copied_models_keep_training(how, rng):
    """In-memory copies (scikit-learn pickles estimators for n_jobs > 1) must still learn."""
    import copy
    import pickle
    model = _net("mse", dtype="float64")
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 3))
    model.fit(x, y, epochs=1, verbose=0)
    clone = pickle.loads(pickle.dumps(model)) if how == "pickle" else copy.deepcopy(model)
    before = clone.get_weights()
    clone.fit(x, y, epochs=1, verbose=0)
    after = clone.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))
    model.fit(x, y, epochs=1, verbose=0)           # same data, same state: the same step
    for a, b in zip(model.get_weights(), after):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_predict_refuses_bad_inputs(rng):
    model = _net("sparse_categorical_crossentropy", dtype="float32")
    cases = [
        (np.ones((4, 2)), ValueError, r"expects samples of shape \(3,\), got samples of shape \(2,\)"),
        (np.ones(3), ValueError, "2-D array"),
        ([[1, 2, 3], [1, 2]], ValueError, "ragged"),
        (np.array([["a", "b", "c"]]), TypeError, "x: expected numbers"),
        (np.array([[1, 2, 3]], dtype=object), TypeError, "x: expected numbers"),
        (np.ones((0, 3)), ValueError, "at least one sample"),
        # (NaN and inf are taken, as Keras: tests/test_guides4.py; beyond float32 is not)
        (np.array([[1e39, 0, np.inf]]), ValueError, r"contains 1 value\(s\) beyond the range of float32"),
        (None, TypeError, "expected an array, got None"),
    ]
    for x, error, message in cases:
        with pytest.raises(error, match=message):
            model.predict(x)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(np.ones((2, 3)), batch_size=0)


def _small_cnn():
    from glassnet.layers import Conv2D, Flatten, MaxPooling2D
    model = gn.Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 2)), MaxPooling2D(2),
                           Flatten(), Dense(3, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_predict_and_evaluate_without_batch_size_chunk_by_the_largest_array(rng, monkeypatch):
    # one conv sample: 8x8 output pixels, each an im2col row of 3*3*2 numbers plus the bias' one
    model = _small_cnn()
    assert model.layers[0].numbers_per_sample((10, 10, 2)) == 64 * 19
    assert model.layers[-1].numbers_per_sample((64,)) == 3
    x, y = rng.standard_normal((50, 10, 10, 2)), rng.integers(0, 3, 50)
    whole, loss_whole = model.predict(x, batch_size=50), model.evaluate(x, y, batch_size=50)
    assert model._auto_batch_size() == gn.inference.AUTO_CHUNK_NUMBERS // (64 * 19)     # 3449
    seen = []
    forward = model._forward
    monkeypatch.setattr(model, "_forward", lambda xb, training: seen.append(len(xb)) or forward(xb, training))
    np.testing.assert_array_equal(model.predict(x), whole)            # one pass: the same bits
    assert seen == [50]
    monkeypatch.setattr(gn.inference, "AUTO_CHUNK_NUMBERS", 64 * 19 * 16)      # 16 samples a chunk
    seen.clear()
    chunked = model.predict(x)
    assert seen == [16, 16, 16, 2] and chunked.shape == (50, 3) and chunked.dtype == np.float32
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-7)
    seen.clear()
    np.testing.assert_allclose(model.evaluate(x, y), loss_whole, rtol=1e-6)
    assert seen == [16, 16, 16, 2]
    monkeypatch.setattr(gn.inference, "AUTO_CHUNK_NUMBERS", 1)         # never fewer than one sample
    assert model._auto_batch_size() == 1


def test_predict_and_evaluate_cast_integer_pixels_chunk_by_chunk(rng):
    # 20,000 uint8 images of 784 pixels (15.7 MB) as float32 would be 62.7 MB at once
    import tracemalloc
    model = gn.Sequential([Dense(64, activation="relu", input_dim=784), Dense(10, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = rng.integers(0, 256, (20000, 784), dtype=np.uint8), rng.integers(0, 10, 20000)
    assert model._auto_batch_size() == gn.inference.AUTO_CHUNK_NUMBERS // 784          # 5,350 images
    model.predict(x[:2])
    for call in (lambda: model.predict(x), lambda: model.evaluate(x, y)):
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 40e6
    np.testing.assert_array_equal(model.predict(x[:100]), model.predict(x[:100].astype(np.float32)))


def test_one_image_without_its_batch_axis_gets_a_hint():
    from glassnet.layers import Conv2D, Flatten
    model = gn.Sequential([Conv2D(2, 3, input_shape=(8, 8, 1)), Flatten(), Dense(1)], seed=0)
    with pytest.raises(ValueError, match=r"got samples of shape \(8, 1\) \(an array of shape \(8, 8, 1\)\); "
                                         r"one sample needs a batch axis: x\[None\] has shape \(1, 8, 8, 1\)"):
        model.predict(np.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match=r"got samples of shape \(9, 9, 1\) \(an array of shape \(2, 9, 9, 1\)\)$"):
        model.predict(np.zeros((2, 9, 9, 1)))
    # a layer on its own has no name yet: described by its class, once
    assert Conv2D(2, 3).describe() == "layer Conv2D" and model.layers[0].describe() == "layer conv2d (Conv2D)"


def test_predict_never_returns_a_view_of_the_input(rng):
    from glassnet.layers import Flatten, Reshape
    model = gn.Sequential([Reshape((2, 3), input_shape=(6,)), Flatten()])
    x = rng.standard_normal((4, 6)).astype(np.float32)
    for out in (model.predict(x), model.predict(x, batch_size=2), model.predict_on_batch(x)):
        np.testing.assert_array_equal(out, x)
        assert not np.shares_memory(out, x)


def test_predict_without_batch_size_keeps_a_cnns_memory_bounded(rng):
    import tracemalloc
    model = _small_cnn()
    x = rng.standard_normal((20000, 10, 10, 2)).astype(np.float32)      # 16 MB of input
    model.predict(x[:2])
    peaks = {}
    # predict's own batching is under test: the convolutions' chunking of large calls (conv_memory_limit)
    # would bound the one-pass peak too, so it is off here
    limit = gn.config.conv_memory_limit()
    gn.config.set_conv_memory_limit(None)
    try:
        for batch_size in (None, 20000):
            tracemalloc.start()
            model.predict(x, batch_size=batch_size)
            peaks[batch_size] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    finally:
        gn.config.set_conv_memory_limit(limit)
    # in one pass the im2col copy alone is 20000 * 64 * 19 * 4 bytes = 97 MB
    assert peaks[20000] > 97e6
    assert peaks[None] < 50e6 and peaks[None] < peaks[20000] / 3


@pytest.mark.parametrize("shuffle", ["batch", "no", 0, None])
def test_fit_takes_shuffle_as_a_flag_only(shuffle, rng):
    # any non-empty string is truthy: shuffle="no" would shuffle
    model = _net("mse")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    with pytest.raises(TypeError, match=rf"shuffle: expected True or False, got {shuffle!r}"):
        model.fit(x, y, shuffle=shuffle, verbose=0)
    model.fit(x, y, shuffle=np.bool_(False), verbose=0)


# -- get_layer, pop, the single-batch calls, return_dict -------------------------------------------
def test_get_layer_by_name_or_index(rng):
    model = _net("mse")
    first, second, last = model.layers
    assert model.get_layer("dense") is first and model.get_layer(name="dense_2") is last
    assert model.get_layer(index=1) is second and model.get_layer(index=np.int64(0)) is first
    assert model.get_layer(index=-1) is last and model.get_layer(index=-3) is first
    names = r"\['dense', 'dense_1', 'dense_2'\]"
    cases = [
        ({}, ValueError, r"get_layer: give either name or index, not neither .*the layers are " + names),
        ({"name": "dense", "index": 0}, ValueError, r"not both \(got name='dense', index=0\)"),
        ({"name": "dense_9"}, ValueError, r"get_layer: no layer named 'dense_9'; the layers are " + names),
        ({"index": 3}, ValueError, r"get_layer: index 3 is out of range for a model with 3 layer\(s\) " + names),
        ({"index": -4}, ValueError, "index -4 is out of range"),
        ({"index": 1.0}, TypeError, "get_layer: index must be an integer, got float 1.0"),
        ({"index": True}, TypeError, "index must be an integer, got bool"),
        ({"name": 0}, TypeError, "get_layer: name must be a string, got int 0"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            model.get_layer(**kwargs)
    with pytest.raises(ValueError, match=r"no layer named 'dense'; the layers are \[\]"):
        gn.Sequential().get_layer("dense")


def test_pop_then_training_goes_on(rng):
    """pop re-lays the flat parameter buffer; the weights left keep their optimizer state and the
    step count goes on (Keras' slots per variable, glassnet._state_carry): the model then trains
    exactly as a model of the remaining layers given that part of the state."""
    x, y3, y2 = rng.standard_normal((16, 3)), rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(3), Dense(2)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    model.fit(x, y2, epochs=2, batch_size=8, verbose=0)
    kept, popped_weights = model.get_weights()[:4], model.get_weights()[4:]
    state = model.optimizer.get_state()
    popped = model.pop()
    assert popped.name == "dense_2" and [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert model.output_shape == (None, 3) and model.count_params() == 16 + 15
    assert model.optimizer.iterations == 4            # two epochs of two batches, counted on
    # the removed layer owns its weights again, unchanged, and works on its own
    assert all(p.base is None for p in popped.params.values())
    for a, b in zip(popped.get_weights(), popped_weights):
        np.testing.assert_array_equal(a, b)
    assert popped.forward(np.ones((2, 3), dtype=np.float32)).shape == (2, 2)
    fresh = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(3)], seed=1)
    fresh.set_weights(kept)
    fresh.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    # the first 12 + 4 + 12 + 3 values of the buffer are the layers left (the popped 6 + 2 last)
    fresh.optimizer.set_state({"iterations": 4, "slots": {"params": {n: a[:31] for n, a in state["slots"]["params"].items()}}})
    for m in (model, fresh):
        m.fit(x, y3, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[0], kept[0])
    model.add(Dense(2))                                # a new head, named after the free slot
    assert model.layers[-1].name == "dense_2"
    assert np.isfinite(model.fit(x, y2, epochs=1, verbose=0).history["loss"]).all()


def test_pop_a_layer_without_parameters_keeps_the_optimizer_state(rng):
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(3), Activation("softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert model._fused
    model.pop()
    assert not model._fused                             # the softmax it fused with is gone
    assert model.optimizer.iterations == 3 and model.optimizer.slots   # same parameters, same layout
    model.compile(loss="mse", optimizer=model.optimizer)
    model.fit(x, np.eye(3)[y], epochs=1, batch_size=4, verbose=0)
    assert model.optimizer.iterations == 6


def test_pop_down_to_an_empty_model_and_build_again(rng):
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    model = gn.Sequential([Dense(2, input_dim=3)], seed=0)
    model.compile(loss="mse")
    model.fit(x, y, verbose=0)
    model.pop()
    assert model.layers == [] and not model.built and not hasattr(model, "input_shape")      # Keras' AttributeError
    with pytest.raises(ValueError, match="pop: the model has no layers"):
        model.pop()
    with pytest.raises(ValueError, match="not built yet"):
        model.get_weights()
    model.add(Dense(2))                                 # built lazily from the data, as a new model
    model.fit(x, y, verbose=0)
    assert model.built and model.predict(x).shape == (6, 2)
    lazy = gn.Sequential([Dense(4), Dense(1)])          # never built: pop only shortens the list
    lazy.pop()
    assert not lazy.built and lazy.predict(x).shape == (6, 4)


def test_test_on_batch_and_predict_on_batch(rng):
    model = gn.Sequential([Dense(8, activation="relu", input_dim=3), gn.layers.Dropout(0.5),
                           Dense(3, activation="softmax")], seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 3, 10)
    before = model.get_weights()
    loss = model.test_on_batch(x, y)                    # inference mode: no dropout, no update
    assert loss == model.test_on_batch(x, y)
    assert loss == pytest.approx(model.evaluate(x, y), rel=1e-12)
    assert loss == pytest.approx(gn.losses.get("sparse_categorical_crossentropy")(model.predict(x), y))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x))
    np.testing.assert_array_equal(model.predict_on_batch(x.tolist()), model.predict(x))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    value, accuracy = model.test_on_batch(x, y)
    assert value == loss and accuracy == gn.metrics.accuracy(y, model.predict(x))
    for call, error, message in [(lambda: model.test_on_batch(x, y[:9]), ValueError, "same number of samples"),
                                 (lambda: model.predict_on_batch(x[:, :2]), ValueError, "expects samples of shape"),
                                 (lambda: gn.Sequential([Dense(1)]).test_on_batch(x, y), ValueError, "compile")]:
        with pytest.raises(error, match=message):
            call()
    lazy = gn.Sequential([Dense(2)], seed=0)
    assert lazy.predict_on_batch(x).shape == (10, 2) and lazy.built


def test_return_dict(rng):
    model = _net("binary_crossentropy", dtype="float64")
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
    assert model.evaluate(x, y, return_dict=True) == {"loss": model.evaluate(x, y)}
    assert model.test_on_batch(x, y, return_dict=True) == {"loss": model.test_on_batch(x, y)}
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy", "mse"])
    values = model.evaluate(x, y, batch_size=4)
    assert model.evaluate(x, y, batch_size=4, return_dict=True) == dict(zip(["loss", "accuracy", "mse"], values))
    assert list(model.test_on_batch(x, y, return_dict=True)) == ["loss", "accuracy", "mse"]
    clone = _net("binary_crossentropy", dtype="float64")
    clone.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy", "mse"])
    assert model.train_on_batch(x, y, return_dict=True) == dict(zip(["loss", "accuracy", "mse"],
                                                                    clone.train_on_batch(x, y)))
    clone.compile(loss="binary_crossentropy", optimizer="sgd")
    assert list(clone.train_on_batch(x, y, return_dict=True)) == ["loss"]


def test_one_optimizer_instance_trains_one_model(rng):
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)

    def net():
        model = gn.Sequential([Dense(8, activation="relu", input_dim=4), Dense(3, activation="softmax")],
                              seed=0)
        return model
    optimizer = gn.optimizers.Adam(0.01)
    first = net()
    first.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    first.fit(x, y, epochs=2, verbose=0)
    first.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)   # its own: kept
    assert optimizer.iterations == 2                # one full batch per epoch
    # compiled into a second model, the instance starts afresh: the same run as a new optimizer
    reused, fresh = net(), net()
    reused.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    fresh.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.Adam(0.01))
    assert optimizer.iterations == 0
    for model in (reused, fresh):
        model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(reused.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    # and the first model may no longer train with it
    for call in (lambda: first.fit(x, y, verbose=0), lambda: first.train_on_batch(x, y)):
        with pytest.raises(ValueError, match="optimizer: this Adam instance was compiled into another model"):
            call()


def test_a_non_finite_batch_leaves_batch_normalization_statistics_as_they_were(rng):
    # the step is skipped on a non-finite loss; the moving statistics, updated during the forward
    # pass, must be spared too, or the model is left predicting NaN after the error
    x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    model = gn.Sequential([Dense(3, input_dim=2), gn.layers.BatchNormalization(), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    weights = model.get_weights()
    weights[0][...] = 3e38                  # dense's output overflows float32: inf, then NaN in BN
    model.set_weights(weights)
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError):
        model.train_on_batch(x, y)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda dtype: gn.Sequential([Dense(2, input_dim=3)], dtype=dtype),
    lambda dtype: gn.Sequential.from_architecture([{"input_dim": 3, "output_dim": 2}], dtype=dtype),
])
def test_dtype_none_is_the_float32_default_and_others_are_refused(make):
    # np.dtype(None) is float64: None made a float64 model, silently doubling memory and time
    assert make(None).dtype == np.float32 and make(None).layers[0].params["kernel"].dtype == np.float32
    with pytest.raises(ValueError, match="dtype: expected 'float32' or 'float64', got 'float16'"):
        make("float16")
    with pytest.raises(TypeError, match="dtype: expected 'float32' or 'float64', got 'big'"):
        make("big")


def test_from_config_keeps_frozen_layers_frozen(rng):
    # a Dask sweep rebuilds its best model from get_config(): a frozen layer came back trainable
    model = gn.Sequential([Dense(4, input_dim=3), Dense(2)], seed=0)
    model.layers[0].trainable = False
    model.compile(loss="mse", optimizer="sgd")
    config = model.get_config()
    assert [spec.get("trainable", True) for spec in config["layers"]] == [False, True]
    rebuilt = gn.Sequential.from_config(config)
    assert [layer.trainable for layer in rebuilt.layers] == [False, True]
    before = rebuilt.layers[0].get_weights()
    rebuilt.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, rebuilt.layers[0].get_weights()))
    config["layers"][0]["trainable"] = "no"
    with pytest.raises(ValueError, match="'trainable' must be true or false, got 'no'"):
        gn.Sequential.from_config(config)


def test_trace_and_check_model_name_themselves_when_not_compiled(rng):
    model = gn.Sequential([Dense(2, input_dim=3)], seed=0, dtype="float64")
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match=r"^trace: call compile\(loss=..., optimizer=...\) first"):
        model.trace(x, y)
    with pytest.raises(ValueError, match=r"^check_model: call compile"):
        gn.gradcheck.check_model(model, x, y)


def test_fit_makes_one_shuffled_copy_of_the_data_not_two(rng):
    # np.take(..., out=xs) in its default mode="raise" gathers into a hidden temporary of the
    # data's size first: 600 MiB of peak for 300 MiB of data
    import tracemalloc
    x = rng.standard_normal((40_000, 100)).astype(np.float32)          # 16 MB
    y = rng.standard_normal((40_000, 1)).astype(np.float32)
    model = gn.Sequential([gn.layers.Dense(4, input_dim=100), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    tracemalloc.start()
    try:
        model.fit(x, y, epochs=1, batch_size=4_000, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.4 * (x.nbytes + y.nbytes), peak / x.nbytes


def test_validation_runs_in_batches_of_the_batch_size(rng):
    # a whole validation set at once: 631 MiB of peak for 5,000 MNIST images through a small CNN
    seen = []

    class Spy(gn.layers.Layer):
        def forward(self, x, training=False):
            if not training:
                seen.append(x.shape[0])
            return x

        def backward(self, grad_output):
            return grad_output

    model = gn.Sequential([Dense(2, input_dim=3), Spy()], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    seen.clear()
    history = model.fit(x, y, epochs=1, batch_size=8, validation_data=(x, y), verbose=0)
    assert seen[-3:] == [8, 8, 4]
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x, y), rel=1e-6)


def test_nan_in_a_big_input_is_counted_block_by_block():
    # 1.2 million values: checked in blocks (no full-size boolean temporary), every block counted
    from glassnet._validation import as_array
    x = np.zeros((3000, 400), np.float64)
    x[0, 0], x[1500, 7], x[-1, -1] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"^x: contains 3 NaN or infinite value\(s\), the first in sample 0$"):
        as_array(x, "x", np.float32)
    x[0, 0] = x[1500, 7] = 0
    x[-1, -1] = 1e39                  # finite in float64, beyond float32: refused without a cast copy
    with pytest.raises(ValueError, match=r"^x: contains 1 value\(s\) beyond the range of float32"):
        as_array(x, "x", np.float32, cast=False)


def test_fit_on_uint8_pixels_holds_one_float_copy_and_trains_as_on_floats(rng):
    import tracemalloc
    x, y = rng.integers(0, 256, (20000, 784), dtype=np.uint8), rng.integers(0, 10, 20000)

    def model():
        m = gn.Sequential([Dense(8, activation="relu", input_dim=784), Dense(10, activation="softmax")], seed=0)
        m.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(1e-4))
        return m
    as_uint8, as_float = model(), model()
    tracemalloc.start()
    as_uint8.fit(x, y, epochs=1, batch_size=1000, verbose=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 80e6                     # the float32 shuffle buffer (62.7 MB), not a cast copy too
    as_float.fit(x.astype(np.float32), y, epochs=1, batch_size=1000, verbose=0)
    for a, b in zip(as_uint8.get_weights(), as_float.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(6,), (6, 1)])
def test_integer_labels_for_categorical_crossentropy_point_to_the_sparse_loss(shape, rng):
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss="categorical_crossentropy")
    labels = rng.integers(0, 3, 6).reshape(shape)
    with pytest.raises(ValueError, match=r"expected targets of shape \(n_samples, 3\).*use "
                                         r"loss='sparse_categorical_crossentropy' or one-hot encode them"):
        model.fit(rng.standard_normal((6, 2)), labels, verbose=0)


@pytest.mark.parametrize("bad", [1.5, "1", -1, True, [1]])
def test_seeds_are_checked_where_they_are_given(bad):
    # numpy's own error came at build, for a float: "SeedSequence expects int or sequence of ints"
    with pytest.raises(ValueError, match=r"^seed: expected a non-negative integer or None, got"):
        gn.Sequential(seed=bad)
    for layer in (Dense, gn.layers.Dropout):
        with pytest.raises(ValueError, match=rf"^{layer.__name__}: seed: expected a non-negative integer or None"):
            layer(0.5 if layer is gn.layers.Dropout else 3, seed=bad)
    assert Dense(3, seed=np.int64(4)).seed == 4 and type(Dense(3, seed=np.int64(4)).seed) is int


@pytest.mark.parametrize("bad", ["", "a\nb", "dense\x1b[31m", "gpj.\u202eexe", "lone\ud800", ["a"], 3])
def test_names_are_non_empty_strings_without_control_characters(bad):
    with pytest.raises(ValueError, match=r"^name: expected a non-empty string without control characters"):
        gn.Sequential(name=bad)
    with pytest.raises(ValueError, match=r"^Dense: name: expected a non-empty string without control"):
        Dense(3, name=bad)
    assert Dense(3, name="première/couche").name == "première/couche"


def test_calling_a_model_is_keras_model_of_x_in_inference_or_training_mode():
    from glassnet.layers import BatchNormalization, Dense, Dropout
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    model = gn.Sequential([Dense(8, input_shape=(3,)), BatchNormalization(), Dropout(0.5), Dense(2)], seed=0)
    np.testing.assert_array_equal(model(x), model.predict(x))
    moving_before = [w.copy() for w in model.non_trainable_weights]
    trained = model(x, training=True)              # Dropout on, the batch's statistics, moving ones updated
    assert not np.allclose(trained, model.predict(x))
    assert not np.array_equal(model.non_trainable_weights[0], moving_before[0])
    with pytest.raises(TypeError, match="training"):
        model(x, training="yes")
    with pytest.raises(ValueError, match=r"x: the model expects samples of shape \(3,\)"):
        model(x[:, :2])


def test_weights_and_non_trainable_weights_are_keras_lists_of_live_arrays():
    from glassnet.layers import BatchNormalization, Dense
    model = gn.Sequential([Dense(4, input_shape=(3,)), BatchNormalization(), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    assert [w.shape for w in model.weights] == [w.shape for w in model.get_weights()]
    assert [w.shape for w in model.non_trainable_weights] == [(4,), (4,)]      # the moving statistics
    assert len(model.trainable_weights) + len(model.non_trainable_weights) == len(model.weights)
    model.weights[0][...] = 0                      # live: the model's own arrays
    assert not model.get_weights()[0].any()
    model.layers[0].trainable = False
    model.compile("mse", "sgd")
    assert [w.shape for w in model.non_trainable_weights] == [(3, 4), (4,), (4,), (4,)]


def test_compute_output_shape_follows_the_layers_without_building():
    from glassnet.layers import (GRU, Conv2D, Dense, Embedding, Flatten, GlobalAveragePooling1D, MaxPooling2D,
                                 TimeDistributed)
    cnn = gn.Sequential([Conv2D(8, 3, padding="same"), MaxPooling2D(2), Flatten(), Dense(10)])
    assert cnn.compute_output_shape((None, 28, 28, 1)) == (None, 10) and not cnn.built
    tagger = gn.Sequential([Embedding(20, 4), GRU(3, return_sequences=True), TimeDistributed(Dense(2))])
    assert tagger.compute_output_shape((32, 7)) == (32, 7, 2)
    pooled = gn.Sequential([Embedding(20, 4), GlobalAveragePooling1D()])
    assert pooled.compute_output_shape((None, 7)) == (None, 4)
    with pytest.raises(ValueError, match="compute_output_shape: expected a shape with the batch axis first"):
        cnn.compute_output_shape((28,))
    cnn.build((None, 28, 28, 1))
    with pytest.raises(ValueError, match=r"compute_output_shape: the model is built for samples of shape "
                                         r"\(28, 28, 1\), got \(28, 28, 3\)"):
        cnn.compute_output_shape((None, 28, 28, 3))


def test_to_json_and_model_from_json_rebuild_the_network_as_keras_does():
    from glassnet.layers import Dense, Dropout, Layer
    model = gn.Sequential([Dense(4, activation="relu", input_shape=(3,)), Dropout(0.2), Dense(1, activation="sigmoid")],
                          seed=5, name="small")
    model.layers[0].trainable = False
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.01), metrics=["accuracy"])
    text = model.to_json(indent=2)
    assert json.loads(text)["class_name"] == "Sequential" and json.loads(text)["config"]["compile"] is None
    again = gn.model_from_json(text)
    assert again.loss is None and again.name == "small" and not again.layers[0].trainable   # uncompiled, as Keras'
    assert again._config(with_compile=False) == model._config(with_compile=False)
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
    # Keras' configs hold the flag inside the layer's own config: it is kept there too
    keras_style = json.loads(text)
    first = keras_style["config"]["layers"][0]
    first["config"]["trainable"] = first.pop("trainable")
    assert not gn.model_from_json(json.dumps(keras_style)).layers[0].trainable
    assert not gn.Sequential.from_config(keras_style["config"]).layers[0].trainable

    class JsonScale(Layer):                          # its own argument is not in its config
        def __init__(self, factor=1.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def forward(self, x, training=False):
            return x * np.float32(self.factor)

        def backward(self, grad):
            return grad * np.float32(self.factor)

    with pytest.raises(TypeError, match=r"to_json: layer 'json_scale' \(JsonScale\) takes the arguments \['factor'\]"):
        gn.Sequential([Dense(1, input_shape=(2,)), JsonScale(10.0)]).to_json()


def test_model_from_json_trusts_nothing_in_the_string():
    with pytest.raises(ValueError, match="model_from_json: not JSON"):
        gn.model_from_json("{'a': 1}")
    with pytest.raises(ValueError, match="model_from_json: not JSON .RecursionError"):
        gn.model_from_json("[" * 100000)
    with pytest.raises(ValueError, match="model_from_json: expected"):
        gn.model_from_json('{"class_name": "Functional", "config": {}}')
    with pytest.raises(ValueError, match="model_from_json: config: 'layers' must be a list"):
        gn.model_from_json('{"class_name": "Sequential", "config": {"layers": [1]}}')
    with pytest.raises(ValueError, match="model_from_json: unknown layer class 'os.system'"):
        gn.model_from_json('{"class_name": "Sequential", "config": {"layers": [{"class_name": "os.system", '
                           '"config": {}}]}}')
    huge = ('{"class_name": "Sequential", "config": {"input_shape": [2000], "layers": [{"class_name": "Dense", '
            '"config": {"units": 200000}}]}}')
    with pytest.raises(ValueError, match=r"more parameters than max_params=100000000 allows"):
        gn.model_from_json(huge)
    with pytest.raises(ValueError, match=r"more parameters than max_params=1000 allows"):
        gn.model_from_json(huge.replace("200000", "1"), max_params=1000)
    with pytest.raises(ValueError, match="model_from_json: not a glassnet model description .ValueError: Dense: units"):
        gn.model_from_json(huge.replace("200000", "-3"))
    # statistics a layer makes besides its weights, sized by the input shape alone, are capped too
    for settings in ({}, {"axis": [1, 2], "mean": 0.0, "variance": 1.0}):
        statistics = json.dumps({"class_name": "Sequential", "config": {
            "input_shape": [2000, 2000], "layers": [{"class_name": "Normalization", "config": settings}]}})
        with pytest.raises(ValueError, match=r"more parameters than glassnet's cap on statistics \(1000 values\) "
                                             r"allows \(at parameter 'mean and variance'"):
            gn.model_from_json(statistics, max_params=1000)
    with pytest.raises(TypeError, match="model_from_json: expected a JSON string"):
        gn.model_from_json({"class_name": "Sequential"})


def test_a_model_is_refused_where_a_function_is_expected():
    from glassnet.dask import sweep
    model = gn.Sequential([gn.layers.Dense(1, input_shape=(2,))])
    model.compile("mse", "sgd")
    with pytest.raises(TypeError, match="build_fn: expected a function returning a compiled model"):
        sweep(model, {"units": [1]}, np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="kernel_initializer: expected one of"):
        gn.Sequential([gn.layers.Dense(1, input_shape=(2,), kernel_initializer=model)])
    with pytest.raises(ValueError, match="metric: expected one of"):
        model.compile("mse", "sgd", metrics=[model])
    with pytest.raises(TypeError, match="LearningRateScheduler: schedule must be a callable"):
        gn.LearningRateScheduler(model)


# -- a Sequential inside a Sequential (Keras nests models) ------------------------------------------
def test_a_nested_sequential_adds_its_layers_shared_with_the_inner_model(rng):
    from glassnet.layers import Conv2D, Flatten, Input, RandomFlip, RandomZoom, Rescaling
    augmentation = gn.Sequential([RandomFlip("horizontal"), RandomZoom(0.1)])        # Keras' tutorial
    model = gn.Sequential([Input((8, 8, 1)), augmentation, Rescaling(1 / 255), Conv2D(2, 3, activation="relu"),
                           Flatten(), Dense(1, activation="sigmoid")], seed=0)
    assert [type(layer).__name__ for layer in model.layers][:3] == ["RandomFlip", "RandomZoom", "Rescaling"]
    assert all(a is b for a, b in zip(model.layers, augmentation.layers))
    x = rng.integers(0, 255, (32, 8, 8, 1)).astype(np.float32)
    model.compile("binary_crossentropy", "adam")
    model.fit(x, (x.mean(axis=(1, 2, 3)) > 127).astype(np.float32), epochs=1, verbose=0)
    assert augmentation(x[:2], training=True).shape == (2, 8, 8, 1)     # still a model of its own
    # a trained model inside another: the same weights, and the outer model computes through them
    body = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1)], seed=1)
    body.compile("mse", "sgd")
    xs = rng.standard_normal((16, 3)).astype(np.float32)
    body.fit(xs, rng.standard_normal(16), epochs=2, verbose=0)
    export = gn.Sequential([body, gn.layers.Activation("sigmoid")])
    np.testing.assert_allclose(export.predict(xs), 1 / (1 + np.exp(-body.predict(xs))), rtol=1e-6)
    export.compile("binary_crossentropy", "sgd")
    export.fit(xs, (xs[:, 0] > 0).astype(np.float32), epochs=1, verbose=0)
    np.testing.assert_array_equal(body.layers[0].params["kernel"], export.layers[0].params["kernel"])


def test_nested_models_are_renamed_where_names_clash_and_refused_whole():
    first, second = gn.Sequential([Dense(3, input_dim=4)]), gn.Sequential([Dense(3), Dense(2)])
    model = gn.Sequential([first, second, Dense(1)])
    names = [layer.name for layer in model.layers]
    assert names == ["dense", "dense_2", "dense_1", "dense_3"] and len(set(names)) == 4
    with pytest.raises(ValueError, match="a model cannot contain itself"):
        model.add(model)
    with pytest.raises(ValueError, match="has no layers to add"):
        model.add(gn.Sequential())
    wrong = gn.Sequential([Dense(2, input_dim=5), Dense(2)])             # built for 5 inputs, not 1
    before = list(model.layers)
    with pytest.raises(ValueError):
        model.add(wrong)
    assert model.layers == before                                        # nothing of it joined


def test_a_nested_model_used_alone_again_leaves_the_outer_one_training(rng):
    from glassnet.layers import Conv2D, Flatten, Input, RandomFlip, RandomZoom, Rescaling
    augmentation = gn.Sequential([RandomFlip("horizontal"), RandomZoom(0.1)])         # no Input: unbuilt
    # (a layer that learns below the augmentation: its gradient must pass through it)
    model = gn.Sequential([Input((8, 8, 1)), Rescaling(1 / 255), Conv2D(1, 1), augmentation, Conv2D(2, 3),
                           Flatten(), Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", "adam")
    x = rng.integers(0, 255, (16, 8, 8, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 127).astype(np.float32)
    model.fit(x, y, verbose=0)
    augmentation(x[:2], training=True)      # builds it, its first layer marked as a first layer
    model.fit(x, y, verbose=0)              # the outer model marks its layers again: it trains on
    assert model.layers[3].needs_input_gradient


def test_the_inner_model_s_weights_stay_live_and_a_refused_nesting_changes_nothing(rng):
    from glassnet.layers import LSTM, Dropout
    inner = gn.Sequential([Dense(3, input_dim=2), Dropout(0.5), Dense(1)], seed=3)
    inner.compile("mse", "sgd")
    rngs = [layer.rng for layer in inner.layers]
    outer = gn.Sequential([inner])
    outer.compile("mse", gn.optimizers.SGD(0.5))
    outer.fit(rng.standard_normal((8, 2)), rng.standard_normal(8), verbose=0)
    assert inner.trainable_weights[0] is inner.layers[0].params["kernel"] or \
        np.array_equal(inner.trainable_weights[0], inner.layers[0].params["kernel"])
    assert len(inner.non_trainable_weights) == 0
    assert all(layer.rng is r for layer, r in zip(inner.layers, rngs))      # their generators kept
    with pytest.raises(ValueError, match="already in this model"):
        gn.Sequential([inner, inner])
    assert [layer.name for layer in inner.layers] == ["dense", "dropout", "dense_1"]
    host = gn.Sequential([Dense(4, input_dim=2)])
    clash = gn.Sequential([Dense(3, name="dense"), LSTM(2)])                 # an LSTM after Dense: refused
    with pytest.raises(ValueError):
        host.add(clash)
    assert [layer.name for layer in clash.layers] == ["dense", "lstm"] and len(host.layers) == 1
    plain = gn.Sequential([Dense(3, input_dim=4)])
    with pytest.raises(ValueError):
        plain.add(LSTM(2))
    assert len(plain.layers) == 1 and plain.predict(np.ones((1, 4)), verbose=0).shape == (1, 3)


def test_a_refused_nesting_keeps_the_optimizer_state_and_the_inner_layers_unbuilt(rng):
    from glassnet.gradcheck import check_model
    from glassnet.layers import Conv2D
    model = gn.Sequential([Dense(4, input_dim=3), Dense(2)], seed=0)
    model.compile("mse", "adam")
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    model.fit(x, y, epochs=2, verbose=0)
    steps = model.optimizer.iterations
    inner = gn.Sequential([Dense(5), Conv2D(2, 3)])                 # Conv2D on vectors: refused
    with pytest.raises(ValueError):
        model.add(inner)
    assert model.optimizer.iterations == steps and len(model.layers) == 2
    assert not inner.layers[0].built and inner.layers[0].params == {}
    # a nested model compiled on its own marks its first layer; check_model marks the outer's again
    inner64 = gn.Sequential([Dense(4, input_dim=3), Dense(2)], dtype="float64")
    outer64 = gn.Sequential([Dense(3, input_dim=3), inner64], dtype="float64")
    outer64.compile(loss="mse")
    inner64.compile(loss="mse")
    assert check_model(outer64, x, y)["max_error"] < 1e-6


def test_an_input_shape_given_to_a_later_layer_must_be_what_it_gets():
    model = gn.Sequential([Dense(2, input_dim=3)])
    with pytest.raises(ValueError, match=r"declares input samples of shape \(7,\), but the layers before it make "
                                         r"samples of shape \(2,\)"):
        model.add(Dense(5, input_shape=(7,)))
    assert len(model.layers) == 1
    model.add(Dense(5, input_shape=(2,)))                    # the same: fine, as Keras (which warns)
    assert model.output_shape == (None, 5)


@pytest.mark.parametrize("thing, words", [("relu", ["str", "Activation('relu')"]), (None, ["NoneType"]),
                                          (3, ["int"])])
def test_adding_something_that_is_not_a_layer_is_refused_by_name(thing, words):
    # was AttributeError: 'str' object has no attribute 'name'
    with pytest.raises(TypeError, match="add: expected a glassnet layer or model") as info:
        gn.Sequential([gn.layers.Dense(4, input_dim=2), thing])
    assert all(word in str(info.value) for word in words)
    model = gn.Sequential()
    with pytest.raises(TypeError, match="add: expected a glassnet layer or model"):
        model.add(thing)
    assert model.layers == []
