"""Keras 3.15 names and forms glassnet takes (docs/keras_parity.md): Keras' ``serialize()`` dicts
read by each ``get``/``deserialize`` (the object built computes what Keras' does), a Keras model's
``get_compile_config()`` compiling a glassnet model to the same evaluation, the functional merge
forms, the lower-case class aliases, activations given as functions, ``metrics_names``."""
import os

import numpy as np
import pytest

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras", reason="Keras oracle not installed")

import glassnet as gn      # noqa: E402

rng = np.random.default_rng(0)


# ---- optimizers --------------------------------------------------------------------------------
OPTIMIZERS = [("SGD", dict(learning_rate=0.05, momentum=0.8, nesterov=True, clipnorm=1.0)),
              ("Adam", dict(learning_rate=0.01, beta_1=0.8, epsilon=1e-5, amsgrad=True)),
              ("AdamW", dict(learning_rate=0.02, weight_decay=0.1)),
              ("RMSprop", dict(learning_rate=0.03, rho=0.8, momentum=0.1, centered=True)),
              ("Adagrad", dict(initial_accumulator_value=0.2)), ("Adadelta", dict(rho=0.9)),
              ("Adamax", dict(beta_2=0.99)), ("Nadam", dict(beta_1=0.85)), ("Lion", dict(beta_1=0.7)),
              ("Ftrl", dict(l1_regularization_strength=0.01)), ("Lamb", dict(beta_2=0.98)),
              ("Adafactor", dict(clip_threshold=2.0))]


@pytest.mark.parametrize("name,settings", OPTIMIZERS)
def test_optimizer_from_keras_serialize_keeps_every_setting(name, settings):
    entry = keras.optimizers.serialize(getattr(keras.optimizers, name)(**settings))
    for made in (gn.optimizers.get(entry), gn.optimizers.deserialize(entry)):
        assert type(made).__name__ == name
        config = made.get_config()
        for key, value in entry["config"].items():
            if key in config and key != "name":
                assert config[key] == (value if value is None or isinstance(value, (bool, str, list))
                                       else pytest.approx(value, rel=1e-6)), key
        for key, value in settings.items():
            assert config.get(key, getattr(made, key, None)) == pytest.approx(value, rel=1e-6), key


def test_optimizer_with_keras_schedule_follows_it():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    made = gn.optimizers.get(keras.optimizers.serialize(keras.optimizers.SGD(schedule)))
    ours = made.get_config()["learning_rate"]
    ours = gn.optimizers.schedules.deserialize(ours)
    for step in (0, 9, 10, 25):
        assert float(ours(step)) == pytest.approx(float(schedule(step)), rel=1e-6)


def test_optimizer_keras_settings_glassnet_lacks_are_refused_by_name():
    entry = keras.optimizers.serialize(keras.optimizers.Adam(loss_scale_factor=128.0))
    with pytest.raises(ValueError, match="loss_scale_factor"):
        gn.optimizers.get(entry)
    # gradient accumulation is taken (tests/test_gradient_accumulation.py trains with it)
    entry = keras.optimizers.serialize(keras.optimizers.Adam(gradient_accumulation_steps=4))
    assert gn.optimizers.get(entry).gradient_accumulation_steps == 4
    assert "gradient_accumulation_steps" not in gn.optimizers.get(keras.optimizers.serialize(
        keras.optimizers.Adam())).get_config()
    with pytest.raises(ValueError, match="class_name"):
        gn.optimizers.get({"class_name": "NoSuch", "config": {}})


# ---- losses ------------------------------------------------------------------------------------
def _probabilities(shape):
    p = rng.random(shape) + 0.05
    return (p / p.sum(-1, keepdims=True)).astype("float32")


