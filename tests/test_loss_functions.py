"""Keras' per-sample loss functions (glassnet.losses.functions): values and shapes against Keras
3.15's functions of the same names, for outputs (n, k) and sequence outputs (n, steps, k), with
from_logits, label_smoothing and axis; their inputs' dtypes and shapes; compile(loss=function) and
metrics=[function]; SparseCategoricalCrossentropy called directly on labels per position, against
Keras' class (values, every reduction, ignore_class, weights) and PyTorch autograd (gradients)."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses

L = gn.layers


def _inputs(kind, shape, rng):
    """(y_true, y_pred) for a function of targets of ``kind``."""
    p = rng.random(shape)
    if kind == "values":
        return rng.random(shape), p
    if kind == "binary":
        return (rng.random(shape) < 0.5).astype(np.float64), p
    if kind == "signed":
        return (rng.random(shape) < 0.5).astype(np.float64), 2 * p - 1
    if kind == "logits01":
        return (rng.random(shape) < 0.5).astype(np.float64), 6 * p - 3
    onehot = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if kind == "onehot":        # rows that do not sum to 1: Keras rescales them
        return onehot, p
    if kind == "onehot_softmax":
        e = np.exp(4 * p)
        return onehot, e / e.sum(-1, keepdims=True)
    if kind == "onehot_logits":
        return onehot, 6 * p - 3
    labels = rng.integers(0, shape[-1], shape[:-1])
    if kind == "labels":
        return labels, p
    if kind == "labels_logits":
        return labels, 6 * p - 3
    raise AssertionError(kind)


CASES = [
    ("mean_squared_error", "values", {}), ("mean_absolute_error", "values", {}),
    ("mean_absolute_percentage_error", "values", {}), ("mean_squared_logarithmic_error", "values", {}),
    ("huber", "values", {}), ("huber", "values", {"delta": 0.2}), ("log_cosh", "values", {}),
    ("poisson", "values", {}), ("kl_divergence", "onehot_softmax", {}), ("hinge", "signed", {}),
    ("squared_hinge", "signed", {}), ("categorical_hinge", "onehot", {}), ("cosine_similarity", "values", {}),
    ("cosine_similarity", "values", {"axis": 1}),
    ("binary_crossentropy", "binary", {}), ("binary_crossentropy", "logits01", {"from_logits": True}),
    ("binary_crossentropy", "binary", {"label_smoothing": 0.2}), ("binary_crossentropy", "binary", {"axis": 1}),
    ("binary_crossentropy", "logits01", {"from_logits": True, "label_smoothing": 0.1, "axis": 0}),
    ("categorical_crossentropy", "onehot_softmax", {}), ("categorical_crossentropy", "onehot", {}),
    ("categorical_crossentropy", "onehot_logits", {"from_logits": True, "label_smoothing": 0.1}),
    ("categorical_crossentropy", "onehot", {"label_smoothing": 0.3, "axis": 0}),
    ("sparse_categorical_crossentropy", "labels", {}),
    ("sparse_categorical_crossentropy", "labels_logits", {"from_logits": True}),
    ("binary_focal_crossentropy", "binary", {}),
    ("binary_focal_crossentropy", "logits01", {"from_logits": True, "apply_class_balancing": True, "alpha": 0.3,
                                               "gamma": 1.5, "label_smoothing": 0.1}),
    ("categorical_focal_crossentropy", "onehot", {}),
    ("categorical_focal_crossentropy", "onehot_logits", {"from_logits": True, "label_smoothing": 0.2, "alpha": 0.4,
                                                         "gamma": 3.0}),
    ("categorical_focal_crossentropy", "onehot", {"alpha": [0.2, 0.5, 1.0]}),
    ("dice", "binary", {}), ("dice", "binary", {"axis": (1,)}), ("tversky", "binary", {"alpha": 0.3, "beta": 0.7}),
    ("tversky", "binary", {"axis": -1}),
]


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)], ids=["2d", "sequence"])
@pytest.mark.parametrize("name,kind,settings", CASES, ids=str)
def test_values_and_shapes_match_keras(name, kind, settings, shape, keras, rng):
    y_true, y_pred = _inputs(kind, shape, rng)
    theirs = np.asarray(getattr(keras.losses, name)(y_true, y_pred, **settings))
    ours = getattr(losses, name)(y_true, y_pred, **settings)
    assert isinstance(ours, np.ndarray) and ours.shape == theirs.shape and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,kind,settings", CASES[::3], ids=str)
def test_float32_stays_float32(name, kind, settings, keras, rng):
    y_true, y_pred = _inputs(kind, (3, 4, 3), rng)
    y_pred = y_pred.astype(np.float32)
    ours = getattr(losses, name)(y_true, y_pred, **settings)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.asarray(getattr(keras.losses, name)(y_true, y_pred, **settings)),
                               rtol=2e-5, atol=1e-6)


def test_lists_are_float32_as_keras_takes_them(keras):
    for name in ("mean_squared_error", "binary_crossentropy"):
        ours = getattr(losses, name)([[0.0, 1.0], [1.0, 1.0]], [[0.2, 0.9], [0.5, 0.4]])
        theirs = getattr(keras.losses, name)([[0.0, 1.0], [1.0, 1.0]], [[0.2, 0.9], [0.5, 0.4]])
        assert ours.dtype == np.float32 and str(theirs.dtype) == "<dtype: 'float32'>"
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-6)
    assert losses.sparse_categorical_crossentropy([1, 0], [[0.3, 0.7], [0.6, 0.4]]).dtype == np.float32


@pytest.mark.parametrize("true_shape,pred_shape", [((4,), (4, 1)), ((4, 1), (4,)), ((2, 3), (2, 3, 1)),
                                                   ((2, 3, 1), (2, 3)), ((4,), (4,))])
@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error", "huber", "log_cosh",
                                  "mean_absolute_percentage_error", "mean_squared_logarithmic_error"])
def test_regression_functions_line_up_ranks_as_keras(name, true_shape, pred_shape, keras, rng):
    y_true, y_pred = rng.random(true_shape), rng.random(pred_shape)
    theirs = np.asarray(getattr(keras.losses, name)(y_true, y_pred))
    ours = getattr(losses, name)(y_true, y_pred)
    assert ours.shape == theirs.shape
    # (TensorFlow's float64 softplus, in log_cosh, is off by up to ~2e-9)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-8)


def test_other_functions_pair_a_single_unit_with_its_targets_and_refuse_other_shapes(keras, rng):
    y_pred, y_true = rng.random((5, 1)), (rng.random(5) < 0.5).astype(np.float64)
    for name in ("binary_crossentropy", "poisson", "hinge"):
        # Keras broadcasts (5,) against (5, 1) into a (5, 5) matrix; its value with the targets as (5, 1):
        theirs = np.asarray(getattr(keras.losses, name)(y_true[:, None], y_pred))
        np.testing.assert_allclose(getattr(losses, name)(y_true, y_pred), theirs, rtol=1e-6)
        with pytest.raises(ValueError, match=r"expected targets of the output's shape \(5, 3\)"):
            getattr(losses, name)(rng.random((5, 2)), rng.random((5, 3)))


def test_sparse_labels_per_position_and_ignore_class_match_keras(keras, rng):
    p = rng.random((3, 4, 5))
    labels = rng.integers(0, 5, (3, 4))
    void = labels.copy()
    void[0, 1] = void[2, 3] = 255
    for y_true, settings in [(labels, {}), (labels[..., None], {}), (labels.astype(np.float32), {}),
                             (void, {"ignore_class": 255}), (void, {"ignore_class": 255, "from_logits": True}),
                             (labels[:, 0], {})]:
        y_pred = p if y_true.ndim > 1 else p[:, 0]
        theirs = np.asarray(keras.losses.sparse_categorical_crossentropy(y_true, y_pred, **settings))
        ours = losses.sparse_categorical_crossentropy(y_true, y_pred, **settings)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert losses.sparse_categorical_crossentropy(void, p, ignore_class=255)[0, 1] == 0


def test_sparse_refusals_name_the_argument(rng):
    p = rng.random((3, 4, 5))
    with pytest.raises(ValueError, match="axis must be -1"):
        losses.sparse_categorical_crossentropy(rng.integers(0, 4, (3, 5)), p, axis=1)
    with pytest.raises(ValueError, match=r"labels of shape \(3, 4\)"):
        losses.sparse_categorical_crossentropy(rng.integers(0, 5, (3,)), p)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\)"):
        losses.sparse_categorical_crossentropy(np.full((3, 4), 5), p)
    with pytest.raises(TypeError, match="y_true: expected integer class labels"):
        losses.sparse_categorical_crossentropy(np.full((3, 4), 0.5), p)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.categorical_crossentropy(np.eye(3), np.eye(3), label_smoothing=2.0)
    with pytest.raises(ValueError, match="axis must be an integer"):
        losses.binary_crossentropy(np.eye(3), np.eye(3), axis=True)
    with pytest.raises(TypeError, match="y_pred: expected an array of numbers"):
        losses.mean_squared_error([1.0], ["a"])


def test_ctc_circle_and_generalized_cross_entropy_match_keras(keras, rng):
    z = rng.standard_normal((3, 6, 5))
    labels = np.array([[1, 2, 0], [3, 3, 4], [1, 0, 0]])
    np.testing.assert_allclose(losses.ctc(labels, z), np.asarray(keras.losses.ctc(labels, z)), rtol=1e-5)
    e = rng.standard_normal((6, 4))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    ids = np.array([0, 1, 0, 1, 2, 2])
    for settings in ({}, {"gamma": 10, "margin": 0.2, "remove_diagonal": False}):
        np.testing.assert_allclose(losses.circle(ids, e, **settings), np.asarray(keras.losses.circle(ids, e, **settings)),
                                   rtol=1e-6)
    with pytest.raises(ValueError, match="ref_embeddings is not supported"):
        losses.circle(ids, e, ref_embeddings=e)
    p = rng.random((4, 3))
    y = rng.integers(0, 3, 4)
    np.testing.assert_allclose(losses.categorical_generalized_cross_entropy(y, p, q=0.7),
                               np.asarray(keras.losses.categorical_generalized_cross_entropy(y, p, q=0.7)), rtol=1e-6)


def test_names_keep_their_meaning():
    # the functions, and Keras 2's short names for them; strings still name the Loss classes
    assert losses.mse is losses.MSE is losses.mean_squared_error and losses.kld is losses.kl_divergence
    assert losses.logcosh is losses.log_cosh and losses.mape is losses.mean_absolute_percentage_error
    assert isinstance(losses.get("mse"), losses.MeanSquaredError) and isinstance(losses.get("ctc"), losses.CTC)
    assert callable(losses.ctc) and not hasattr(losses.ctc, "CTC")       # the function, not a module
    from glassnet.losses.connectionist import CTC
    assert CTC is losses.CTC


# ---- compile ------------------------------------------------------------------------------------
def _trained(loss, rng_seed=0, metrics=None, units=3, activation="softmax"):
    rng = np.random.default_rng(rng_seed)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = np.eye(units, dtype=np.float32)[rng.integers(0, units, 40)]
    model = gn.Sequential([L.Dense(8, activation="tanh", input_dim=4), L.Dense(units, activation=activation)], seed=1)
    model.compile(loss=loss, optimizer="adam", metrics=metrics)
    return model, model.fit(x, y, epochs=3, batch_size=8, verbose=0).history


@pytest.mark.parametrize("function,name", [(losses.categorical_crossentropy, "categorical_crossentropy"),
                                           (losses.mean_squared_error, "mse"), (losses.huber, "huber"),
                                           (losses.kld, "kl_divergence")])
def test_compile_with_a_function_trains_as_its_name(function, name, tmp_path):
    model, history = _trained(function)
    _, expected = _trained(name)
    assert history == expected
    assert type(model.loss) is type(losses.get(name))
    model.save(tmp_path / "m.npz")
    assert type(gn.load_model(tmp_path / "m.npz").loss) is type(losses.get(name))


def test_compile_with_a_function_evaluates_as_keras_compiled_with_it(keras, rng):
    x = rng.standard_normal((10, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 10)]
    ours = gn.Sequential([L.Dense(3, activation="softmax", input_dim=4)])
    ours.compile(loss=losses.categorical_crossentropy, metrics=[losses.mean_absolute_error])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss=keras.losses.categorical_crossentropy, metrics=[keras.losses.mean_absolute_error])
    theirs.set_weights(ours.get_weights())
    got = ours.evaluate(x, y, verbose=0, return_dict=True)
    want = theirs.evaluate(x, y, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert got["mean_absolute_error"] == pytest.approx(want["mean_absolute_error"], rel=1e-5)


def test_compile_reads_keras_serialized_function(keras):
    entry = keras.losses.serialize(keras.losses.huber)
    assert isinstance(losses.get(entry), losses.Huber)
    model = gn.Sequential([L.Dense(1, input_dim=2)])
    model.compile(loss=keras.losses.serialize(keras.losses.mean_squared_error))
    assert isinstance(model.loss, losses.MeanSquaredError)


def test_compile_refuses_functions_it_cannot_train_on(keras):
    model = gn.Sequential([L.Dense(3, input_dim=2)])
    # a function of yours compiles (glassnet.losses.taped); one the tape cannot differentiate (an
    # ndarray method on the output) is refused at the first step, by name (tests/test_custom_loss_fn.py)
    model.compile(loss=lambda y_true, y_pred: ((y_true - y_pred) ** 2).mean(-1), optimizer="sgd")
    with pytest.raises(TypeError, match="FunctionLoss '<lambda>'.*GradientTape"):
        model.fit(np.ones((4, 2), "float32"), np.ones((4, 3), "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"compile\(loss='mean_squared_error'\)"):
        model.compile(loss=keras.losses.mean_squared_error)       # Keras' own function
    with pytest.raises(ValueError, match=r"takes q.*CategoricalGeneralizedCrossEntropy\(q=\.\.\.\)"):
        model.compile(loss=losses.categorical_generalized_cross_entropy)


# ---- SparseCategoricalCrossentropy called on labels per position ------------------------------------
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", "none"])
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ignore_class", [None, 255])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_class_takes_labels_per_position_as_keras(reduction, from_logits, ignore_class, weighted, keras, rng,
                                                         torch):
    z = rng.standard_normal((3, 4, 5))
    x = z if from_logits else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    labels = rng.integers(0, 5, (3, 4))
    if ignore_class is not None:
        labels[0, 1] = labels[2, 3] = ignore_class
    w = rng.random(3) + 0.1
    ours = losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_class, reduction=reduction)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_class,
                                                        reduction=reduction)
    # Keras' class takes the weights one per position (its (n,) weights fail against (n, steps) values)
    want = np.asarray(theirs(labels, x, sample_weight=np.broadcast_to(w[:, None], labels.shape) if weighted else None))
    got = ours.weighted(x, labels, w) if weighted else ours(x, labels)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    if reduction == "none":
        return
    t = torch.tensor(x, requires_grad=True)
    valid = torch.tensor(labels != ignore_class, dtype=torch.float64)
    picked = torch.tensor(np.where(labels == ignore_class, 0, labels))[..., None]
    # Keras divides each row by its sum, then clips (rows of a softmax sum to 1, but the gradient
    # goes back through the division)
    log_p = torch.log_softmax(t, -1) if from_logits else torch.log(torch.clamp(t / t.sum(-1, keepdim=True), 1e-7, 1 - 1e-7))
    weights = torch.tensor(w)[:, None] if weighted else torch.ones(3, 1, dtype=torch.float64)
    total = (-log_p.gather(-1, picked)[..., 0] * valid * weights).sum()
    total = total / {"sum": 1.0, "sum_over_batch_size": valid.sum(), "mean_with_sample_weight": (weights * valid).sum()}[reduction]
    total.backward()
    assert float(total.detach()) == pytest.approx(got, rel=1e-9)
    grad = ours.weighted_gradient(x, labels, w) if weighted else ours.gradient(x, labels)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_sparse_class_per_position_weights_and_per_sample_match_keras(keras, rng):
    p = rng.random((3, 4, 5))
    labels = rng.integers(0, 5, (3, 4))
    w = rng.random((3, 4))
    ours = losses.SparseCategoricalCrossentropy()
    np.testing.assert_allclose(ours.weighted(p / p.sum(-1, keepdims=True), labels, w),
                               float(keras.losses.SparseCategoricalCrossentropy()(labels, p / p.sum(-1, keepdims=True),
                                                                                  sample_weight=w)), rtol=1e-6)
    # rows of p do not sum to 1: each is divided by its sum first, as Keras does
    np.testing.assert_allclose(ours.weighted(p, labels, w),
                               float(keras.losses.SparseCategoricalCrossentropy()(labels, p, sample_weight=w)), rtol=1e-6)
    np.testing.assert_allclose(ours.per_sample(p, labels[..., None]),
                               -np.log(np.take_along_axis(p / p.sum(-1, keepdims=True), labels[..., None], -1)[..., 0]))
    with pytest.raises(ValueError, match=r"labels of shape \(3, 4\)"):
        ours(p, labels[:, 0])
