"""Keras 3.15's small public names glassnet added: keras.metrics' per-sample functions, one
serialize/deserialize entry point for every kind of object (glassnet.saving / glassnet.utils), and
utils.get_source_inputs, is_keras_tensor, standardize_dtype; each compared with Keras itself."""
import inspect

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, metrics

# keras.metrics' functions that are its losses' functions (keras.src.losses.losses), with settings
# other than the defaults to compare too
LOSS_FUNCTIONS = {
    "binary_crossentropy": [{}, {"from_logits": True}, {"label_smoothing": 0.2}, {"axis": 1}],
    "categorical_crossentropy": [{}, {"from_logits": True}, {"label_smoothing": 0.1}],
    "sparse_categorical_crossentropy": [{}, {"from_logits": True}],
    "binary_focal_crossentropy": [{}, {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5},
                                  {"from_logits": True, "label_smoothing": 0.1}],
    "categorical_focal_crossentropy": [{}, {"alpha": 0.5, "gamma": 3.0, "from_logits": True}],
    "hinge": [{}], "squared_hinge": [{}], "categorical_hinge": [{}], "poisson": [{}], "kl_divergence": [{}],
    "log_cosh": [{}], "mean_squared_error": [{}], "mean_absolute_error": [{}],
    "mean_absolute_percentage_error": [{}], "mean_squared_logarithmic_error": [{}], "huber": [{}, {"delta": 0.3}],
}
ACCURACIES = ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
              "sparse_top_k_categorical_accuracy"]