LOSSES = [
    ("MeanSquaredError", {}, "regression"), ("MeanAbsoluteError", {}, "regression"),
    ("LogCosh", {}, "regression"), ("Huber", {}, "regression"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary"),
    ("BinaryFocalCrossentropy", {"gamma": 3.0, "alpha": 0.3, "apply_class_balancing": True}, "binary"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"), ("KLDivergence", {}, "onehot"),
    ("Poisson", {}, "onehot"), ("Hinge", {}, "binary"), ("Tversky", {"alpha": 0.3, "beta": 0.7}, "binary"),
    ("MeanSquaredError", {"reduction": "sum"}, "regression"),
]


@pytest.mark.parametrize("name,settings,targets", LOSSES)
def test_loss_from_keras_serialize_computes_keras_value(name, settings, targets):
    k_loss = getattr(keras.losses, name)(**settings)
    if targets == "regression":
        y_pred, y_true = rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    elif targets == "binary":
        y_pred, y_true = rng.uniform(0.05, 0.95, (6, 1)).astype("float32"), (rng.random((6, 1)) > 0.5).astype("float32")
    elif targets == "onehot":
        y_pred, y_true = _probabilities((6, 4)), np.eye(4, dtype="float32")[rng.integers(0, 4, 6)]
    else:
        y_pred, y_true = _probabilities((6, 4)), rng.integers(0, 4, 6)
    ours = gn.losses.deserialize(keras.losses.serialize(k_loss))
    assert ours is not None and gn.losses.get(keras.losses.serialize(k_loss)).reduction == ours.reduction
    # glassnet's losses take (y_pred, y_true), Keras' (y_true, y_pred)
    assert float(ours(y_pred, y_true)) == pytest.approx(float(k_loss(y_true, y_pred)), rel=1e-5, abs=1e-6)


def test_loss_keras_class_axis_other_than_last_is_refused():
    entry = keras.losses.serialize(keras.losses.CategoricalCrossentropy(axis=1))
    entry["config"]["axis"] = 0
    with pytest.raises(ValueError, match="axis"):
        gn.losses.get(entry)


# ---- metrics -----------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", [lambda m: m.AUC(num_thresholds=50, curve="PR", name="pr"),
                                    lambda m: m.Precision(thresholds=0.3), lambda m: m.BinaryAccuracy(threshold=0.7),
                                    lambda m: m.TopKCategoricalAccuracy(k=2), lambda m: m.F1Score(average="macro")])
def test_metric_from_keras_serialize_scores_as_keras(metric):
    k_metric = metric(keras.metrics)
    ours = gn.metrics.deserialize(keras.metrics.serialize(k_metric))
    assert type(ours).__name__ == type(k_metric).__name__ and ours.name == k_metric.name
    if type(k_metric).__name__ == "TopKCategoricalAccuracy":
        y_pred, y_true = _probabilities((20, 4)), np.eye(4, dtype="float32")[rng.integers(0, 4, 20)]
    elif type(k_metric).__name__ == "F1Score":
        y_pred, y_true = _probabilities((20, 3)), np.eye(3, dtype="float32")[rng.integers(0, 3, 20)]
    else:
        y_pred, y_true = rng.random((20, 1)).astype("float32"), (rng.random((20, 1)) > 0.5).astype("float32")
    k_metric.update_state(y_true, y_pred)
    ours.update_state(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(ours.result(), dtype=float), np.asarray(k_metric.result(), dtype=float),
                               rtol=1e-5, atol=1e-6)


def test_metric_keras_setting_glassnet_lacks_is_refused_by_name():
    # AUC's num_labels and label_weights are read now (tests/test_auc_thresholds.py); a setting
    # glassnet's class lacks is refused by name unless it holds Keras' default, None
    entry = keras.metrics.serialize(keras.metrics.AUC(multi_label=True, num_labels=3))
    assert gn.metrics.deserialize(entry).num_labels == 3
    entry = keras.metrics.serialize(keras.metrics.AUC())
    entry["config"]["top_k"] = 2
    with pytest.raises(ValueError, match="top_k"):
        gn.metrics.deserialize(entry)


# ---- initializers, regularizers, constraints, activations ---------------------------------------
@pytest.mark.parametrize("make", [lambda i: i.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform"),
                                  lambda i: i.RandomNormal(mean=1.0, stddev=0.2), lambda i: i.Constant(0.5),
                                  lambda i: i.GlorotUniform(), lambda i: i.OrthogonalInitializer(gain=2.0),
                                  lambda i: i.IdentityInitializer(), lambda i: i.TruncatedNormal(stddev=0.1)])
def test_initializer_from_keras_serialize(make):
    k_init = make(keras.initializers)
    entry = keras.initializers.serialize(k_init)
    ours = gn.initializers.deserialize(entry)
    assert ours is gn.initializers.get(entry) or type(ours) is type(gn.initializers.get(entry))
    config = ours.get_config()
    for key, value in entry["config"].items():
        if key in config:
            assert config[key] == value, key
    if type(k_init).__name__ in ("Constant", "IdentityInitializer"):     # deterministic: values too
        expected = np.asarray(k_init((3, 3)))
        np.testing.assert_allclose(ours((3, 3), np.random.default_rng(0), np.float32), expected, rtol=1e-6)


def test_initializer_keras_seed_is_read_and_aliases_are_the_classes():
    # Keras' seed is read (tests/test_init_seed.py); its newer fan axes at another value than None are refused
    assert gn.initializers.get(keras.initializers.serialize(keras.initializers.GlorotUniform(seed=3))) \
        == gn.initializers.GlorotUniform(seed=3)
    with pytest.raises(ValueError, match="input_axes"):
        gn.initializers.get(keras.initializers.serialize(
            keras.initializers.GlorotUniform(seed=3, input_axes=[0], output_axes=[1])))
    i = gn.initializers
    assert (i.constant, i.truncated_normal, i.variance_scaling, i.orthogonal, i.identity) == (
        i.Constant, i.TruncatedNormal, i.VarianceScaling, i.Orthogonal, i.Identity)
    assert (i.OrthogonalInitializer, i.IdentityInitializer) == (i.Orthogonal, i.Identity)
    assert gn.initializers.serialize(gn.initializers.glorot_uniform) == "glorot_uniform"


