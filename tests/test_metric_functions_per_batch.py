"""A metric function of one's own in ``compile``, counted as Keras 3.15 counts it: Keras wraps it in
``MeanMetricWrapper``, whose ``Mean`` counts one number returned for a batch once (a PSNR of the
batch's mean error) and per-sample values (n,) or (n, T) by their samples. Compared with Keras 3.15
over batches of different sizes (a last partial batch): fit's and validation's logs, evaluate with
a batch size, sample and class weights, ``weighted_metrics``, ``MeanMetricWrapper`` itself, a model
of two outputs, a model file; glassnet's built-in functions keep counting by samples, as Keras'
per-sample functions of those names do."""
import functools

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics, saving
from glassnet.layers import Dense

from keras_twins import assert_same_logs, copy_weights


# each function in NumPy (glassnet's) and in keras.ops (Keras'), under the same name
def batch_error(y_true, y_pred):            # one number for the batch
    return np.mean(np.abs(y_true - y_pred))


def sample_error(y_true, y_pred):           # one value per sample (or per position of a sequence)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def batch_psnr(y_true, y_pred):             # PyTorch's super_resolution test(): 10 log10(1 / mse) per batch
    return 10 * np.log10(1 / np.mean((y_true - y_pred) ** 2))


def unit_error(y_true, y_pred):             # one value per output unit (k,): Keras counts k per batch
    return np.mean(np.abs(y_true - y_pred), axis=0)


def _keras_twin(keras, fn):
    ops = keras.ops
    forms = {
        "batch_error": lambda t, p: ops.mean(ops.abs(t - p)),
        "sample_error": lambda t, p: ops.mean(ops.abs(t - p), axis=-1),
        "batch_psnr": lambda t, p: 10 * ops.log(1 / ops.mean((t - p) ** 2)) / np.log(10.0),
        "unit_error": lambda t, p: ops.mean(ops.abs(t - p), axis=0),
    }
    twin = forms[fn.__name__]
    twin.__name__ = fn.__name__
    return twin


def _data(rng, n=10, units=2, steps=None):
    shape = (n, 3) if steps is None else (n, steps, 3)
    x = rng.normal(size=shape).astype(np.float32)
    y = rng.normal(size=shape[:-1] + (units,)).astype(np.float32)
    return x, y


def _pair(keras, metric_list, weighted=None, steps=None, units=2, keras_metrics=None, keras_weighted=None):
    """The same Dense model in glassnet and Keras, compiled with mse, SGD and these metrics."""
    shape = (3,) if steps is None else (steps, 3)
    ours = gn.Sequential([gn.Input(shape), Dense(4, activation="tanh"), Dense(units)], seed=0)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05), metrics=metric_list, weighted_metrics=weighted)
    theirs = keras.Sequential([keras.Input(shape), keras.layers.Dense(4, activation="tanh"),
                               keras.layers.Dense(units)])
    theirs.set_weights(ours.get_weights())
    twin = lambda fs: [_keras_twin(keras, f) if callable(f) and f.__name__ in _FNS else f for f in fs or []]
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05),
                   metrics=keras_metrics if keras_metrics is not None else twin(metric_list),
                   weighted_metrics=keras_weighted if keras_weighted is not None else twin(weighted) or None)
    return ours, theirs


_FNS = {f.__name__ for f in (batch_error, sample_error, batch_psnr, unit_error)}


def _batches(y, out, sizes):
    start = 0
    for size in sizes:
        yield y[start:start + size], out[start:start + size]
        start += size


def test_one_number_per_batch_counts_once_as_keras(keras, rng):
    """The reviews' case: a batch of 4 and a last batch of 2 weigh alike, Keras' value, not the
    mean weighted by samples (which the test computes too, to be sure the two differ here)."""
    ours, theirs = _pair(keras, [batch_error, batch_psnr, sample_error])
    x, y = _data(rng)
    mine = ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    their = theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert_same_logs(mine, their, rtol=1e-5)
    out = theirs.predict(x, verbose=0)
    values = [np.mean(np.abs(t - p)) for t, p in _batches(y, out, (4, 4, 2))]
    assert mine["batch_error"] == pytest.approx(np.mean(values), rel=1e-5)
    assert mine["batch_error"] != pytest.approx(np.average(values, weights=[4, 4, 2]), rel=1e-3)
    assert mine["sample_error"] == pytest.approx(np.abs(y - out).mean(), rel=1e-5)      # per sample, as before