def _inputs(name, rng, shape=(16, 5)):
    """Random targets and predictions of the kind ``name`` takes, float32."""
    n, k = shape[:-1], shape[-1]
    probabilities = rng.random(shape).astype(np.float32) * 0.98 + 0.01
    if name.startswith("sparse"):
        return rng.integers(0, k, n), probabilities
    if name.startswith("categorical") or name.startswith("top_k"):
        one_hot = np.eye(k, dtype=np.float32)[rng.integers(0, k, n)]
        return one_hot, probabilities / probabilities.sum(-1, keepdims=True)
    if name in ("hinge", "squared_hinge"):
        return rng.choice([-1.0, 1.0], shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    if name in ("mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "huber", "log_cosh"):
        return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    if name in ("poisson", "mean_squared_logarithmic_error"):
        return rng.random(shape).astype(np.float32) * 3, probabilities * 3
    return (rng.random(shape) > 0.5).astype(np.float32), probabilities      # binary, kl_divergence


def test_keras_metric_functions_all_exist_with_keras_arguments(keras):
    names = [n for n in dir(keras.metrics) if n[0].islower() and n not in ("get", "serialize", "deserialize")]
    assert set(LOSS_FUNCTIONS) | set(ACCURACIES) | {"pearson_correlation", "concordance_correlation"} == set(names)
    for name in names:
        ours, theirs = getattr(metrics, name), getattr(keras.metrics, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name
        defaults = {p.name: p.default for p in inspect.signature(theirs).parameters.values()}
        assert defaults == {p.name: p.default for p in inspect.signature(ours).parameters.values()}, name
        assert name in metrics.__all__


def test_the_loss_functions_are_glassnet_losses_own():
    for name in LOSS_FUNCTIONS:
        assert getattr(metrics, name) is getattr(losses, name)


@pytest.mark.parametrize("name", sorted(LOSS_FUNCTIONS))
def test_loss_functions_as_metrics_equal_keras(name, keras, rng):
    for shape in [(16, 5), (4, 3, 5)]:
        for settings in LOSS_FUNCTIONS[name]:
            if settings.get("axis") is not None and len(shape) != 2:
                continue
            y_true, y_pred = _inputs(name, rng, shape)
            if settings.get("from_logits"):
                y_pred = rng.standard_normal(shape).astype(np.float32) * 3
            ours = getattr(metrics, name)(y_true, y_pred, **settings)
            theirs = keras.ops.convert_to_numpy(getattr(keras.metrics, name)(y_true, y_pred, **settings))
            assert ours.shape == theirs.shape and ours.dtype == np.float32, (name, settings)
            # the focal loss on logits takes log(1 - sigmoid(z)) in float32, as Keras' formula does, but
            # Keras' TensorFlow backend reads the logits behind a sigmoid's output (its _keras_logits
            # shortcut) and skips that rounding: 4e-6 apart at logits near +-9 (the same number in float64)
            tolerance = 2e-5 if name == "binary_focal_crossentropy" and settings.get("from_logits") else 1e-6
            np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=1e-6, err_msg=f"{name} {settings}")


@pytest.mark.parametrize("shape", [(20, 4), (3, 6, 4), (20, 1)])
def test_accuracies_equal_keras_values_and_shapes(shape, keras, rng):
    k = shape[-1]
    scores = rng.standard_normal(shape).astype(np.float32)
    labels = rng.integers(0, k, shape[:-1])
    one_hot = np.eye(k, dtype=np.float32)[labels]
    binary = (rng.random(shape) > 0.5).astype(np.float32)
    probabilities = 1 / (1 + np.exp(-scores))
    cases = [("binary_accuracy", binary, probabilities, {}),
             ("binary_accuracy", binary, probabilities, {"threshold": 0.7}),
             ("binary_accuracy", binary.astype(np.int64), probabilities, {}),
             ("categorical_accuracy", one_hot, scores, {}),
             ("sparse_categorical_accuracy", labels, scores, {}),
             ("sparse_categorical_accuracy", labels[..., None], scores, {}),
             ("sparse_categorical_accuracy", labels.astype(np.float32), scores, {})]
    for top in (1, 2, 5):
        cases += [("top_k_categorical_accuracy", one_hot, scores, {"k": top}),
                  ("sparse_top_k_categorical_accuracy", labels, scores, {"k": top}),
                  ("sparse_top_k_categorical_accuracy", labels[..., None], scores, {"k": top})]
    for name, y_true, y_pred, settings in cases:
        ours = getattr(metrics, name)(y_true, y_pred, **settings)
        theirs = keras.ops.convert_to_numpy(getattr(keras.metrics, name)(y_true, y_pred, **settings))
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (name, settings, ours.shape, theirs.shape)
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{name} {settings}")
    # the values are not constant: a test of all ones or all zeros could not fail on a wrong rule
    assert 0 < metrics.sparse_categorical_accuracy(labels, scores).mean() < 1 or k == 1


def test_binary_accuracy_lines_ranks_up_as_keras(keras, rng):
    y = (rng.random(10) > 0.5).astype(np.float32)
    p = rng.random((10, 1)).astype(np.float32)
    for y_true, y_pred in [(y, p), (y[:, None], p[:, 0]), (np.array([[0.7]]), np.array([[0.9]]))]:
        ours = metrics.binary_accuracy(y_true, y_pred)
        theirs = keras.ops.convert_to_numpy(keras.metrics.binary_accuracy(y_true, y_pred))
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)


def test_sparse_top_k_from_sorted_ids_and_ties_equal_keras(keras, rng):
    ids = np.argsort(-rng.standard_normal((30, 6)), axis=-1)[:, :4].astype(np.int32)
    labels = rng.integers(0, 6, 30)
    for k in (1, 2, 4, 9):
        ours = metrics.sparse_top_k_categorical_accuracy(labels, ids, k=k, from_sorted_ids=True)
        theirs = keras.ops.convert_to_numpy(
            keras.metrics.sparse_top_k_categorical_accuracy(labels, ids, k=k, from_sorted_ids=True))
        np.testing.assert_array_equal(ours, theirs)
    tied = np.array([[0.5, 0.3, 0.3, 0.1], [0.5, 0.3, 0.3, 0.1]], np.float32)
    ours = metrics.sparse_top_k_categorical_accuracy([2, 3], tied, k=2)
    theirs = keras.ops.convert_to_numpy(keras.metrics.sparse_top_k_categorical_accuracy(np.array([2, 3]), tied, k=2))
    np.testing.assert_array_equal(ours, theirs)
    assert ours.tolist() == [1.0, 0.0]


def test_accuracies_keep_float64_and_refuse_the_wrong_targets(rng):
    scores = rng.standard_normal((5, 3))
    assert metrics.categorical_accuracy(np.eye(3)[[0, 1, 2, 0, 1]], scores).dtype == np.float64
    assert metrics.binary_accuracy([[1.0]], [[0.9]]).dtype == np.float32       # lists: float32 (Keras' floatx)
    with pytest.raises(ValueError, match=r"categorical_accuracy: expected one-hot targets of y_pred's shape \(5, 3\), "
                                         r"got shape \(5,\); integer labels go to sparse_categorical_accuracy"):
        metrics.categorical_accuracy([0, 1, 2, 0, 1], scores)
    with pytest.raises(ValueError, match=r"sparse_categorical_accuracy: expected integer labels of shape \(5,\).*"
                                         r"one-hot targets go to categorical_accuracy"):
        metrics.sparse_categorical_accuracy(np.eye(3)[[0, 1, 2, 0, 1]], scores)
    with pytest.raises(ValueError, match=r"top_k_categorical_accuracy: expected one-hot"):
        metrics.top_k_categorical_accuracy([0, 1, 2, 0, 1], scores)
    with pytest.raises(TypeError, match="binary_accuracy: threshold: expected a number, got '0.5'"):
        metrics.binary_accuracy([[1.0]], [[0.9]], threshold="0.5")
    with pytest.raises(ValueError, match=r"binary_accuracy: expected targets of y_pred's shape \(5, 3\), got shape \(5, 2\)"):
        metrics.binary_accuracy(np.ones((5, 2)), scores)
    with pytest.raises(TypeError, match="from_sorted_ids: expected True or False"):
        metrics.sparse_top_k_categorical_accuracy([0], scores[:1], from_sorted_ids="yes")


def test_compiled_they_log_the_mean_under_their_names(rng):
    x, labels = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    model = gn.Sequential([gn.layers.Dense(3, activation="softmax", input_dim=4)], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=[metrics.sparse_categorical_accuracy, metrics.sparse_top_k_categorical_accuracy,
                           metrics.sparse_categorical_crossentropy])
    logs = model.evaluate(x, labels, batch_size=40, return_dict=True)
    p = model.predict(x)
    assert logs["sparse_categorical_accuracy"] == pytest.approx(metrics.sparse_categorical_accuracy(labels, p).mean())
    assert logs["sparse_top_k_categorical_accuracy"] == 1.0         # k=5 of 3 classes
    assert logs["sparse_categorical_crossentropy"] == pytest.approx(
        float(metrics.sparse_categorical_crossentropy(labels, p).mean()), rel=1e-5)
    assert metrics.get(metrics.binary_accuracy) == ("binary_accuracy", metrics.functions.binary_accuracy)
    # a model file names them by name
    assert model.get_compile_config()["metrics"] == ["sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                                                     "sparse_categorical_crossentropy"]


# --- utils.get_source_inputs, is_keras_tensor, standardize_dtype ----------------------------------

def _graphs(lib):
    """The same graphs drawn in Keras and glassnet (``lib``: the keras or glassnet module): for
    each, the tensor to start from. Inputs are named so that their names can be compared."""
    a, b, c = (lib.Input((3,), name=n) for n in "abc")
    x = lib.layers.Dense(3)(b)
    merged = lib.layers.add([lib.layers.concatenate([x, a]), lib.layers.concatenate([a, c])])
    deep = a
    for _ in range(30):
        deep = lib.layers.Dense(3)(deep)
    shared = lib.layers.Dense(3)
    twice = lib.layers.add([shared(c), shared(b), lib.layers.Dense(3)(c)])
    inner = lib.Model([a, b], lib.layers.Dense(2)(lib.layers.add([a, x])))
    d, e = lib.Input((3,), name="d"), lib.Input((3,), name="e")
    return {"input": a, "one layer": x, "merges": merged, "deep": deep, "shared layer": twice,
            "a model called on new inputs": lib.layers.Dense(1)(inner([e, d])), "a model's output": inner.outputs[0]}


def test_get_source_inputs_finds_keras_inputs_in_keras_order(keras):
    ours, theirs = _graphs(gn), _graphs(keras)
    for case in ours:
        names = [t.name for t in gn.utils.get_source_inputs(ours[case])]
        assert names == [t.name for t in keras.utils.get_source_inputs(theirs[case])], case
        assert all(gn.utils.is_keras_tensor(t) for t in gn.utils.get_source_inputs(ours[case]))
    assert [t.name for t in gn.utils.get_source_inputs(ours["merges"])] == ["b", "a", "c"]       # not trivial
    a = ours["input"]
    assert gn.utils.get_source_inputs(a)[0] is a
    # what is no symbolic tensor comes back as it is, as Keras returns it
    array = np.zeros(2)
    assert gn.utils.get_source_inputs(array) is array and keras.utils.get_source_inputs(array) is array
    assert gn.utils.get_source_inputs([a]) == [a]


def test_is_keras_tensor_as_keras(keras):
    ours, theirs = _graphs(gn), _graphs(keras)
    for case in ours:
        assert gn.utils.is_keras_tensor(ours[case]) and keras.utils.is_keras_tensor(theirs[case])
    for other in (np.zeros(3), 1.0, [ours["input"]], None):
        assert gn.utils.is_keras_tensor(other) is keras.utils.is_keras_tensor(other) is False
    assert not gn.utils.is_keras_tensor(gn.layers.Dense(2)) and not keras.utils.is_keras_tensor(keras.layers.Dense(2))
    seq = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)])
    assert gn.utils.is_keras_tensor(seq.inputs[0]) and gn.utils.is_keras_tensor(seq.outputs[0])
    assert not gn.utils.is_keras_tensor(seq) and not gn.utils.is_keras_tensor(seq.predict(np.zeros((1, 3))))


