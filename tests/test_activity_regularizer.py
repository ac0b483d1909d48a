"""activity_regularizer: a penalty on a layer's output, in the loss and the gradients (Keras 3's
scaling, regularizer(output) / batch size), checked by finite differences, PyTorch autograd and a
Keras training run."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model
from glassnet.regularizers import L1, L1L2, L2


def _model(first=L1(0.05), last=None, dtype="float64", **compile_kw):
    model = gn.Sequential([gn.layers.Dense(5, activation="tanh", input_dim=3, activity_regularizer=first),
                           gn.layers.Dense(1, activation="sigmoid", activity_regularizer=last)],
                          seed=0, dtype=dtype)
    model.compile(**{"loss": "binary_crossentropy", "optimizer": gn.optimizers.SGD(0.5), **compile_kw})
    return model


@pytest.mark.parametrize("last", [None, L2(0.1)])      # a regularized output is not fused: its gradient is on a
def test_gradients_agree_with_finite_differences(last, rng):
    x, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    model = _model(last=last)
    assert model._fused is (last is None)
    assert check_model(model, x, y)["max_error"] < 1e-7


def test_loss_and_gradients_match_torch(rng, torch):
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12).astype(float)
    model = _model(first=L1L2(0.03, 0.02), last=L2(0.1))
    value, _ = model._loss_and_gradients(x, y[:, None])
    w = [torch.tensor(a, requires_grad=True) for a in model.get_weights()]
    h = torch.tanh(torch.tensor(x) @ w[0] + w[1])
    p = torch.sigmoid(h @ w[2] + w[3])
    n = x.shape[0]
    loss = (torch.nn.functional.binary_cross_entropy(p, torch.tensor(y[:, None]))
            + (0.03 * h.abs().sum() + 0.02 * (h ** 2).sum()) / n + 0.1 * (p ** 2).sum() / n)
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    grads = [g for layer in model.layers for g in (layer.grads["kernel"], layer.grads["bias"])]
    for ours, theirs in zip(grads, w):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_evaluate_validation_and_trace_include_it_predict_does_not(rng):
    x, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    with_penalty, without = _model(first=L2(1.0)), _model(first=None)
    assert np.array_equal(with_penalty.predict(x), without.predict(x))      # the same weights
    h = with_penalty.layers[0](x)
    expected = without.evaluate(x, y, batch_size=20) + float((h ** 2).sum()) / 20
    assert with_penalty.evaluate(x, y, batch_size=20) == pytest.approx(expected, rel=1e-12)
    # batch by batch, as Keras: each batch's penalty over its own size, the mean weighted by size
    # (for L1 and L2, sums over samples, the same as over the whole set at once)
    assert with_penalty.evaluate(x, y, batch_size=7) == pytest.approx(expected, rel=1e-12)
    trace = with_penalty.trace(x, y)
    plain = without.trace(x, y)
    assert trace.loss == pytest.approx(plain.loss + float((h ** 2).sum()) / 20, rel=1e-12)
    # dA of the regularized layer carries the penalty's gradient, 2 * 1.0 * h / n
    np.testing.assert_allclose(trace[0]["dA"] - plain[0]["dA"], 2 * trace[0]["A"] / 20, rtol=1e-9, atol=1e-15)
    history = with_penalty.fit(x, y, epochs=1, batch_size=20, validation_data=(x, y), verbose=0).history
    assert history["val_loss"][0] == pytest.approx(with_penalty.evaluate(x, y, batch_size=20), rel=1e-12)


def test_training_matches_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = rng.standard_normal((32, 3)).astype(np.float32), rng.integers(0, 2, 32).astype(np.float32)
    ours = _model(first=L2(0.05), last=L1(0.01), dtype="float32")
    theirs = keras.Sequential([keras.Input((3,)),
                               keras.layers.Dense(5, activation="tanh", activity_regularizer=keras.regularizers.L2(0.05)),
                               keras.layers.Dense(1, activation="sigmoid",
                                                  activity_regularizer=keras.regularizers.L1(0.01))])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    assert ours.evaluate(x, y, batch_size=8) == pytest.approx(theirs.evaluate(x, y, batch_size=8, verbose=0), rel=1e-5)
    ours_history = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their_history = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_history, their_history, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_any_layer_takes_it_and_files_keep_it(rng, tmp_path):
    model = gn.Sequential([gn.layers.Conv2D(2, 3, input_shape=(6, 6, 1), activity_regularizer="l2"),
                           gn.layers.MaxPooling2D(2, activity_regularizer=L1(0.1)),
                           gn.layers.Flatten(), gn.layers.Dense(2, activation="softmax")], seed=0, dtype="float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x, y = rng.standard_normal((6, 6, 6, 1)), rng.integers(0, 2, 6)
    assert check_model(model, x, y)["max_error"] < 1e-7
    model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    assert model.layers[1].get_config()["activity_regularizer"] == {"class_name": "L1", "config": {"l1": 0.1}}
    model.save(tmp_path / "a.npz")
    loaded = gn.load_model(tmp_path / "a.npz")
    assert loaded.get_config() == model.get_config() and loaded.layers[0].activity_regularizer == L2(0.01)
    assert loaded.evaluate(x, y) == model.evaluate(x, y)
    with pytest.raises(ValueError, match=r"Dense: activity_regularizer: expected None, a Regularizer"):
        gn.layers.Dense(2, activity_regularizer="l3")


def test_a_regularizer_set_after_compile_counts_from_the_next_batch(rng):
    # models cache which layers have one; setting it must reach that cache
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    model = _model(first=None)
    before = model.evaluate(x, y)
    model.layers[0].activity_regularizer = L2(1.0)
    h = model.layers[0](x)
    assert model.evaluate(x, y) == pytest.approx(before + float((h ** 2).sum()) / 8, rel=1e-12)
    model.layers[0].activity_regularizer = None
    assert model.evaluate(x, y) == pytest.approx(before, rel=1e-15)


def test_a_regularizer_set_on_the_output_after_compile_unfuses_it(rng):
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    model = _model(first=None)
    assert model._fused
    model.layers[-1].activity_regularizer = L2(1.0)
    assert check_model(model, x, y)["max_error"] < 1e-7 and not model._fused
    model.layers[-1].activity_regularizer = None
    model.evaluate(x, y)
    assert model._fused


def test_kept_outputs_let_the_data_go_and_pickles_ask_again(rng):
    import gc
    import pickle
    import weakref
    model = gn.Sequential([gn.layers.Flatten(input_shape=(4, 4), activity_regularizer=L1(0.1)),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    x, y = rng.standard_normal((50, 4, 4)), rng.integers(0, 2, 50)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    model.predict(x)
    watcher = weakref.ref(x)
    del x
    gc.collect()
    assert watcher() is None                  # the Flatten's output (a view of x) was not kept
    copy = pickle.loads(pickle.dumps(model))
    assert "_activity_cache" not in copy.__dict__
    x = rng.standard_normal((5, 4, 4))
    assert copy.evaluate(x, np.ones(5)) == pytest.approx(model.evaluate(x, np.ones(5)), rel=1e-6)


def test_an_overflowing_penalty_is_named(rng):
    model = gn.Sequential([gn.layers.Dense(2, input_dim=2, kernel_initializer=gn.initializers.Constant(1e19),
                                           activity_regularizer=L2(1.0)),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(gn.NonFiniteError, match=r"activity penalty .* of layer dense \(Dense\)"):
        model.fit(np.ones((4, 2), np.float32), np.ones(4), epochs=1, verbose=0)
