"""Review of the Keras-parity additions (Keras' serialize() dicts, compile_from_config, merge
functions): Keras' function form of a loss or metric, a multi-output Keras compile config by output
name, misspelt compile settings, a subclass compiled before its draw, keras.layers.dot's default."""
import json
import os

import numpy as np
import pytest

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras", reason="Keras oracle not installed")

import glassnet as gn      # noqa: E402

rng = np.random.default_rng(0)


def test_keras_function_form_of_losses_and_metrics_is_read():
    # keras.losses.serialize(keras.losses.mean_squared_error) is Keras' form of a function:
    # {"module": "builtins", "class_name": "function", "config": "mean_squared_error", ...}
    y_true, y_pred = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    for fn, ours in ((keras.losses.mean_squared_error, gn.losses.MeanSquaredError),
                     (keras.losses.huber, gn.losses.Huber), (keras.losses.log_cosh, gn.losses.LogCosh)):
        loss = gn.losses.get(keras.losses.serialize(fn))
        assert type(loss) is ours
        assert float(loss(y_pred, y_true)) == pytest.approx(float(np.mean(fn(y_true, y_pred))), rel=1e-5)
    name, metric = gn.metrics.get(keras.metrics.serialize(keras.metrics.mean_absolute_error))
    assert name == "mean_absolute_error"
    assert float(metric(y_true, y_pred)) == pytest.approx(float(np.mean(np.abs(y_true - y_pred))), rel=1e-6)


def test_keras_function_form_names_only_builtins_or_registered():
    hostile = {"module": "os", "class_name": "function", "config": "os>system", "registered_name": "function"}
    with pytest.raises(ValueError, match="not registered"):
        gn.losses.get(hostile)
    with pytest.raises(ValueError, match="system"):
        gn.metrics.get({**hostile, "config": "system"})


def test_compile_from_keras_config_with_function_loss_evaluates_as_keras():
    k_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    model = gn.Sequential([gn.layers.Dense(4, input_dim=3)], seed=0)
    model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    k_model.compile(optimizer="rmsprop", loss=keras.losses.mean_squared_error,
                    metrics=[keras.metrics.mean_absolute_error])
    model.compile_from_config(json.loads(json.dumps(k_model.get_compile_config())))
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")
    ours, theirs = model.evaluate(x, y, return_dict=True), k_model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-5), key


def _two_outputs(lib):
    layers = lib.layers
    x = (keras.Input((3,), name="x") if lib is keras else layers.Input((3,), name="x"))
    h = layers.Dense(4)(x)
    outputs = [layers.Dense(2, name="a")(h), layers.Dense(1, activation="sigmoid", name="b")(h)]
    return keras.Model(x, outputs) if lib is keras else gn.Model(x, outputs, seed=0)


def test_compile_from_keras_config_with_losses_by_output_name():
    k_model, model = _two_outputs(keras), _two_outputs(gn)
    model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    k_model.compile(optimizer="adam", loss={"a": "mse", "b": "binary_crossentropy"}, loss_weights={"a": 1.0, "b": 0.25},
                    metrics={"a": ["mae"], "b": ["accuracy"]})
    model.compile_from_config(json.loads(json.dumps(k_model.get_compile_config())))
    x = rng.normal(size=(8, 3)).astype("float32")
    y = [rng.normal(size=(8, 2)).astype("float32"), (rng.random((8, 1)) > 0.5).astype("float32")]
    ours, theirs = model.evaluate(x, y, return_dict=True), k_model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-5), key


def test_compile_from_config_refuses_unknown_settings_by_name():
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    config = model.get_compile_config()
    twin = gn.models.clone_model(model)
    with pytest.raises(ValueError, match="metric"):
        twin.compile_from_config({**{k: v for k, v in config.items() if k != "metrics"}, "metric": ["mae"]})
    twin.compile_from_config({**config, "run_eagerly": False, "jit_compile": "auto"})    # Keras' run settings
    assert twin.get_compile_config() == config


def test_get_compile_config_of_a_subclass_compiled_before_its_draw_is_not_empty():
    class Net(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Net(seed=0)
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    # {} would say "not compiled": compile_from_config({}) compiles nothing
    with pytest.raises(ValueError, match="call the model"):
        model.get_compile_config()
    model(np.ones((2, 3), "float32"))
    assert model.get_compile_config()["metrics"] == ["mae"]


def test_dot_function_axes_default_is_keras_last_axis():
    a, b = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(gn.layers.dot([a, b]), np.asarray(keras.layers.dot([a, b])), rtol=1e-5, atol=1e-6)
    a3, b3 = rng.normal(size=(4, 2, 3)).astype("float32"), rng.normal(size=(4, 5, 3)).astype("float32")
    np.testing.assert_allclose(gn.layers.dot([a3, b3]), np.asarray(keras.layers.dot([a3, b3])), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [lambda m: m.MeanIoU(4, ignore_class=1), lambda m: m.IoU(4, [0, 2], ignore_class=3),
                                  lambda m: m.OneHotMeanIoU(4, ignore_class=0)])
def test_keras_iou_with_ignore_class_is_read_and_scores_as_keras(make):
    # glassnet's IoU classes take ignore_class: a Keras dict holding one must not be refused
    k_metric = make(keras.metrics)
    ours = gn.metrics.deserialize(json.loads(json.dumps(keras.metrics.serialize(k_metric))))
    assert ours.ignore_class == k_metric.ignore_class
    labels, predicted = rng.integers(0, 4, 30), rng.integers(0, 4, 30)
    if type(k_metric).__name__.startswith("OneHot"):
        labels, predicted = np.eye(4, dtype="float32")[labels], rng.random((30, 4)).astype("float32")
    k_metric.update_state(labels, predicted)
    ours.update_state(labels, predicted)
    assert float(ours.result()) == pytest.approx(float(k_metric.result()), rel=1e-5)


def test_keras_metric_ignore_class_glassnet_lacks_is_still_refused():
    entry = keras.metrics.serialize(keras.metrics.SparseCategoricalCrossentropy(ignore_class=2))
    with pytest.raises(ValueError, match="ignore_class"):
        gn.metrics.deserialize(entry)
