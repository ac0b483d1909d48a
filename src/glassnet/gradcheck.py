"""Finite-difference gradient checks, public so users can check the layers they write.

Each check compares the analytic gradient (``backward``) with central differences
``(f(w + eps) - f(w - eps)) / (2 eps)`` in float64, element by element. A layer is checked through the
scalar ``L = sum(forward(x) * R)`` with a fixed random ``R``, so ``dL/d(output) = R`` exercises every
output. Inputs are nudged off the kinks of relu-like functions (Chainer's advice) by the caller's choice
of ``x``; ``check_layer`` warns nothing and assumes smooth points.

An entry passes when ``|analytic - numeric| <= atol' + rtol * |numeric|``. The absolute part scales
with the array it belongs to, ``atol' = atol * min(1, max|numeric|)``, so a gradient that is small
everywhere is not waved through by an ``atol`` meant for gradients near 1; it never goes below what
finite differences can resolve, ``100 * 2**-52 * max|f| / eps`` (rounding in ``f(w +- eps)``).
Before the analytic pass every gradient array is filled with NaN: a ``backward`` that adds to its
gradients (``+=``) instead of writing them, or forgets one, fails instead of passing by luck.

>>> from glassnet.layers import Dense
>>> check_layer(Dense(3, activation="tanh", dtype="float64", seed=0), np.ones((4, 2)))["max_error"] < 1e-7
True
"""
import contextlib

import numpy as np

from ._serial import lock_of
from .layers.base import StateSnapshot


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with finite differences."""


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f()`` with respect to array ``x``
    (changed in place and restored). Returns an array of ``x``'s shape."""
    return _numerical_gradient(f, x, eps)[0]


def _numerical_gradient(f, x, eps):
    """``numerical_gradient`` and the largest |f| it saw (which sets the rounding noise in it)."""
    largest = 0.0

    def f_seen():
        nonlocal largest
        value = f()
        largest = max(largest, abs(value))
        return value

    return _central_differences(f_seen, x, eps), largest


def _central_differences(f, x, eps):
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be contiguous so that it can be nudged in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = f()
        flat[i] = saved - eps
        minus = f()
        flat[i] = saved
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def _compare(name, analytic, numerical, rtol, atol, report, eps):
    """Compare ``analytic`` with ``numerical`` = (gradient, largest |f|) from _numerical_gradient;
    record the worst error in ``report``; raise GradientCheckError at the first disagreement."""
    numeric, f_scale = numerical
    if analytic is None:
        raise GradientCheckError(f"{name}: backward returned None instead of a gradient of shape {numeric.shape}")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise GradientCheckError(f"{name}: analytic gradient has shape {analytic.shape}, "
                                 f"expected {numeric.shape}")
    error = np.abs(analytic - numeric)
    # NaN is where backward never wrote (the arrays were filled with it): the worst error of all
    error[np.isnan(error)] = np.inf
    worst = float(error.max()) if error.size else 0.0
    report["errors"][name] = worst
    report["max_error"] = max(report["max_error"], worst)
    peak = float(np.abs(numeric).max()) if numeric.size else 0.0
    noise = 100 * np.finfo(np.float64).eps * f_scale / eps
    tolerance = max(atol * min(1.0, peak), noise)
    bad = error > tolerance + rtol * np.abs(numeric)
    if bad.any():
        i = np.unravel_index(int(np.argmax(error - rtol * np.abs(numeric))), error.shape)
        # the buffers start as NaN: NaN means backward never wrote the entry, or added to it
        # (``grads[k] += ...``, which the layer contract forbids) instead of assigning it
        unwritten = (" (NaN: backward never wrote this entry, or added to it with += instead of "
                     "assigning it)") if np.isnan(analytic[i]) else ""
        raise GradientCheckError(
            f"{name}: analytic and numerical gradients differ at index {tuple(int(k) for k in i)}: "
            f"analytic {analytic[i]:.8g}{unwritten}, numerical {numeric[i]:.8g} ({int(bad.sum())} of "
            f"{bad.size} entries beyond atol={tolerance:.3g}, rtol={rtol}; atol is scaled to this "
            f"gradient's largest entry, {peak:.3g})")


def _poison(layers):
    """Fill every gradient array with NaN before an analytic pass (see the module docstring)."""
    for layer in layers:
        for grad in layer.grads.values():
            grad[...] = np.nan


def _refuse_device(params, caller):
    """A TypeError for weights on a GPU: the checks nudge NumPy copies one value at a time, a loop
    of millions of tiny steps that belongs on the host (the GPU's own arithmetic is checked against
    the host's in tests/test_gpu.py)."""
    if any(not isinstance(p, np.ndarray) for p in params):
        raise TypeError(f"{caller}: gradient checks run on the host; build the layer or model under "
                        f"glassnet.set_backend('numpy') (its weights are on a GPU)")