def test_fit_and_validation_logs_as_keras(keras, rng):
    ours, theirs = _pair(keras, [batch_error, sample_error, batch_psnr, "mae", "mse"])
    x, y = _data(rng, 10)
    xv, yv = _data(rng, 7)
    kwargs = dict(batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(xv, yv))
    mine, their = ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history
    assert_same_logs(mine, their, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_per_position_functions_of_a_sequence_output_as_keras(keras, rng):
    """Outputs (n, T, k): a function giving (n, T) is averaged per sample, one giving a number
    counts once, as Keras' Mean reduces them."""
    ours, theirs = _pair(keras, [batch_error, sample_error], steps=5)
    x, y = _data(rng, 11, steps=5)
    for batch_size in (4, 3):
        assert_same_logs(ours.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True),
                         theirs.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True), rtol=1e-5)
    kwargs = dict(batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert_same_logs(ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history, rtol=1e-4)


def test_values_of_another_first_axis_count_that_axis_as_keras(keras, rng):
    """A function of one value per output unit (k,): Keras' Mean counts k per batch, whatever the
    batch's samples (with 3 units and batches of 4, 4 and 2 samples: each batch alike)."""
    ours, theirs = _pair(keras, [unit_error], units=3)
    x, y = _data(rng, 10, units=3)
    mine = ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert_same_logs(mine, theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)
    out = theirs.predict(x, verbose=0)
    assert mine["unit_error"] == pytest.approx(np.mean([np.abs(t - p).mean() for t, p in _batches(y, out, (4, 4, 2))]),
                                               rel=1e-5)


def test_sample_and_class_weights_leave_metrics_unweighted_as_keras(keras, rng):
    """``metrics=`` stays unweighted whatever the weights (Keras'): the number counts once still."""
    ours, theirs = _pair(keras, [batch_error, sample_error], units=1)
    x, _ = _data(rng, 10, units=1)
    y = (rng.random((10, 1)) > 0.5).astype(np.float32)
    w = rng.uniform(0.1, 2, 10).astype(np.float32)
    kwargs = dict(batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert_same_logs(ours.fit(x, y, sample_weight=w, **kwargs).history,
                     theirs.fit(x, y, sample_weight=w, **kwargs).history, rtol=1e-4)
    assert_same_logs(ours.fit(x, y, class_weight={0: 0.3, 1: 2.0}, **kwargs).history,
                     theirs.fit(x, y, class_weight={0: 0.3, 1: 2.0}, **kwargs).history, rtol=1e-4)
    assert_same_logs(ours.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True),
                     theirs.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)


def test_weighted_metrics_as_keras(keras, rng):
    """``weighted_metrics``: without weights a number counts once and per-sample values by samples,
    the values of their twins in ``metrics=``; with sample or class weights, per-sample values are
    weighted as Keras weighs them."""
    ours, theirs = _pair(keras, [batch_error, sample_error], weighted=[batch_error, sample_error], units=1)
    x, _ = _data(rng, 10, units=1)
    y = (rng.random((10, 1)) > 0.5).astype(np.float32)
    mine = ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert_same_logs(mine, theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)
    assert mine["weighted_batch_error"] == pytest.approx(mine["batch_error"], rel=1e-6)
    assert mine["weighted_sample_error"] == pytest.approx(mine["sample_error"], rel=1e-6)
    kwargs = dict(batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert_same_logs(ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history, rtol=1e-4)
    # with weights: Keras 3.15 fails on one number per batch (it broadcasts the weights to the
    # number's shape), so the per-sample function alone is compared there
    ours, theirs = _pair(keras, [batch_error], weighted=[sample_error], units=1)
    w = rng.uniform(0.1, 2, 10).astype(np.float32)
    assert_same_logs(ours.fit(x, y, sample_weight=w, **kwargs).history,
                     theirs.fit(x, y, sample_weight=w, **kwargs).history, rtol=1e-4)
    assert_same_logs(ours.fit(x, y, class_weight={0: 0.3, 1: 2.0}, **kwargs).history,
                     theirs.fit(x, y, class_weight={0: 0.3, 1: 2.0}, **kwargs).history, rtol=1e-4)
    mine = ours.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    assert_same_logs(mine, theirs.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)
    out = theirs.predict(x, verbose=0)
    assert mine["sample_error"] == pytest.approx(np.average(np.abs(y - out)[:, 0], weights=w), rel=1e-5)


def test_weighted_one_number_counts_with_the_batch_weight(rng):
    """Where Keras 3.15 fails (one number per batch in ``weighted_metrics`` with sample weights),
    glassnet counts the batch's number with the batch's total weight: computed here by hand."""
    model = gn.Sequential([gn.Input((3,)), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd", weighted_metrics=[batch_error])
    x, y = _data(rng, 10, units=1)
    w = rng.uniform(0.1, 2, 10).astype(np.float32)
    got = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)["batch_error"]
    out = model.predict(x, verbose=0)
    values = [np.mean(np.abs(t - p)) for t, p in _batches(y, out, (4, 4, 2))]
    weights = [w[:4].sum(), w[4:8].sum(), w[8:].sum()]
    assert got == pytest.approx(np.average(values, weights=weights), rel=1e-5)


def test_mean_metric_wrapper_compiled_as_keras(keras, rng):
    ours, theirs = _pair(keras, [metrics.MeanMetricWrapper(batch_error, name="wrapped_batch"),
                                 metrics.MeanMetricWrapper(sample_error, name="wrapped_sample"), batch_error],
                         keras_metrics=[keras.metrics.MeanMetricWrapper(_keras_twin(keras, batch_error),
                                                                        name="wrapped_batch"),
                                        keras.metrics.MeanMetricWrapper(_keras_twin(keras, sample_error),
                                                                        name="wrapped_sample"),
                                        _keras_twin(keras, batch_error)])
    x, y = _data(rng)
    mine = ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert_same_logs(mine, theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)
    assert mine["wrapped_batch"] == mine["batch_error"]         # the function and its wrapper: one rule


def test_builtin_functions_keep_counting_by_samples_as_keras(keras, rng):
    """glassnet's functions return a batch mean of what Keras' return per sample: by name, as the
    functions themselves, and set by ``functools.partial``, they count by samples, Keras' values."""
    top2 = functools.partial(metrics.functions.top_k_categorical_accuracy, k=2)
    top2.__name__ = "top2"
    keras_top2 = functools.partial(keras.metrics.top_k_categorical_accuracy, k=2)
    keras_top2.__name__ = "top2"
    ours = gn.Sequential([gn.Input((3,)), Dense(4, activation="softmax")], seed=0)
    ours.compile(loss="categorical_crossentropy", optimizer="sgd",
                 metrics=["accuracy", "mae", metrics.functions.mean_squared_error, metrics.categorical_accuracy,
                          metrics.mean_absolute_error, top2, "categorical_crossentropy"])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="categorical_crossentropy", optimizer="sgd",
                   metrics=["accuracy", "mae", keras.metrics.mean_squared_error, keras.metrics.categorical_accuracy,
                            keras.metrics.mean_absolute_error, keras_top2, "categorical_crossentropy"])
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 10)]
    mine = ours.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert_same_logs(mine, theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)


