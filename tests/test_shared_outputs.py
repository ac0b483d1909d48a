"""A layer called more than once that makes a model output (Keras allows it): a language model
whose tied embedding's reverse call gives the logits, a shared Dense making two outputs, a siamese
tower whose embedding is an output too. Each is checked against the same network with the shared
layer's calls written as separate layers holding the same weights (values equal; the shared
layer's gradient the sum of theirs), against PyTorch autograd (float64), and against Keras 3.15
training (weights copied in, a few SGD steps, losses to 1e-5); the fused softmax + cross-entropy
of a shared softmax layer's output call, masks reaching such an output, files, configs, summary."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

L = gn.layers
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _gradients(model, x, y):
    value, _ = model._loss_and_gradients(*model._prepare_xy(x, y, "x", "y"))
    return value, {layer.name: {key: g.copy() for key, g in layer.grads.items()} for layer in model.layers}


def _chain(activation, inner_activation, shared=True):
    """``d(inner(d(x)))`` with ``d`` one layer called twice, or (``shared=False``) two layers d1, d2."""
    x = gn.Input((3,))
    first = L.Dense(3, activation=activation, name="d" if shared else "d1")
    last = first if shared else L.Dense(3, activation=activation, name="d2")
    return gn.Model(x, last(L.Dense(3, activation=inner_activation, name="inner")(first(x))), dtype="float64", seed=0)


def _written_apart(model):
    apart = _chain(model.get_layer("d").activation.name, model.get_layer("inner").activation.name, shared=False)
    for name in ("d1", "d2"):
        apart.get_layer(name).set_weights(model.get_layer("d").get_weights())
    apart.get_layer("inner").set_weights(model.get_layer("inner").get_weights())
    return apart


@pytest.mark.parametrize("activation, inner, loss", [
    (None, "softmax", "mse"),                                       # the output is the linear layer's, not inner's
    ("softmax", None, "categorical_crossentropy"),                  # fused: dL/dz of the shared layer's output call
    ("sigmoid", "tanh", "binary_crossentropy")])
def test_a_shared_layer_making_the_output_equals_its_calls_written_apart(activation, inner, loss, rng):
    model = _chain(activation, inner)
    apart = _written_apart(model)
    for each in (model, apart):
        each.compile(loss=loss, optimizer="sgd")
    # the loss fuses with the output call's activation, not with the last layer listed ("inner")
    assert model._fused == apart._fused == (loss != "mse")
    assert model._output_layer is model.get_layer("d") and model.layers[-1].name == "inner"
    x = rng.normal(size=(7, 3))
    y = np.eye(3)[rng.integers(0, 3, 7)] if loss != "mse" else rng.normal(size=(7, 3))
    np.testing.assert_allclose(model.predict(x, verbose=0), apart.predict(x, verbose=0), rtol=1e-13)
    value, grads = _gradients(model, x, y)
    expected, apart_grads = _gradients(apart, x, y)
    assert value == pytest.approx(expected, rel=1e-13)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-13)
    for key in ("kernel", "bias"):
        np.testing.assert_allclose(grads["d"][key], apart_grads["d1"][key] + apart_grads["d2"][key],
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads["inner"][key], apart_grads["inner"][key], rtol=1e-12, atol=1e-15)
    assert check_model(model, x, y)["max_error"] < 1e-6
    traced, apart_traced = model.trace(x, y), apart.trace(x, y)        # a record per call, as written apart
    assert traced.loss == pytest.approx(apart_traced.loss, rel=1e-13)
    for record, other in zip(traced, apart_traced):
        np.testing.assert_allclose(record["dA"], other["dA"], rtol=1e-12, atol=1e-15)
    # a step trains both calls' weights as the sum: the model stays the two-layer one with tied weights
    model.train_on_batch(x, y)
    apart_step = [w - 0.01 * (apart_grads["d1"][k] + apart_grads["d2"][k]) for k, w in
                  zip(("kernel", "bias"), apart.get_layer("d1").get_weights())]
    for got, want in zip(model.get_layer("d").get_weights(), apart_step):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_the_fused_output_call_of_a_shared_softmax_layer_matches_torch_autograd(rng, torch):
    model = _chain("softmax", "tanh")
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    x, y = rng.normal(size=(6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    value, grads = _gradients(model, x, y)
    d, inner = model.get_layer("d"), model.get_layer("inner")
    w, b = (torch.tensor(d.params[k], requires_grad=True) for k in ("kernel", "bias"))
    v, c = (torch.tensor(inner.params[k], requires_grad=True) for k in ("kernel", "bias"))
    hidden = torch.tanh(torch.softmax(torch.tensor(x) @ w + b, dim=1) @ v + c)
    logits = hidden @ w + b
    loss = -(torch.tensor(y) * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grads["d"]["kernel"], w.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["d"]["bias"], b.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["inner"]["kernel"], v.grad.numpy(), rtol=1e-10, atol=1e-14)


def _two_heads(lib, shared=True, activation="softmax", **kw):
    """Two outputs of one Dense (``shared``), or of two layers d and d_1 (written apart)."""
    a, b = lib.Input((4,)), lib.Input((4,))
    first = lib.layers.Dense(3, activation=activation, name="d")
    second = first if shared else lib.layers.Dense(3, activation=activation, name="d_1")
    return lib.Model([a, b], [first(lib.layers.Dense(5, activation="tanh", name="pa")(a)),
                              second(lib.layers.Dense(5, name="pb")(b))], **kw)


@pytest.mark.parametrize("activation, loss", [("softmax", "categorical_crossentropy"),
                                              ("sigmoid", "binary_crossentropy")])     # (whose value reads z)
def test_two_outputs_of_one_layer_each_read_their_own_logits(activation, loss, rng):
    model = _two_heads(gn, activation=activation, dtype="float64", seed=0)
    apart = _two_heads(gn, shared=False, activation=activation, dtype="float64")
    for name in ("pa", "pb", "d"):
        apart.get_layer(name).set_weights(model.get_layer(name).get_weights())
    apart.get_layer("d_1").set_weights(model.get_layer("d").get_weights())
    for each in (model, apart):
        each.compile(loss=[loss, loss], loss_weights=[1.0, 0.5],
                     optimizer="sgd", metrics=[["accuracy"], ["accuracy"]])
    assert all(head.fused for head in model._heads)
    x = [rng.normal(size=(8, 4)), rng.normal(size=(8, 4))]
    y = [np.eye(3)[rng.integers(0, 3, 8)], np.eye(3)[rng.integers(0, 3, 8)]]
    for got, want in zip(model.predict(x, verbose=0), apart.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    value, grads = _gradients(model, x, y)
    expected, apart_grads = _gradients(apart, x, y)
    assert value == pytest.approx(expected, rel=1e-13)
    for key in ("kernel", "bias"):
        np.testing.assert_allclose(grads["d"][key], apart_grads["d"][key] + apart_grads["d_1"][key],
                                   rtol=1e-12, atol=1e-15)
        for name in ("pa", "pb"):
            np.testing.assert_allclose(grads[name][key], apart_grads[name][key], rtol=1e-12, atol=1e-15)
    # each output's own loss is its own call's (the first call's logits, not the layer's last ones):
    # logged as Keras logs two outputs of one name, the second's with "_1"
    logs, apart_logs = (each.evaluate(x, y, verbose=0, return_dict=True) for each in (model, apart))
    assert sorted(logs) == ["d_accuracy", "d_accuracy_1", "d_loss", "d_loss_1", "loss"]
    for key, other in (("loss", "loss"), ("d_loss", "d_loss"), ("d_loss_1", "d_1_loss"),
                       ("d_accuracy_1", "d_1_accuracy")):
        assert logs[key] == pytest.approx(apart_logs[other], rel=1e-12)
    assert logs["d_loss"] != pytest.approx(logs["d_loss_1"])
    assert check_model(model, x, y)["max_error"] < 1e-6


def test_a_dict_by_a_name_two_outputs_share_is_refused(rng):
    model = _two_heads(gn, seed=0)
    assert model.output_names == ["d", "d"]          # Keras' names: the layer's, twice
    with pytest.raises(ValueError, match=r"loss: outputs \[0, 1\] are all made by layer 'd' \(called more than "
                                         r"once\), so a dict by the outputs' names cannot tell them apart"):
        model.compile(loss={"d": "mse"}, optimizer="sgd")
    model.compile(loss="mse", optimizer="sgd")
    x = [rng.normal(size=(4, 4))] * 2
    with pytest.raises(ValueError, match=r"y: outputs \[0, 1\] are all made by layer 'd'"):
        model.fit(x, {"d": rng.normal(size=(4, 3))}, verbose=0)


def test_a_siamese_tower_whose_embedding_is_an_output_too(rng):
    def siamese(shared):
        a, b = gn.Input((4,)), gn.Input((4,))
        tower = L.Dense(3, activation="tanh", name="tower")
        other = tower if shared else L.Dense(3, activation="tanh", name="tower_b")
        ea, eb = tower(a), other(b)
        score = L.Dense(1, activation="sigmoid", name="score")(L.Subtract()([ea, eb]))
        return gn.Model([a, b], [score, ea], dtype="float64", seed=0)
    model, apart = siamese(True), siamese(False)
    apart.set_weights(model.get_weights()[:2] + model.get_weights())
    for each in (model, apart):
        each.compile(loss=["binary_crossentropy", "mse"], optimizer="sgd")
    x = [rng.normal(size=(6, 4)), rng.normal(size=(6, 4))]
    y = [rng.integers(0, 2, (6, 1)).astype(float), rng.normal(size=(6, 3))]
    value, grads = _gradients(model, x, y)
    expected, apart_grads = _gradients(apart, x, y)
    assert value == pytest.approx(expected, rel=1e-13)
    for key in ("kernel", "bias"):        # the tower's call making the output is read by Subtract too
        np.testing.assert_allclose(grads["tower"][key], apart_grads["tower"][key] + apart_grads["tower_b"][key],
                                   rtol=1e-12, atol=1e-15)
    assert check_model(model, x, y)["max_error"] < 1e-6


def test_a_mask_reaching_a_shared_layer_s_output_call(rng):
    def tagger(shared):
        ids = gn.Input((5,))
        first = L.Dense(4, activation="tanh", name="d" if shared else "d1")
        last = first if shared else L.Dense(4, activation="tanh", name="d2")
        return gn.Model(ids, last(first(L.Embedding(9, 4, mask_zero=True, name="emb")(ids))), dtype="float64", seed=0)
    model, apart = tagger(True), tagger(False)
    apart.set_weights(model.get_weights()[:1] + model.get_weights()[1:] * 2)
    for each in (model, apart):
        each.compile(loss="mse", optimizer="sgd")
    assert model._output_mask is not None       # the embedding's mask passes both calls to the loss
    x = rng.integers(0, 9, (6, 5))
    x[:, 3:] = 0
    y = rng.normal(size=(6, 5, 4))
    value, grads = _gradients(model, x, y)
    expected, apart_grads = _gradients(apart, x, y)
    assert value == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(grads["d"]["kernel"], apart_grads["d1"]["kernel"] + apart_grads["d2"]["kernel"],
                               rtol=1e-12, atol=1e-15)


def _tied_language_model(lib, **kw):
    ids = lib.Input((6,))
    emb = lib.layers.ReversibleEmbedding(13, 5, embeddings_initializer="random_normal", name="tokens")
    h = lib.layers.Dense(5, activation="tanh", name="mix")(emb(ids))
    return lib.Model(ids, emb(h, reverse=True), **kw)


def test_a_tied_language_model_ending_in_the_reverse_call_trains_as_keras(rng, keras):
    ours, theirs = _tied_language_model(gn, seed=0), _tied_language_model(keras)
    theirs.set_weights(ours.get_weights())
    ours.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                 optimizer=gn.optimizers.SGD(learning_rate=0.5))
    theirs.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   optimizer=keras.optimizers.SGD(learning_rate=0.5))
    x, y = rng.integers(0, 13, (10, 6)), rng.integers(0, 13, (10, 6))
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-6)
    for _ in range(4):
        assert ours.train_on_batch(x, y) == pytest.approx(float(theirs.train_on_batch(x, y)), abs=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-4, atol=1e-6)


def test_a_shared_softmax_dense_making_two_outputs_trains_as_keras(rng, keras):
    ours, theirs = _two_heads(gn, seed=0), _two_heads(keras)
    theirs.set_weights([ours.get_layer(name).get_weights()[k] for name in ("pa", "pb", "d") for k in (0, 1)])
    for model, lib in ((ours, gn), (theirs, keras)):
        model.compile(loss=["categorical_crossentropy", "categorical_crossentropy"], loss_weights=[1.0, 0.5],
                      optimizer=lib.optimizers.SGD(learning_rate=0.3), metrics=[["accuracy"], ["accuracy"]])
    x = [rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 4)).astype(np.float32)]
    y = [np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)], np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]]
    for _ in range(4):
        assert ours.train_on_batch(x, y)[0] == pytest.approx(float(theirs.train_on_batch(x, y)[0]), abs=1e-5)
    mine, keras_logs = ours.evaluate(x, y, verbose=0, return_dict=True), theirs.evaluate(x, y, verbose=0,
                                                                                        return_dict=True)
    # Keras logs one "d_loss" (the second output's overwrites the first's); glassnet logs both
    for key in ("loss", "d_accuracy", "d_accuracy_1"):
        assert mine[key] == pytest.approx(keras_logs[key], abs=1e-5)
    assert mine["d_loss_1"] == pytest.approx(keras_logs["d_loss"], abs=1e-5)


def test_files_configs_summary_and_nesting_keep_a_shared_output(tmp_path, rng, capsys):
    lm = _tied_language_model(gn, seed=0)
    x = rng.integers(0, 13, (4, 6))
    lm.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    lm.fit(x, rng.integers(0, 13, (4, 6)), epochs=1, verbose=0)
    lm.save(tmp_path / "lm.npz")
    loaded = gn.load_model(tmp_path / "lm.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), lm.predict(x, verbose=0))
    assert loaded._calls[-1] is loaded.get_layer("tokens") and loaded._call_options[-1] == {"reverse": True}
    again = gn.Model.from_config(lm.get_config())
    again.set_weights(lm.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), lm.predict(x, verbose=0))
    heads = _two_heads(gn, seed=0)
    heads.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=[["accuracy"], ["accuracy"]])
    heads.save(tmp_path / "heads.npz")
    pair = [rng.normal(size=(3, 4))] * 2
    for got, want in zip(gn.load_model(tmp_path / "heads.npz").predict(pair, verbose=0), heads.predict(pair, verbose=0)):
        np.testing.assert_array_equal(got, want)
    heads.summary()
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("d (Dense)"))
    assert "pa" in row and "pb" in row          # its two calls, on each head's branch
    # nested in a Sequential (its last call is the shared layer's) and called in another Model
    base = _chain("softmax", "tanh")
    chain = gn.Sequential([base], dtype="float64")
    inp = gn.Input((3,))
    outer = gn.Model(inp, base(inp), dtype="float64")
    xs, ys = rng.normal(size=(5, 3)), np.eye(3)[rng.integers(0, 3, 5)]
    for model in (base, chain, outer):
        model.compile(loss="categorical_crossentropy", optimizer="sgd")
        assert model._fused
    for model in (chain, outer):
        assert model.evaluate(xs, ys, verbose=0) == pytest.approx(base.evaluate(xs, ys, verbose=0), rel=1e-13)
    chain.save(tmp_path / "chain.npz")
    assert gn.load_model(tmp_path / "chain.npz").evaluate(xs, ys, verbose=0) == pytest.approx(
        chain.evaluate(xs, ys, verbose=0), rel=1e-13)
    with pytest.raises(ValueError, match=r"pop: the last layer, layer inner \(Dense\), .* the output is layer d "
                                         r"\(Dense\)'s, a layer called more than once, not its own"):
        chain.pop()


def test_what_stays_refused_for_a_shared_layer():
    x = gn.Input((3,))
    regularized = L.Dense(3, activity_regularizer="l2")
    with pytest.raises(NotImplementedError, match="called more than once and has an activity_regularizer"):
        gn.Model(x, regularized(regularized(x)))
