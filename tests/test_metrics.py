"""Metrics: mae and mse by hand and against NumPy, in float32 without a float64 copy, through
compile/fit/evaluate, and the exact-key table's errors."""
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, metrics
from glassnet.layers import Dense


def test_mae_and_mse_by_hand():
    y_pred, y_true = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 4.0], [3.0, 1.0]])
    assert metrics.functions.mean_absolute_error(y_true, y_pred) == 1.5      # (1 + 2 + 0 + 3) / 4
    assert metrics.functions.mean_squared_error(y_true, y_pred) == 3.5       # (1 + 4 + 0 + 9) / 4


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_mae_and_mse_against_numpy(dtype, rtol, rng):
    y_pred, y_true = rng.standard_normal((50, 3)).astype(dtype), rng.standard_normal((50, 3)).astype(dtype)
    d = y_pred.astype(np.float64) - y_true
    assert type(metrics.functions.mean_absolute_error(y_true, y_pred)) is float
    np.testing.assert_allclose(metrics.functions.mean_absolute_error(y_true, y_pred), np.abs(d).mean(), rtol=rtol)
    np.testing.assert_allclose(metrics.functions.mean_squared_error(y_true, y_pred), (d ** 2).mean(), rtol=rtol)


@pytest.mark.parametrize("fn", [metrics.functions.mean_absolute_error, metrics.functions.mean_squared_error])
def test_float32_needs_one_float32_temporary_only(fn, rng):
    # fit calls metrics on every batch: a float64 copy would double the memory traffic
    y_pred = rng.standard_normal((250_000, 4)).astype(np.float32)
    y_true = rng.standard_normal((250_000, 4)).astype(np.float32)
    tracemalloc.start()
    try:
        fn(y_true, y_pred)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * y_pred.nbytes


@pytest.mark.parametrize("names,logged", [
    (["mae", "mse"], ["mae", "mse"]),
    (["mean_absolute_error", "mean_squared_error"], ["mean_absolute_error", "mean_squared_error"]),
])
def test_fit_and_evaluate_report_them(names, logged, rng):
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))
    xv, yv = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(2)], seed=0)
    model.compile(loss="squared_error", optimizer="sgd", metrics=names)
    history = model.fit(x, y, epochs=2, batch_size=8, validation_data=(xv, yv), verbose=0)
    assert sorted(history.history) == sorted(["loss", *logged, "val_loss", *(f"val_{m}" for m in logged)])
    loss, mae, mse = model.evaluate(xv, yv)
    d = model.predict(xv).astype(np.float64) - yv
    np.testing.assert_allclose([mae, mse], [np.abs(d).mean(), (d ** 2).mean()], rtol=1e-5)
    np.testing.assert_allclose(loss, 0.5 * (d ** 2).sum() / len(d), rtol=1e-5)   # not the same value
    # the last epoch's validation values are those evaluate gives for the same weights
    np.testing.assert_allclose(history.history[f"val_{logged[0]}"][-1], mae, rtol=1e-6)


def test_the_table_resolves_keras_names_and_lists_them_on_error():
    assert metrics.get("mae") == ("mae", metrics.functions.mean_absolute_error)
    assert metrics.get("mean_squared_error") == ("mean_squared_error", metrics.functions.mean_squared_error)
    assert metrics.get("MAE")[0] == "MAE"                           # Keras' upper-case alias, as a loss
    with pytest.raises(ValueError, match="'mae'.*'mean_absolute_error'.*'mse'") as info:
        metrics.get("Mae")                                           # exact keys only
    assert "'Mae'" in str(info.value)


def test_targets_not_shaped_like_the_output_are_refused(rng):
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["mae"])
    with pytest.raises(ValueError, match=r"mae: expected targets of the output's shape \(8, 3\), got shape \(8,\); it takes targets shaped like the output"):
        model.fit(rng.standard_normal((8, 2)), rng.integers(0, 3, 8), verbose=0)


