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