def check_layer(layer, x, *, training=False, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0, before_forward=None):
    """Check ``layer.backward`` (input gradient and every parameter gradient) by finite differences.

    Parameters
    ----------
    layer : Layer
        Should be float64 (``dtype="float64"``); built on ``x`` if it is not built yet. A layer
        given no dtype becomes a float64 layer here, for good (its parameters are made float64).
    x : ndarray of shape (batch, *input_shape)
        For a layer of several inputs (``merges = True``), the list of its inputs, each
        ``(batch, *shape_j)``: built with the list of their shapes, its ``forward`` given the list and
        each of ``backward``'s gradients checked (``"input 0"``, ``"input 1"``, ... in the report).
    training : bool
        Passed to ``forward``.
    before_forward : callable, optional
        Called before every forward pass; a stochastic layer (Dropout) uses it to reset its RNG so
        that every evaluation draws the same mask.

    Returns
    -------
    dict with ``max_error`` and ``errors`` (per parameter and ``"input"``); raises
    ``GradientCheckError`` with the first disagreeing index otherwise.

    The layer is left as it was: its moving statistics (BatchNormalization with ``training=True``;
    any ``state``, which every pass also starts from) and random generator are restored, and a model's first layer, which skips its input gradient
    in training, computes it for the check and skips it again afterwards.
    """
    _refuse_device(layer.params.values(), "check_layer")
    several = getattr(layer, "merges", False) and isinstance(x, (list, tuple))
    # private copies to nudge; a merging layer's inputs one by one (np.array would stack inputs of
    # one shape into one array and refuse inputs of different shapes)
    x = [np.array(a, dtype=np.float64) for a in x] if several else np.array(x, dtype=np.float64)
    if layer.dtype is None:
        layer.dtype = np.dtype(np.float64)
    if layer.dtype != np.float64:
        raise ValueError(f"check_layer: the layer must be float64 for finite differences, got {layer.dtype}")
    if not layer.built:
        layer.build([a.shape[1:] for a in x] if several else x.shape[1:])
    snapshot, needs_input_gradient = StateSnapshot([layer]), layer.needs_input_gradient
    layer.needs_input_gradient = True
    hook = before_forward or (lambda: None)

    def before_each_pass():         # a stateful layer starts every pass from the same states,
        snapshot.restore_carried()  # and a layer whose training output reads state it updates
        snapshot.restore_state()    # (add_weight(trainable=False)) from the same state
        hook()

    try:
        return _check_layer(layer, x, training, eps, rtol, atol, seed, before_each_pass)
    finally:
        snapshot.restore()
        layer.needs_input_gradient = needs_input_gradient


def _check_layer(layer, x, training, eps, rtol, atol, seed, hook):
    hook()
    out = layer.forward(x, training=training).copy()
    with _held([layer]):
        return _check_passes(layer, x, training, eps, rtol, atol, seed, hook, out)


@contextlib.contextmanager
def _held(layers):
    """While a gradient check nudges weights: layers whose training calls rewrite a weight
    (SpectralNormalization) compute with it as it is, as the analytic gradient assumes."""
    held = [layer for layer in layers if getattr(layer, "training_rewrites", ())]
    for layer in held:
        layer.hold_rewrites = True
    try:
        yield
    finally:
        for layer in held:
            layer.hold_rewrites = False