def test_public_calls_take_n_labels_for_one_output_and_refuse_other_shapes(rng):
    # the README's data: predict gives (n, 1), the dataset's labels are (n,)
    p = rng.uniform(0.01, 0.99, (50, 1)).astype(np.float32)
    y = rng.integers(0, 2, 50)
    assert metrics.accuracy(y, p) == metrics.accuracy(y[:, None], p) <= 1
    for name in ("binary_crossentropy", "mse", "mae", "squared_error"):
        loss = losses.get(name)
        assert loss(p, y) == loss(p, y[:, None])
        np.testing.assert_array_equal(loss.gradient(p, y), loss.gradient(p, y[:, None]))
    with pytest.raises(ValueError, match=r"binary_crossentropy: expected targets of the output's shape \(50, 1\), got shape \(49,\)"):
        losses.get("binary_crossentropy")(p, y[:49])


@pytest.mark.parametrize("loss,metric,labels", [
    ("sparse_categorical_crossentropy", "categorical_crossentropy", True),
    ("categorical_crossentropy", "sparse_categorical_crossentropy", False),
    ("sparse_categorical_crossentropy", "binary_accuracy", True),
    ("sparse_categorical_crossentropy", "binary_crossentropy", True)])
def test_a_metric_that_does_not_fit_the_targets_says_so(loss, metric, labels, rng):
    # batch size = number of classes: broadcasting would have given a number, not an error
    x, y = rng.standard_normal((3, 2)), rng.integers(0, 3, 3)
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss=loss, optimizer="sgd", metrics=[metric])
    with pytest.raises(ValueError, match=rf"{metric}: expected"):
        model.evaluate(x, y if labels else np.eye(3)[y], batch_size=3)


def test_reported_numbers_are_python_floats():
    # accuracy is a NumPy mean inside; what fit, evaluate and the batch calls hand back are plain
    # floats (json.dumps takes them; np.float64(...) reprs clutter every printed dict)
    X = np.random.default_rng(0).random((20, 2)).astype("float32")
    y = (X[:, 0] > 0.5).astype(int)
    model = gn.Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="sgd",
                  metrics=["accuracy", lambda t, p: np.float64(1.5)])
    seen = []
    cb = gn.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs))
    history = model.fit(X, y, epochs=1, batch_size=8, verbose=0, validation_data=(X, y), callbacks=[cb])
    reported = [*model.evaluate(X, y), *model.train_on_batch(X, y), *model.test_on_batch(X, y),
                *model.evaluate(X, y, return_dict=True).values(),
                *(values[0] for values in history.history.values()), *seen[-1].values()]
    assert len(reported) == 3 * 4 + 6 + 3
    assert all(type(v) is float for v in reported), [type(v) for v in reported]


def test_a_metric_function_is_called_with_the_targets_first(rng):
    # README: "a function f(y_true, y_pred)", the order of Keras and scikit-learn; an asymmetric
    # metric exposes a swap that a symmetric one (mae, accuracy on one-hot rows) would hide
    def mean_of_y_pred(y_true, y_pred):
        return float(np.mean(y_pred))
    x, y = rng.standard_normal((10, 3)), np.full((10, 1), 7.0)
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd", metrics=[mean_of_y_pred])
    expected = model.predict(x).mean()
    assert model.evaluate(x, y, return_dict=True)["mean_of_y_pred"] == pytest.approx(expected)
    assert model.test_on_batch(x, y)[1] == pytest.approx(expected)
    assert model.train_on_batch(x, y)[1] == pytest.approx(expected)      # before the update
    history = model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert history.history["mean_of_y_pred"][0] == pytest.approx(expected, abs=0.5)   # one step on
    assert history.history["mean_of_y_pred"][0] != pytest.approx(7.0)