def test_two_outputs_count_each_output_as_keras(keras, rng):
    def build(lib):
        inputs = lib.Input((3,))
        hidden = lib.layers.Dense(4, activation="tanh", name="hidden")(inputs)
        return inputs, [lib.layers.Dense(2, name="a")(hidden), lib.layers.Dense(1, name="b")(hidden)]

    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    copy_weights(ours, theirs)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05),
                 metrics={"a": [batch_error, sample_error], "b": [batch_psnr]})
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05),
                   metrics={"a": [_keras_twin(keras, batch_error), _keras_twin(keras, sample_error)],
                            "b": [_keras_twin(keras, batch_psnr)]})
    x, ya = _data(rng, 10)
    yb = rng.normal(size=(10, 1)).astype(np.float32)
    # the outputs' own losses ("a_loss") are left out: Keras 3.15's differ from the mean over
    # samples after a last partial batch (its tracker counts by the traced batch size), which
    # glassnet logs; the metrics and the total loss are compared
    metrics_of = lambda logs: {k: v for k, v in logs.items() if not k.endswith(("a_loss", "b_loss"))}
    mine = ours.evaluate(x, [ya, yb], batch_size=4, verbose=0, return_dict=True)
    their = theirs.evaluate(x, [ya, yb], batch_size=4, verbose=0, return_dict=True)
    assert sorted(mine) == sorted(their) and "a_batch_error" in mine and "b_batch_psnr" in mine
    assert_same_logs(metrics_of(mine), metrics_of(their), rtol=1e-5)
    kwargs = dict(batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(x[:7], [ya[:7], yb[:7]]))
    assert_same_logs(metrics_of(ours.fit(x, [ya, yb], **kwargs).history),
                     metrics_of(theirs.fit(x, [ya, yb], **kwargs).history), rtol=1e-4)