def _check_passes(layer, x, training, eps, rtol, atol, seed, hook, out):
    hook()
    if not np.array_equal(layer.forward(x, training=training), out, equal_nan=True):
        # finite differences of a function that changes between calls are noise, not a gradient
        raise GradientCheckError(
            f"check_layer: two forward passes of {layer.describe()} on the same input differ, so no "
            f"numerical gradient exists; a layer that draws random numbers in training (Dropout) needs "
            f"before_forward to reset its generator before each pass, e.g. "
            f"before_forward=lambda: setattr(layer, 'rng', np.random.default_rng(0))")
    weights = np.random.default_rng(seed).standard_normal(out.shape)

    def loss():
        hook()
        return float(np.sum(layer.forward(x, training=training) * weights))

    loss()                                   # the analytic pass runs on a fresh forward cache
    _poison([layer])
    grad_output = weights.copy()
    grad_in = layer.backward(grad_output)
    # the contract: a model hands one gradient to several layers (a branch point of a functional
    # model), so a backward that writes into it corrupts the others' gradients, and this check,
    # which hands it a copy, would pass it
    if not np.array_equal(grad_output, weights):
        raise GradientCheckError(f"check_layer: {layer.describe()}: backward modified grad_output in place; "
                                 f"compute into a new array (g = grad_output * ..., not grad_output *= ...)")
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    report = {"max_error": 0.0, "errors": {}}
    if getattr(layer, "discrete_input", False):
        # indices (Embedding): a nudged input is no index at all, and the true gradient is 0
        _compare("input", grad_in, (np.zeros_like(x), 1.0), rtol, atol, report, eps)
    elif isinstance(x, list):                # a merging layer: backward returns one gradient per input
        if not isinstance(grad_in, (list, tuple)) or len(grad_in) != len(x):
            raise GradientCheckError(f"input: backward of {layer.describe()} must return a list of {len(x)} "
                                     f"gradients, one per input, got {type(grad_in).__name__}")
        for j, (g, a) in enumerate(zip(grad_in, x)):
            _compare(f"input {j}", g, _numerical_gradient(loss, a, eps), rtol, atol, report, eps)
    else:
        _compare("input", grad_in, _numerical_gradient(loss, x, eps), rtol, atol, report, eps)
    for name, value in layer.params.items():
        if name not in analytic:
            raise GradientCheckError(f"{name}: backward left no gradient for it in layer.grads")
        _compare(name, analytic[name], _numerical_gradient(loss, value, eps), rtol, atol, report, eps)
    return report


def check_loss(loss, y_pred, y_true, *, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Check ``loss.gradient(y_pred, y_true)`` against finite differences of ``loss(y_pred, y_true)``.

    y_pred, y_true : ndarray of shape (batch, outputs) (y_true: integer labels (batch,) for the sparse loss)
    """
    from . import losses as _losses
    loss = _losses.get(loss)
    y_pred = np.array(y_pred, dtype=np.float64)
    report = {"max_error": 0.0, "errors": {}}
    _compare(loss.name, loss.gradient(y_pred, y_true),
             _numerical_gradient(lambda: loss(y_pred, y_true), y_pred, eps), rtol, atol, report, eps)
    return report


def check_model(model, x, y, *, sample_weight=None, eps=1e-6, rtol=1e-5, atol=1e-7):
    """Check the gradient of a compiled float64 model's loss with respect to every parameter.

    x : ndarray of shape (batch, *input_shape); y : targets as ``fit`` takes them;
    sample_weight : ndarray of shape (batch,), or one weight per position of an output with
    positions ((batch, steps), (batch, H, W), as ``fit`` takes them), optional: checks the
    weighted loss instead.
    Uses the model's own training path (fused output gradients included), without updating:
    every pass draws the same dropout masks, and BatchNormalization's moving statistics are left
    as they were (``StateSnapshot``). The report's "skipped" names the weights of frozen layers no
    gradient reaches (below a ``Lambda``, which passes none back): not checked. Holds the model's
    lock (glassnet._serial) throughout, as ``fit`` and ``predict`` do: a ``predict`` of the same
    model in another thread waits for the check, neither overwriting the other's caches.
    """
    with lock_of(model):
        return _check_model(model, x, y, sample_weight, eps, rtol, atol)


def _check_model(model, x, y, sample_weight, eps, rtol, atol):
    _refuse_device([p for layer in model.layers for p in layer.params.values()], "check_model")
    if model.dtype != np.float64:
        raise ValueError(f"check_model: the model must be float64, got {model.dtype}")
    model._require_compiled("check_model")
    model._apply_trainable_flags()      # as fit: frozen layers, and the first layer marked as the first
    x, y = model._prepare_xy(x, y, "x", "y")
    w = model._check_weights(sample_weight, x)
    snapshot = StateSnapshot(model.layers)
    _poison(model.layers)
    model._mark_first_layer(every=True)     # frozen layers' gradients too, which training skips
    try:
        model._loss_and_gradients(x, y, w)
    finally:
        model._mark_first_layer()
    report = {"max_error": 0.0, "errors": {}, "skipped": []}
    analytic = []
    for layer in model.layers:
        for name, value in layer.params.items():
            grad = layer.grads[name]
            if not layer.trainable and np.isnan(grad).all():
                # a frozen layer below a Lambda: no gradient reaches it (training needs none)
                report["skipped"].append(f"{layer.name}/{name}")
                continue
            analytic.append((f"{layer.name}/{name}", grad.copy(), value))

    def loss():
        snapshot.restore(weights=False)         # the masks of the analytic pass, again
        return model._loss_value(x, y, w)

    try:
        with _held(model.layers):
            for key, grad, value in analytic:
                _compare(key, grad, _numerical_gradient(loss, value, eps), rtol, atol, report, eps)
    finally:
        snapshot.restore()
    return report