@pytest.mark.parametrize("name", ["accuracy", "categorical_accuracy"])
def test_accuracy_of_an_image_shaped_softmax_output(name, rng):
    # a model whose output is an image of class scores (README): one prediction per position
    from glassnet.layers import Conv2D
    x = rng.standard_normal((6, 5, 5, 2))
    labels = rng.integers(0, 3, (6, 5, 5))
    model = gn.Sequential([Conv2D(3, 3, padding="same", activation="softmax", input_shape=(5, 5, 2))],
                          seed=0, dtype="float64")
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=[name])
    expected = np.mean(model.predict(x).argmax(axis=-1) == labels)
    assert model.evaluate(x, np.eye(3)[labels])[1] == pytest.approx(expected)
    assert getattr(metrics.functions, name)(labels, model.predict(x)) == pytest.approx(expected)   # labels too
    model.fit(x, np.eye(3)[labels], epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"one-hot targets of shape \(6, 5, 5, 3\) or labels of shape \(6, 5, 5\), got shape \(6, 5\)"):
        getattr(metrics.functions, name)(labels[:, 0], model.predict(x))


def _named(name):
    fn = lambda y_true, y_pred: 0.0      # noqa: E731
    fn.__name__ = name
    return fn


# (two "mse", two lambdas: numbered "mse_1", as Keras 3.15 logs them, tests/test_metric_names.py)
@pytest.mark.parametrize("given", [
    [_named("loss")],                                 # would replace the training loss
    [_named("val_acc"), "acc"],                       # "val_acc" twice once validated
])
def test_metrics_that_would_log_under_one_name_are_refused(given):
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0)
    with pytest.raises(ValueError, match=r"metrics: the names .* would log several values under .*distinct name"):
        model.compile(loss="mse", optimizer="sgd", metrics=given)
    assert model.loss is None            # nothing half-compiled


def test_a_metric_that_does_not_fit_fails_before_any_update(rng):
    x, y = rng.standard_normal((8, 2)), rng.integers(0, 3, 8)
    model = gn.Sequential([Dense(3, activation="softmax", input_dim=2)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["mae"])
    before = [w.copy() for w in model.get_weights()]
    for call in (lambda: model.fit(x, y, epochs=2, batch_size=4, verbose=0),
                 lambda: model.train_on_batch(x, y)):
        with pytest.raises(ValueError, match="mae: expected targets"):
            call()
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # validation targets that the loss takes but a metric refuses: an error before the first
    # epoch, not after it
    def probabilities_only(y_true, y_pred):
        if y_true.max() > 1:
            raise ValueError("probabilities_only: targets above 1")
        return 0.0
    model.compile(loss="mse", optimizer="sgd", metrics=[probabilities_only])
    with pytest.raises(ValueError, match="targets above 1"):
        model.fit(x, np.eye(3)[y], validation_data=(x, 2 * np.eye(3)[y]), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_metric_function_returning_per_sample_values_is_averaged_as_in_keras(rng):
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))

    def per_sample(y_true, y_pred):
        return np.abs(y_pred - y_true).ravel()
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0, dtype="float64")
    model.compile("mse", metrics=[per_sample, "mae"])
    loss, averaged, mae = model.evaluate(x, y)
    assert averaged == pytest.approx(mae, rel=1e-12)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)      # batches of 4 and 2
    assert np.isfinite(history.history["per_sample"]).all()

    def right(y_true, y_pred):                       # booleans per sample, averaged as 0 and 1
        return np.abs(y_pred - y_true).ravel() < 1.0
    model.compile("mse", metrics=[right])
    assert model.evaluate(x, y)[1] == np.mean(np.abs(model.predict(x) - y) < 1.0)


@pytest.mark.parametrize("result", [None, "0.5", [0.5], np.array([], np.float32), True])
def test_a_metric_function_that_returns_no_number_is_named(result, rng):
    def broken(y_true, y_pred):
        return result
    model = gn.Sequential([gn.layers.Dense(1, input_dim=3)], seed=0)
    model.compile("mse", metrics=[broken])
    for call in (lambda: model.evaluate(rng.standard_normal((6, 3)), np.zeros(6)),
                 lambda: model.fit(rng.standard_normal((6, 3)), np.zeros(6), verbose=0)):
        with pytest.raises(TypeError, match=r"^metric 'broken': expected a number, or an array of per-sample "
                                            r"values \(averaged, as Keras does\), got"):
            call()