def test_standardize_dtype_as_keras(keras, torch):
    import tensorflow as tf
    given = [None, float, int, bool, str, complex, "int", "float32", "float64", "bfloat16", "float8_e4m3fn",
             "string", "uint16", "complex64", np.float64, np.float16, np.int8, np.uint32, np.bool_, np.complex128,
             np.dtype("int16"), np.dtype("<f4"), torch.float16, torch.int64, torch.bool, tf.bfloat16, tf.int32]
    for dtype in given:
        assert gn.utils.standardize_dtype(dtype) == keras.utils.standardize_dtype(dtype), dtype
    for bad in ["float", "double", "f4", "half", np.str_, "float128", 3]:
        with pytest.raises(ValueError):
            keras.utils.standardize_dtype(bad)
        with pytest.raises(ValueError, match=r"standardize_dtype: dtype: expected None, one of \['float16'"):
            gn.utils.standardize_dtype(bad)
    with pytest.raises(ValueError, match="standardize_dtype: dtype: .*got \\['float32'\\]"):
        gn.utils.standardize_dtype(["float32"])


# --- saving.serialize_keras_object / deserialize_keras_object ------------------------------------

import json  # noqa: E402

from glassnet import saving  # noqa: E402
from glassnet.optimizers import schedules  # noqa: E402

