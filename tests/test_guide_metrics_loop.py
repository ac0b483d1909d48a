"""keras.io's guide "Customizing what happens in fit() with TensorFlow" (Keras 3): its sections 1
(the first example), 3 (sample_weight) and 4 (test_step), which loop over ``self.metrics``
(``metric.name``, ``metric.update_state``, ``metric.result()``), ported as written (gn for keras and
tf) and run side by side with Keras 3.15 from the same weights (glassnet.step_metrics)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.step_metrics import CompileMetrics


def _loop_metrics(model, loss, y, y_pred, sample_weight=None):
    """The guide's loop: the "loss" tracker takes the loss, every other metric (y, y_pred)."""
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss)
        elif sample_weight is None:
            metric.update_state(y, y_pred)
        else:
            metric.update_state(y, y_pred, sample_weight=sample_weight)
    return {m.name: m.result() for m in model.metrics}


def _classes(lib, tape):
    """The guide's three CustomModel classes, written against ``lib`` (gn or keras) and ``tape``
    (gn.GradientTape or tf.GradientTape)."""

    class First(lib.Model):                 # section 1
        def train_step(self, data):
            x, y = data
            with tape() as t:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = t.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    class Weighted(lib.Model):              # section 3
        def train_step(self, data):
            if len(data) == 3:
                x, y, sample_weight = data
            else:
                sample_weight = None
                x, y = data
            with tape() as t:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            trainable_vars = self.trainable_variables
            gradients = t.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    class Evaluating(lib.Model):            # section 4
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name != "loss":
                    metric.update_state(y, y_pred)
                else:
                    metric.update_state(loss)
            return {m.name: m.result() for m in self.metrics}

    return {"first": First, "weighted": Weighted, "evaluating": Evaluating}


def _pair(keras, kind, metrics=("mae",), optimizer="adam"):
    import tensorflow as tf
    ours_cls, theirs_cls = _classes(gn, gn.GradientTape)[kind], _classes(keras, tf.GradientTape)[kind]
    inputs = gn.Input(shape=(32,))
    model = ours_cls(inputs, gn.layers.Dense(1)(inputs), seed=3)
    model.compile(optimizer=optimizer, loss="mse", metrics=None if metrics is None else list(metrics))
    k_inputs = keras.Input(shape=(32,))
    other = theirs_cls(k_inputs, keras.layers.Dense(1)(k_inputs))
    other.compile(optimizer=optimizer, loss="mse", metrics=None if metrics is None else list(metrics))
    other.set_weights(model.get_weights())
    return model, other


def _data(n=150, seed=0):
    # 150 rows: batches of 32 and a last one of 22, which the guide's Mean("loss") counts as one
    # batch (unweighted by rows), where Keras' default step weighs the loss by rows
    rng = np.random.default_rng(seed)
    return (rng.random((n, 32)).astype(np.float32), rng.random((n, 1)).astype(np.float32),
            rng.random((n, 1)).astype(np.float32))


def _close_histories(mine, theirs):
    assert list(mine) == list(theirs)           # the same keys, in Keras' flattened order
    for key in theirs:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-5, atol=1e-6, err_msg=key)


def _close_weights(model, other):
    for mine, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_first_example_fits_as_keras(keras):
    model, other = _pair(keras, "first")
    x, y, _ = _data()
    mine = model.fit(x, y, epochs=3, shuffle=False, verbose=0).history
    theirs = other.fit(x, y, epochs=3, shuffle=False, verbose=0).history
    assert list(theirs) == ["mae", "loss"]      # {"compile_metrics": {"mae"}, "loss"} flattened, sorted
    _close_histories(mine, theirs)
    _close_weights(model, other)
    # evaluate without a test_step: Keras' default one, both forms
    np.testing.assert_allclose(model.evaluate(x, y), other.evaluate(x, y, verbose=0), rtol=1e-5)
    k_dict = other.evaluate(x, y, verbose=0, return_dict=True)
    o_dict = model.evaluate(x, y, return_dict=True)
    assert list(o_dict) == list(k_dict) == ["loss", "mae"]
    np.testing.assert_allclose(list(o_dict.values()), list(k_dict.values()), rtol=1e-5)