def test_accuracy_refuses_regression_targets_for_one_output(rng):
    # targets 3.2 and outputs 2.9 are both "class 1" at a 0.5 threshold: accuracy 1.0 for a
    # regression model (Keras counts them as wrong); neither is a class
    x = rng.standard_normal((6, 3))
    model = gn.Sequential([Dense(1, input_dim=3)], seed=0)
    for metric in ("accuracy", "binary_accuracy"):
        model.compile("mse", metrics=[metric])
        for call in (lambda: model.evaluate(x, 3 * x[:, 0]), lambda: model.fit(x, 3 * x[:, 0], verbose=0)):
            with pytest.raises(ValueError, match=rf"^y: the metric '{metric}' counts targets as classes 0 and 1, "
                                                 rf"got values from .* for a regression model, use 'mae' or 'mse'"):
                call()
    model.compile("mse", metrics=["accuracy"])
    assert 0 <= model.evaluate(x, (x[:, 0] > 0).astype(float))[1] <= 1      # 0/1 targets: fine


def test_sparse_categorical_accuracy_takes_keras_label_shapes_and_names_itself():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]], np.float32)
    f = metrics.METRICS["sparse_categorical_accuracy"]
    assert f(np.array([0, 2]), p) == f(np.array([[0], [2]]), p) == 0.5
    assert metrics.METRICS["accuracy"](np.array([[0], [1]]), p) == 1.0
    with pytest.raises(ValueError, match=r"^sparse_categorical_accuracy: expected one-hot targets of shape "
                                         r"\(2, 3\) or labels of shape \(2,\), got shape \(2, 2\)"):
        f(np.zeros((2, 2)), p)


def test_a_sparse_loss_called_directly_refuses_labels_out_of_range():
    # fit checks labels once; a direct call indexed with -1 picked the last class, silently
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]], np.float32)
    scce = losses.get("sparse_categorical_crossentropy")
    for labels in ([0, -1], [0, 3]):
        for call in (scce, scce.gradient):
            with pytest.raises(ValueError, match=r"^sparse_categorical_crossentropy: labels must lie in "
                                                 r"\[0, 3\) for 3 outputs, got values from"):
                call(p, np.array(labels))
    assert scce(p, np.array([0, 1])) == pytest.approx(-np.log([0.7, 0.8]).mean(), rel=1e-6)


def test_compile_and_sequential_name_a_dict_of_metrics_and_a_single_layer():
    # Keras' per-output dict names the one output, its layer; another name is refused by name
    with pytest.raises(ValueError, match=r"^metrics: a dict by output name takes the model's one output, "
                                         r"'head'; got the keys \['out'\]"):
        gn.Sequential([Dense(1, input_dim=2, name="head")]).compile("mse", metrics={"out": "acc"})
    with pytest.raises(TypeError, match=r"^layers: expected a list of layers, got a single Dense: "
                                        r"write Sequential\(\[Dense\(...\)\]\)"):
        gn.Sequential(Dense(1))


def test_top_k_categorical_accuracy_against_torch_topk_and_tensorflow_ties(rng, torch):
    scores = rng.standard_normal((50, 8))
    labels = rng.integers(0, 8, 50)
    for k in (1, 3, 5, 8):
        top = torch.topk(torch.tensor(scores), k, dim=1).indices.numpy()     # no ties in random scores
        expected = np.mean([label in row for label, row in zip(labels, top)])
        assert metrics.functions.top_k_categorical_accuracy(labels, scores, k=k) == expected
        assert metrics.functions.sparse_top_k_categorical_accuracy(labels[:, None], scores, k=k) == expected
        assert metrics.functions.top_k_categorical_accuracy(np.eye(8)[labels], scores, k=k) == expected
    assert metrics.functions.top_k_categorical_accuracy(labels, scores, k=1) == metrics.functions.categorical_accuracy(labels, scores)
    # a tie at the k-th score counts as in (TensorFlow's in_top_k): class 2 ties class 1 for second
    tied = np.array([[0.5, 0.3, 0.3, 0.1]])
    assert metrics.functions.top_k_categorical_accuracy([2], tied, k=2) == 1.0
    assert metrics.functions.top_k_categorical_accuracy([3], tied, k=3) == 0.0