PACKAGE = "TestSmallApi"


@saving.register_serializable(package=PACKAGE)
class Doubling(gn.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x, training=False):
        return x * self.factor

    def backward(self, grad_output):
        return grad_output * self.factor

    def output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@saving.register_serializable(package=PACKAGE)
class TimesMSE(gn.losses.Loss):
    name = "times_mse"

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, y_pred, y_true):
        return float(self.scale * ((y_pred - y_true) ** 2).mean())

    def gradient(self, y_pred, y_true):
        return self.scale * 2 * (y_pred - y_true) / y_pred.size

    def get_config(self):
        return {"scale": self.scale}


@saving.register_serializable(package=PACKAGE)
class Largest(gn.metrics.Metric):
    default_name = "largest"

    def __init__(self, scale=1.0, name=None):
        self.scale = scale
        super().__init__(name)

    def reset_state(self):
        self.value = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.value = max(self.value, float(np.max(y_pred)))

    def result(self):
        return self.scale * self.value

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@saving.register_serializable(package=PACKAGE)
def gap(y_true, y_pred):
    return float(np.mean(y_pred - y_true))


@saving.register_serializable(package=PACKAGE)
class Halving(schedules.LearningRateSchedule):
    def __init__(self, initial=0.1, every=10):
        self.initial, self.every = initial, every

    def __call__(self, step):
        return self.initial * 0.5 ** (step // self.every)

    def get_config(self):
        return {"initial": self.initial, "every": self.every}


@saving.register_serializable(package=PACKAGE)
class PlainStep(gn.optimizers.Optimizer):
    def __init__(self, learning_rate=0.01, **options):
        super().__init__(learning_rate, **options)

    def update(self, key, param, grad):
        param -= param.dtype.type(self.learning_rate) * grad


@saving.register_serializable(package=PACKAGE)
class Filled(gn.initializers.Initializer):
    def __init__(self, value=0.5):
        self.value = value

    def __call__(self, shape, rng, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


@saving.register_serializable(package=PACKAGE)
class Quarter(gn.regularizers.Regularizer):
    def __init__(self, factor=0.25):
        self.factor = factor

    def __call__(self, w):
        return self.factor * float((w ** 2).sum())

    def add_gradient(self, w, grad):
        grad += 2 * self.factor * w

    def get_config(self):
        return {"factor": self.factor}


@saving.register_serializable(package=PACKAGE)
class Bounded(gn.constraints.Constraint):
    def __init__(self, limit=1.0):
        self.limit = limit

    def __call__(self, w):
        return np.clip(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


def _builtins():
    """One built-in object of each kind, with settings other than the defaults."""
    return [gn.layers.Dense(3, activation="tanh", use_bias=False, name="d"), gn.layers.Conv2D(4, 3, strides=2),
            gn.layers.LSTM(5, return_sequences=True), gn.losses.Huber(delta=2.0, reduction="sum", name="h"),
            gn.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), gn.losses.MeanSquaredError(),
            gn.metrics.AUC(num_thresholds=50, curve="PR"), gn.metrics.BinaryAccuracy(threshold=0.7),
            gn.metrics.Precision(), gn.optimizers.Adam(learning_rate=0.01, beta_1=0.8),
            gn.optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 100, 0.9), momentum=0.9),
            schedules.CosineDecay(0.1, 1000, alpha=0.1), gn.initializers.GlorotUniform(),
            gn.initializers.Constant(2.0), gn.regularizers.L1L2(0.1, 0.2), gn.constraints.MaxNorm(2.0, axis=1)]