def test_sample_weight_section_fits_as_keras(keras):
    model, other = _pair(keras, "weighted")
    x, y, sw = _data(seed=1)
    mine = model.fit(x, y, sample_weight=sw, epochs=3, shuffle=False, verbose=0).history
    theirs = other.fit(x, y, sample_weight=sw, epochs=3, shuffle=False, verbose=0).history
    _close_histories(mine, theirs)
    _close_weights(model, other)
    np.testing.assert_allclose(model.evaluate(x, y, sample_weight=sw),
                               other.evaluate(x, y, sample_weight=sw, verbose=0), rtol=1e-5)
    # without weights the same class takes its two-item branch
    mine = model.fit(x, y, epochs=1, shuffle=False, verbose=0).history
    theirs = other.fit(x, y, epochs=1, shuffle=False, verbose=0).history
    _close_histories(mine, theirs)


def test_test_step_section_evaluates_and_validates_as_keras(keras):
    model, other = _pair(keras, "evaluating", optimizer="sgd")
    x, y, _ = _data(seed=2)
    k_list, o_list = other.evaluate(x, y, verbose=0), model.evaluate(x, y)
    assert len(o_list) == len(k_list) == 2
    np.testing.assert_allclose(o_list, k_list, rtol=1e-5)
    k_dict, o_dict = other.evaluate(x, y, verbose=0, return_dict=True), model.evaluate(x, y, return_dict=True)
    assert list(o_dict) == list(k_dict)
    np.testing.assert_allclose(list(o_dict.values()), list(k_dict.values()), rtol=1e-5)
    # fit: Keras' default train_step, validated by the guide's test_step, the same trackers
    xv, yv, _ = _data(40, seed=3)
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(xv, yv))
    _close_histories(model.fit(x, y, **kwargs).history, other.fit(x, y, **kwargs).history)
    _close_weights(model, other)


def test_model_metrics_are_keras_trackers(keras):
    model, other = _pair(keras, "first", metrics=("mae", "mse"))
    x, y, _ = _data(40)
    model.fit(x, y, epochs=1, verbose=0)
    other.fit(x, y, epochs=1, verbose=0)
    assert [m.name for m in model.metrics] == [m.name for m in other.metrics] == ["loss", "compile_metrics"]
    compiled = model.metrics[1]
    assert isinstance(compiled, CompileMetrics) and isinstance(model.metrics[0], gn.metrics.Mean)
    assert [m.name for m in compiled.metrics] == [m.name for m in other.metrics[1].metrics] == ["mae", "mse"]
    # update_state / result / reset_state by hand, against Keras' objects on the same batch
    y_pred = model.predict(x[:10], verbose=0)
    for mine, theirs in zip(model.metrics, other.metrics):
        mine.reset_state()
        theirs.reset_state()
    mine = _loop_metrics(model, 0.5, y[:10], y_pred)
    theirs = _loop_metrics(other, 0.5, y[:10], y_pred)
    assert mine["loss"] == pytest.approx(float(theirs["loss"]))
    assert set(mine["compile_metrics"]) == {"mae", "mse"}
    for key in ("mae", "mse"):
        assert mine["compile_metrics"][key] == pytest.approx(float(theirs["compile_metrics"][key]), rel=1e-5)
        assert compiled.metrics[["mae", "mse"].index(key)].result() == mine["compile_metrics"][key]
    compiled.reset_state()
    assert compiled.result() == {"mae": 0.0, "mse": 0.0}


def test_without_compiled_metrics_only_the_loss_tracker(keras):
    # (metrics=None: Keras lists a CompileMetrics for metrics=[] too, which logs nothing; glassnet
    # lists none)
    model, other = _pair(keras, "first", metrics=None)
    assert [m.name for m in model.metrics] == [m.name for m in other.metrics] == ["loss"]
    x, y, _ = _data(70)
    _close_histories(model.fit(x, y, epochs=2, shuffle=False, verbose=0).history,
                     other.fit(x, y, epochs=2, shuffle=False, verbose=0).history)