def test_regularizer_and_constraint_from_keras_serialize_act_as_keras():
    w = rng.normal(size=(4, 3)).astype("float32")
    k_reg = keras.regularizers.L1L2(l1=0.1, l2=0.2)
    ours = gn.regularizers.deserialize(keras.regularizers.serialize(k_reg))
    assert ours == gn.regularizers.L1L2(l1=0.1, l2=0.2)
    k_con = keras.constraints.MinMaxNorm(min_value=0.5, max_value=1.5, rate=0.7, axis=0)
    ours = gn.constraints.deserialize(keras.constraints.serialize(k_con))
    np.testing.assert_allclose(ours(w.copy()), np.asarray(k_con(w)), rtol=1e-5)
    c = gn.constraints
    assert (c.max_norm, c.min_max_norm, c.unit_norm, c.non_neg) == (c.MaxNorm, c.MinMaxNorm, c.UnitNorm, c.NonNeg)


def test_activation_functions_serialize_and_layers_take_them():
    for name in ("relu", "gelu", "softmax", "silu"):
        fn = getattr(gn.activations, name)
        assert gn.activations.serialize(fn) == keras.activations.serialize(getattr(keras.activations, name))
        assert gn.activations.deserialize(name) is gn.activations.get(name)
    x = rng.normal(size=(5, 2)).astype("float32")
    by_name = gn.Sequential([gn.layers.Dense(3, activation="gelu", input_dim=2)], seed=1, name="m")
    by_function = gn.Sequential([gn.layers.Dense(3, activation=gn.activations.gelu, input_dim=2)], seed=1, name="m")
    np.testing.assert_array_equal(by_name.predict(x), by_function.predict(x))
    assert by_function.get_config() == by_name.get_config()
    with pytest.raises(ValueError, match="built-in"):
        gn.activations.serialize(lambda z: z)


# ---- models ------------------------------------------------------------------------------------
def _twins():
    k_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model = gn.Sequential([gn.layers.Dense(4, activation="softmax", input_dim=3)], seed=0)
    model.set_weights([np.asarray(w) for w in k_model.get_weights()])
    return k_model, model


def test_keras_compile_config_compiles_to_the_same_evaluation():
    k_model, model = _twins()
    k_model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                    metrics=["categorical_accuracy", keras.metrics.TopKCategoricalAccuracy(k=2, name="top2")])
    model.compile_from_config(k_model.get_compile_config())
    x = rng.normal(size=(16, 3)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 16)]
    ours, theirs = model.evaluate(x, y, return_dict=True), k_model.evaluate(x, y, return_dict=True, verbose=0)
    assert set(ours) == set(theirs) and model.metrics_names == ["loss", "categorical_accuracy", "top2"]
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-5), key
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)


def test_compile_config_round_trip_and_refusals():
    _, model = _twins()
    assert model.get_compile_config() == {} and model.metrics_names == []
    model.compile(loss="mse", optimizer=gn.optimizers.RMSprop(0.02), metrics=["mae"], weighted_metrics=["mse"])
    twin = gn.models.clone_model(model)
    twin.compile_from_config(model.get_compile_config())
    assert twin.get_compile_config() == model.get_compile_config()
    assert twin.metrics_names == ["loss", "mae", "mse"]
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")
    twin.set_weights(model.get_weights())
    assert twin.evaluate(x, y) == model.evaluate(x, y)
    assert list(model.evaluate(x, y, return_dict=True)) == model.metrics_names
    with pytest.raises(TypeError, match="dict"):
        twin.compile_from_config("mse")
    with pytest.raises(ValueError, match="loss_weights: the model has one output"):
        twin.compile_from_config({**model.get_compile_config(), "loss_weights": [2.0, 1.0]})


@pytest.mark.parametrize("name,kwargs", [("add", {}), ("subtract", {}), ("multiply", {}), ("average", {}),
                                         ("maximum", {}), ("minimum", {}), ("concatenate", {"axis": -1}),
                                         ("dot", {"axes": 1}), ("dot", {"axes": 1, "normalize": True})])
def test_merge_functions_match_keras(name, kwargs):
    a, b = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    expected = np.asarray(getattr(keras.layers, name)([a, b], **kwargs))
    np.testing.assert_allclose(getattr(gn.layers, name)([a, b], **kwargs), expected, rtol=1e-5, atol=1e-6)
    # on symbolic inputs: a functional Model
    x1, x2 = gn.layers.Input((3,)), gn.layers.Input((3,))
    model = gn.Model([x1, x2], getattr(gn.layers, name)([x1, x2], **kwargs))
    np.testing.assert_allclose(model.predict([a, b]), expected, rtol=1e-5, atol=1e-6)