def _own():
    return [Doubling(3.0), TimesMSE(2.0), Largest(0.5, name="big"), Halving(0.2, 5), PlainStep(0.3), Filled(0.7),
            Quarter(0.1), Bounded(0.5)]


def _config_of(obj):
    """What an object of a kind is compared by: its kind's own record of it."""
    return saving.serialize_keras_object(obj)["config"]


@pytest.mark.parametrize("make", [_builtins, _own])
def test_every_kind_round_trips_through_json(make):
    for obj in make():
        entry = saving.serialize_keras_object(obj)
        assert set(entry) == {"module", "class_name", "config", "registered_name"}
        back = saving.deserialize_keras_object(json.loads(json.dumps(entry)))
        assert type(back) is type(obj) or losses.plain_type(back) is losses.plain_type(obj), obj
        assert back is not obj and _config_of(back) == entry["config"], obj
        if make is _own:
            assert entry["registered_name"] == f"{PACKAGE}>{type(obj).__name__}"
        else:
            assert entry["registered_name"] is None and entry["module"].startswith("glassnet.")
    # the settings came back, not the defaults
    back = saving.deserialize_keras_object(saving.serialize_keras_object(gn.losses.Huber(delta=2.0, name="h")))
    assert (back.delta, back.name) == (2.0, "h")
    optimizer = saving.deserialize_keras_object(saving.serialize_keras_object(_builtins()[10]))
    assert optimizer.momentum == 0.9 and optimizer.schedule(200) == pytest.approx(0.1 * 0.9 ** 2)
    filled = saving.deserialize_keras_object(saving.serialize_keras_object(Filled(0.7)))
    assert filled((2,), None, np.float64).tolist() == [0.7, 0.7]


def test_functions_and_plain_values_round_trip():
    for fn in [gn.activations.relu, gn.activations.softmax, gn.losses.huber, gn.losses.mean_squared_error,
               gn.metrics.binary_accuracy, gn.metrics.sparse_top_k_categorical_accuracy, gn.initializers.he_normal,
               gap]:
        entry = saving.serialize_keras_object(fn)
        assert entry["class_name"] == "function" and saving.deserialize_keras_object(entry) is fn
    assert saving.serialize_keras_object(gap)["config"] == f"{PACKAGE}>gap"
    # a built-in activation's Activation is its function's name: read back, the function, as Keras'
    assert saving.deserialize_keras_object(saving.serialize_keras_object(gn.activations.get("swish"))) \
        is gn.activations.silu
    values = [None, 1, 2.5, "relu", True, [1, [2, "a"]], {"a": 1, "b": [gn.regularizers.L2(0.1)]}]
    back = saving.deserialize_keras_object(json.loads(json.dumps(saving.serialize_keras_object(values))))
    assert back[:6] == values[:6] and back[6]["b"][0] == gn.regularizers.L2(0.1)
    assert saving.serialize_keras_object((1, 2)) == (1, 2) and saving.deserialize_keras_object((1, 2)) == [1, 2]
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    again = saving.deserialize_keras_object(json.loads(json.dumps(saving.serialize_keras_object(array))))
    assert again.dtype == np.float32 and np.array_equal(again, array)
    assert saving.serialize_keras_object(np.float32(2.5)) == 2.5 and type(saving.serialize_keras_object(np.int64(3))) is int
    assert gn.utils.serialize_keras_object is saving.serialize_keras_object
    assert gn.utils.deserialize_keras_object is saving.deserialize_keras_object