@saving.register_serializable(package="TestPerBatch")
def saved_batch_error(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred))


def test_a_registered_function_in_a_model_file_counts_once_as_keras(keras, rng, tmp_path):
    ours = gn.Sequential([gn.Input((3,)), Dense(2)], seed=0)
    ours.compile(loss="mse", optimizer="sgd", metrics=[saved_batch_error])
    ours.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.metrics[0][1] is saved_batch_error

    def twin(t, p):
        return keras.ops.mean(keras.ops.abs(t - p))
    twin.__name__ = "saved_batch_error"
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    theirs.set_weights(ours.get_weights())
    theirs.compile(loss="mse", optimizer="sgd", metrics=[twin])
    x, y = _data(rng, 10)
    assert_same_logs(loaded.evaluate(x, y, batch_size=4, verbose=0, return_dict=True),
                     theirs.evaluate(x, y, batch_size=4, verbose=0, return_dict=True), rtol=1e-5)


def test_a_masked_sequence_counts_one_number_once(rng):
    """Keras 3.15 fails on one number per batch under a mask (it broadcasts the mask to the number's
    shape); glassnet counts the number once per batch, as without a mask: checked by hand here,
    the function seeing each batch's real steps."""
    model = gn.Sequential([gn.Input((4,)), gn.layers.Embedding(4, 2, mask_zero=True), Dense(2)], seed=0)
    seen = []

    def steps_error(y_true, y_pred):
        seen.append(y_pred.shape[0])
        return np.mean(np.abs(y_true - y_pred))

    model.compile(loss="mse", optimizer="sgd", metrics=[steps_error])
    x = np.array([[1, 2, 3, 0], [1, 2, 0, 0], [3, 1, 2, 2], [2, 0, 0, 0], [1, 1, 1, 0]])
    y = rng.normal(size=(5, 4, 2)).astype(np.float32)
    got = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)["steps_error"]
    out = model.predict(x, verbose=0)
    real = x != 0
    values = [np.abs(y[s][real[s]] - out[s][real[s]]).mean() for s in (slice(0, 2), slice(2, 4), slice(4, 5))]
    assert seen[-3:] == [5, 5, 3]           # each batch's real steps
    assert got == pytest.approx(np.mean(values), rel=1e-5)


def test_a_value_that_is_no_number_is_refused_by_name(rng):
    def named_error(y_true, y_pred):
        return "bad"

    model = gn.Sequential([gn.Input((3,)), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics=[named_error])
    x, y = _data(rng, 6, units=1)
    with pytest.raises(TypeError, match="named_error.*expected a number.*got str"):
        model.evaluate(x, y, batch_size=4, verbose=0)