def test_top_k_by_name_in_fit_and_its_refusals(rng):
    x, y = rng.standard_normal((30, 4)), rng.integers(0, 6, 30)
    model = gn.Sequential([Dense(6, activation="softmax", input_dim=4)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["sparse_top_k_categorical_accuracy", "accuracy"])
    history = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    top5 = metrics.functions.top_k_categorical_accuracy(y, model.predict(x))
    assert model.evaluate(x, y, return_dict=True)["sparse_top_k_categorical_accuracy"] == pytest.approx(top5)
    assert "val_sparse_top_k_categorical_accuracy" in history.history
    with pytest.raises(ValueError, match=r"top_k_categorical_accuracy: labels must lie in \[0, 6\) for a model with 6 "
                                         r"outputs, got values from 0 to 6"):
        metrics.functions.top_k_categorical_accuracy([0, 6], np.ones((2, 6)))
    with pytest.raises(ValueError, match="expected integer class labels"):
        metrics.functions.top_k_categorical_accuracy([0.5, 1], np.ones((2, 6)))
    with pytest.raises(ValueError, match=r"sparse_top_k_categorical_accuracy: expected one-hot targets of shape "
                                         r"\(2, 6\) or labels of shape \(2,\), got shape \(3,\)"):
        metrics.functions.sparse_top_k_categorical_accuracy([0, 1, 2], np.ones((2, 6)))
    with pytest.raises(ValueError, match="top_k_categorical_accuracy: k"):
        metrics.functions.top_k_categorical_accuracy([0], np.ones((1, 6)), k=0)


def test_top_k_counts_a_row_with_a_non_finite_score_as_a_miss():
    # TensorFlow's in_top_k: a NaN would otherwise compare false and put every class in the top k
    scores = np.array([[np.nan, 0.2, 0.3], [0.1, 0.5, 0.4], [0.1, np.inf, 0.2], [np.nan] * 3])
    assert metrics.functions.sparse_top_k_categorical_accuracy([0, 1, 1, 0], scores, k=1) == 0.25
    assert metrics.functions.top_k_categorical_accuracy([0, 1, 2, 0], scores, k=5) == 0.25


def test_rows_of_nan_scores_are_misses_in_categorical_accuracy():
    """argmax points at a row's first NaN, so a diverged model's NaN rows would count as right for
    class 0 (or for the NaN's column): each row holding a NaN is a miss, in the function, its
    sparse name, the metric object and the columns-first argmax path (more than one row)."""
    nan = np.nan
    y_pred = np.array([[nan, nan, nan], [nan, 0.0, 1.0], [0.0, nan, 1.0], [0.1, 0.7, 0.2]], np.float32)
    labels = np.array([0, 0, 1, 1])
    assert metrics.functions.categorical_accuracy(np.eye(3, dtype=np.float32)[labels], y_pred) == 0.25
    assert metrics.functions.sparse_categorical_accuracy(labels, y_pred) == 0.25
    assert metrics.functions.categorical_accuracy(labels[:1], y_pred[:1]) == 0.0          # one row: the plain argmax
    m = gn.metrics.SparseCategoricalAccuracy()
    m.update_state(labels, y_pred)
    assert float(m.result()) == 0.25
    # integer scores hold no NaN: unchanged
    assert metrics.functions.categorical_accuracy(labels, np.eye(3, dtype=np.int64)[[0, 1, 1, 1]]) == 0.75