def test_custom_objects_supply_what_is_not_registered():
    class Unlisted(gn.regularizers.Regularizer):
        def __init__(self, factor=0.5):
            self.factor = factor

        def __call__(self, w):
            return 0.0

        def add_gradient(self, w, grad):
            pass

        def get_config(self):
            return {"factor": self.factor}

    with pytest.raises(TypeError, match="serialize_keras_object: .*register"):
        saving.serialize_keras_object(Unlisted(0.3))
    entry = {"module": __name__, "class_name": "Unlisted", "config": {"factor": 0.3}, "registered_name": "Mine>Unlisted"}
    with pytest.raises(gn.errors.UnknownObjectError, match="'Mine>Unlisted' is not registered"):
        saving.deserialize_keras_object(entry)
    made = saving.deserialize_keras_object(entry, custom_objects={"Mine>Unlisted": Unlisted})
    assert type(made) is Unlisted and made.factor == 0.3
    with saving.custom_object_scope({"Mine>Unlisted": Unlisted}):
        assert saving.serialize_keras_object(Unlisted(0.3)) == entry


def test_refusals_name_the_problem():
    with pytest.raises(TypeError, match="a lambda cannot be stored"):
        saving.serialize_keras_object(lambda x: x)
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)])
    with pytest.raises(TypeError, match=r"got the model .*model.get_config\(\) or model.to_json\(\)"):
        saving.serialize_keras_object(model)
    with pytest.raises(TypeError, match="cannot serialize <object"):
        saving.serialize_keras_object(object())
    with pytest.raises(ValueError, match="a Python lambda .* glassnet never runs"):
        saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "..."}}, safe_mode=False)
    with pytest.raises(gn.errors.UnknownObjectError, match="'L1' .* is neither one of glassnet's classes"):
        saving.deserialize_keras_object({"class_name": "L1", "config": {"l1": 0.1}})        # Keras refuses it too
    with pytest.raises(gn.errors.UnknownObjectError, match="unknown function 'no_such_thing'"):
        saving.deserialize_keras_object({"module": "builtins", "class_name": "function", "config": "no_such_thing",
                                         "registered_name": "function"})
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        saving.deserialize_keras_object({"module": "keras.layers", "class_name": "Nope", "config": {},
                                         "registered_name": None})
    with pytest.raises(ValueError, match="Huber: .*unexpected keyword argument 'dlta'"):
        saving.deserialize_keras_object({"module": "glassnet.losses", "class_name": "Huber", "config": {"dlta": 2.0},
                                         "registered_name": None})
    with pytest.raises(TypeError, match="deserialize_keras_object: custom_objects: expected a dict"):
        saving.deserialize_keras_object(None, custom_objects=["x"])


# Keras' objects of the kinds glassnet has, made by ``keras``, and glassnet's with the same settings
def _keras_and_ours(keras):
    k, ks = keras, keras.optimizers.schedules
    return [
        (k.layers.Dense(3, activation="tanh", use_bias=False), gn.layers.Dense(3, activation="tanh", use_bias=False)),
        (k.layers.Conv2D(4, 3, strides=2, padding="same"), gn.layers.Conv2D(4, 3, strides=2, padding="same")),
        (k.layers.Dropout(0.3), gn.layers.Dropout(0.3)),
        # Keras 3.15's Huber config leaves delta out ({"name", "reduction"}): read back, the default
        (k.losses.Huber(delta=2.0), gn.losses.Huber()), (k.losses.Huber(reduction="sum"), gn.losses.Huber(reduction="sum")),
        (k.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
         gn.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)),
        # (named: Keras numbers a metric's default name by how many it has made, "auc_2")
        (k.metrics.AUC(num_thresholds=50, curve="PR", name="pr"), gn.metrics.AUC(num_thresholds=50, curve="PR", name="pr")),
        (k.metrics.BinaryAccuracy(threshold=0.75, name="acc"), gn.metrics.BinaryAccuracy(threshold=0.75, name="acc")),
        (k.optimizers.Adam(learning_rate=0.5, beta_1=0.75), gn.optimizers.Adam(learning_rate=0.5, beta_1=0.75)),
        (k.optimizers.SGD(learning_rate=ks.ExponentialDecay(0.5, 100, 0.75), momentum=0.5),
         gn.optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.5, 100, 0.75), momentum=0.5)),
        (ks.CosineDecay(0.5, 1000, alpha=0.25), schedules.CosineDecay(0.5, 1000, alpha=0.25)),
        (k.initializers.GlorotUniform(), gn.initializers.GlorotUniform()),
        (k.initializers.Constant(2.0), gn.initializers.Constant(2.0)),
        (k.regularizers.L1L2(0.5, 0.25), gn.regularizers.L1L2(0.5, 0.25)),
        (k.constraints.MaxNorm(2.0, axis=1), gn.constraints.MaxNorm(2.0, axis=1)),
    ]