def test_nested_logs_flatten_as_keras_pythonify_logs(keras):
    from keras.src.utils.python_utils import pythonify_logs

    returned = {"z": {"b": 2.0, "a": {"c": 3.0}}, "loss": 1.0, "m": 4.0}

    class Nested(gn.Model):
        def train_step(self, data):
            return returned

    inputs = gn.Input((2,))
    model = Nested(inputs, gn.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0).history
    assert list(history) == list(pythonify_logs(returned))
    assert {key: values[0] for key, values in history.items()} == pythonify_logs(returned)


def test_plain_compiled_models_keep_pairs():
    inputs = gn.Input((3,))
    model = gn.Model(inputs, gn.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert [name for name, _ in model.metrics] == ["mae"]


def test_a_recompile_gives_new_trackers():
    model, _ = _pair_gn("first")
    first = model.metrics
    model.compile(optimizer="adam", loss="mse", metrics=["mse"])
    assert model.metrics[0] is not first[0]
    assert [m.name for m in model.metrics[1].metrics] == ["mse"]


def _pair_gn(kind):
    inputs = gn.Input(shape=(32,))
    model = _classes(gn, gn.GradientTape)[kind](inputs, gn.layers.Dense(1)(inputs), seed=3)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model, None


def test_compile_metrics_bad_input_is_refused_by_name():
    model, _ = _pair_gn("first")
    compiled = model.metrics[1]
    with pytest.raises(ValueError, match=r"y_true: .*got None"):
        compiled.update_state(None, np.zeros((2, 1), np.float32))

    class Two(gn.Model):
        def train_step(self, data):
            return {}

    inputs = gn.Input((3,))
    two = Two(inputs, [gn.layers.Dense(1, name="a")(inputs), gn.layers.Dense(1, name="b")(inputs)])
    two.compile(optimizer="sgd", loss="mse", metrics=[["mae"], ["mae"]])
    # several outputs: each output's metric from its own targets (a: |0 - 0|, b: |1 - 0|), keyed
    # by output in result(), under its own name in metrics (Keras' sub-metrics)
    two.metrics[1].update_state([np.zeros((2, 1)), np.ones((2, 1))], [np.zeros((2, 1))] * 2)
    assert two.metrics[1].result() == {"a_mae": 0.0, "b_mae": 1.0}
    assert [m.name for m in two.metrics[1].metrics] == ["mae", "mae"]
    with pytest.raises(ValueError, match="y"):
        two.metrics[1].update_state([np.zeros((2, 1))], [np.zeros((2, 1))] * 2)


def test_the_guides_gradient_against_central_differences():
    """The gradient the guide's step applies (tape.gradient of compute_loss), in float64, against
    central finite differences of the same loss."""
    inputs = gn.Input(shape=(4,))
    model = _classes(gn, gn.GradientTape)["weighted"](inputs, gn.layers.Dense(1)(inputs), seed=1,
                                                        dtype="float64")
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(5)
    x, y, sw = rng.normal(size=(6, 4)), rng.normal(size=(6, 1)), rng.random(6)
    with gn.GradientTape() as tape:
        loss = model.compute_loss(y=y, y_pred=model(x, training=True), sample_weight=sw)
    grads = tape.gradient(loss, model.trainable_variables)

    def value():
        return float(np.asarray(model.compute_loss(y=y, y_pred=model.predict(x, verbose=0), sample_weight=sw)))

    weights, eps = model.get_weights(), 1e-6
    for w, (array, grad) in enumerate(zip(weights, grads)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            for sign in (1, -1):
                shifted = [a.copy() for a in weights]
                shifted[w][index] += sign * eps
                model.set_weights(shifted)
                numeric[index] += sign * value() / (2 * eps)
        model.set_weights(weights)
        np.testing.assert_allclose(np.asarray(grad), numeric, rtol=1e-6, atol=1e-8)