def test_reads_keras_serialize_keras_object_of_every_kind(keras):
    for theirs, ours in _keras_and_ours(keras):
        entry = keras.saving.serialize_keras_object(theirs)
        read = saving.deserialize_keras_object(json.loads(json.dumps(entry)))
        assert type(read) is type(ours) or losses.plain_type(read) is type(ours), entry["class_name"]
        if entry["class_name"] == "Dense":
            assert _config_of(read)["kernel_initializer"] == {"class_name": "GlorotUniform", "config": {}}
        mine = saving.serialize_keras_object(ours)
        assert set(mine) == set(entry) and mine["class_name"] == entry["class_name"]
        if isinstance(ours, gn.layers.Layer):
            # Keras' dtype policy is read as the layer's dtype, its initializers as their classes
            # (Keras' GlorotUniform() is glassnet's "glorot_uniform")
            def plain(config):
                return {key: value for key, value in config.items() if not key.endswith("_initializer")}
            expected = {**plain(mine["config"]), "dtype": "float32", "name": None}
            assert {**plain(_config_of(read)), "name": None} == expected, entry["class_name"]
        else:
            assert _config_of(read) == mine["config"], entry["class_name"]
    # the functions: Keras' dict is glassnet's, and reads as glassnet's function of that name
    for name, ours in [("relu", gn.activations.relu), ("silu", gn.activations.silu),
                       ("mean_squared_error", gn.losses.mean_squared_error), ("huber", gn.losses.huber),
                       ("binary_accuracy", gn.metrics.binary_accuracy),
                       ("sparse_categorical_accuracy", gn.metrics.sparse_categorical_accuracy)]:
        module = keras.activations if name in ("relu", "silu") else keras.metrics
        entry = keras.saving.serialize_keras_object(getattr(module, name))
        assert saving.serialize_keras_object(ours) == entry
        assert saving.deserialize_keras_object(entry) is ours
    # Keras' strings and plain values stay as they are
    assert saving.deserialize_keras_object(keras.saving.serialize_keras_object("relu")) == "relu"


def test_reads_keras_dicts_of_registered_objects(keras):
    @keras.saving.register_keras_serializable(package=PACKAGE, name="Quarter")
    class KerasQuarter(keras.regularizers.Regularizer):
        def __init__(self, factor=0.25):
            self.factor = factor

        def __call__(self, x):
            return self.factor * keras.ops.sum(x ** 2)

        def get_config(self):
            return {"factor": self.factor}

    @keras.saving.register_keras_serializable(package=PACKAGE, name="gap")
    def keras_gap(y_true, y_pred):
        return y_pred - y_true

    entry = keras.saving.serialize_keras_object(KerasQuarter(0.5))
    assert entry["registered_name"] == f"{PACKAGE}>Quarter"
    made = saving.deserialize_keras_object(json.loads(json.dumps(entry)))
    assert type(made) is Quarter and made.factor == 0.5
    assert saving.deserialize_keras_object(keras.saving.serialize_keras_object(keras_gap)) is gap
    assert saving.serialize_keras_object(gap) == keras.saving.serialize_keras_object(keras_gap)
    ours = saving.serialize_keras_object(Quarter(0.5))
    assert {key: ours[key] for key in ("class_name", "config", "registered_name")} == {
        "class_name": "Quarter", "config": {"factor": 0.5}, "registered_name": f"{PACKAGE}>Quarter"}
