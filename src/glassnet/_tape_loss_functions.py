"""Keras' per-sample loss functions (glassnet.losses.functions) on a value a ``GradientTape``
records: their values now, and at ``gradient`` each value's gradient from the loss class the
function scored with (``record_loss_function``), in y_pred's layout (``_undoing``)."""
import numpy as np

from ._tape_calls import _ModelCall
from ._tape_losses import _LossNode, _recorded_targets_hint, general_targets
from ._tape_record import _keras_arguments
from ._tape_values import _Logits, _holds_live, _paused, _plain, _wrap, node_of


def record_loss_function(function, args, kwargs, noted):
    """Keras' per-sample loss function ``function(y_true, y_pred, ...)`` (glassnet.losses.functions)
    on a recorded ``y_pred``, recorded: its values now; at ``gradient``, each value's gradient from
    its loss class, which the function noted (``functions._scored``): the class scored ``y_pred``
    rearranged (``scored``: its class axis moved last, or its rows, (n * steps, k), for the sparse
    cross-entropy) and gave one value per row, each reading its own row; its value is their mean,
    so d(sum g_i value_i)/d scored is N g_i times the class's gradient in row i, and the function's
    values are the class's (reshaped; 0 where ``keep`` is False: ``ignore_class``, no gradient).
    A loss that fuses is fused with the sigmoid or softmax of the model call that gave y_pred
    where the class scored y_pred as it is (dL/dz, as ``record_loss`` and Keras on TensorFlow)."""
    from .model import fuses_with
    from .losses.overlap import _Overlap
    name = function.__name__
    bound = _keras_arguments(function, args, kwargs, 0)
    y_true, y_pred = bound["y_true"], bound["y_pred"]
    parent = node_of(y_pred, "y_pred")
    if node_of(y_true, "y_true") is not None or _holds_live([v for k, v in bound.items() if k not in ("y_true", "y_pred")]):
        raise TypeError(f"losses.{name}: y_true is a recorded value; the tape takes the targets as constants. "
                        + _recorded_targets_hint(parent, "Keras' loss functions take (y_true, y_pred), the targets "
                                                 "first (glassnet's Loss objects take (y_pred, y_true))"))
    plain = {k: _plain(v) for k, v in bound.items()}
    noted.seen = seen = []
    try:
        with _paused():
            values = np.asarray(function(**plain))
    finally:
        noted.seen = None
    a = np.asarray(plain["y_pred"])
    loss, scored, y, given, axis, keep = seen[0] if len(seen) == 1 else (None,) * 6
    undo = None if loss is None else _undoing(scored, axis, a.shape)
    if undo is None or not np.array_equal(undo(scored), a, equal_nan=a.dtype.kind == "f") or \
            not np.array_equal(values.reshape(-1), (given if keep is None else np.where(keep, given, 0)).reshape(-1)):
        raise TypeError(f"losses.{name} on a value a GradientTape records: not recorded for these arguments (its "
                        f"values are not its loss class's on y_pred as given); use the loss class, "
                        f"glassnet.losses.{type(loss).__name__ if loss is not None else 'Loss'}(...)(y_pred, y_true)")
    if parent is None:
        return values
    # the categorical cross-entropy's own gradients (softmax - y) hold for rows of targets summing to 1,
    # which fit checks (CategoricalCrossentropy.prepare_targets); a function in a loss of yours may give others
    general = _general_categorical(loss, scored, y)
    activation = loss.fused_activation()
    fused = (isinstance(parent, _ModelCall) and activation is not None and parent.z is not None and keep is None
             and general is None
             and scored.shape == a.shape and axis in (-1, a.ndim - 1)
             and fuses_with(parent.model._output_layer, activation) and a.shape == parent.z.shape)
    if fused:       # the values too from the logits, whose gradient backward gives (Keras-TF reads them)
        with _paused():
            exact = _values_from_logits(loss, np.asarray(parent.z), a, y)
        if exact is not None and exact.size == values.size:
            values = np.reshape(exact, values.shape)

    # the shape each value's g takes against scored: its leading axes, or for dice and tversky the
    # axes they do not sum over (axis=1 of (n, steps, k) gives values (n, k), read along axis 1)
    axes = loss._axes(scored) if isinstance(loss, _Overlap) else None
    against = given.shape + (1,) * (scored.ndim - given.ndim) if axes is None else \
        tuple(1 if i in axes else d for i, d in enumerate(scored.shape))

    def spread(g):          # each value's g over the entries it reads, times N (the class takes the mean)
        g = np.reshape(np.asarray(g), given.shape)
        if keep is not None:
            g = g * keep
        return np.reshape(g, against) * given.size

    def unfused(g):
        with _paused():
            grad = loss.gradient(scored, y) if general is None else general()
        return undo(np.asarray(grad) * spread(g)).astype(a.dtype, copy=False)

    def backward(g):
        if not fused:
            return unfused(g)
        with _paused():
            t = general_targets(loss, a, y)     # (rows of y not summing to 1 after a softmax)
            dz = loss.gradient_from_logits(a, y if t is None else t)
        return _Logits((np.asarray(dz) * spread(g)).astype(a.dtype, copy=False), lambda: unfused(g))
    node = _LossNode(parent, backward)
    node.what = f"losses.{name}"
    return _wrap(values.astype(a.dtype, copy=False), node)


def _general_categorical(loss, scored, y):
    """For ``CategoricalCrossentropy(from_logits=True)`` scoring targets ``y`` whose rows do not sum
    to 1 (multi-hot, a row of zeros): a function giving the class's gradient by the general form,
    (softmax(z) sum(y) - y) / N; None where the class's own gradient holds."""
    from .losses.crossentropy import CategoricalCrossentropy
    from .losses.base import plain_type
    if plain_type(loss) is not CategoricalCrossentropy or not loss.from_logits:
        return None
    t = loss._smooth(loss._targets(scored, y))
    sums = t.sum(axis=-1, keepdims=True)
    if np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
        return None

    def gradient():
        e = np.exp(scored - scored.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True) * sums - t) / (scored.size // scored.shape[-1])
    return gradient


def _undoing(scored, axis, shape):
    """The function taking an array laid out as ``scored`` (what a loss class scored: y_pred with
    its class ``axis`` moved last, or reshaped) back to y_pred's ``shape``; None where none does."""
    if scored.size != int(np.prod(shape)) or not scored.ndim or not len(shape):
        return None
    if axis in (-1, len(shape) - 1):
        return lambda g: np.reshape(g, shape)
    moved = tuple(np.delete(np.array(shape), axis)) + (shape[axis],)
    return (lambda g: np.moveaxis(g, -1, axis)) if scored.shape == moved else None


def _values_from_logits(loss, z, a, y):
    """The per-sample values of the cross-entropy ``loss`` after the sigmoid or softmax output ``a``
    of logits ``z`` (n, k), from the logits, unclipped, as its fused value and gradient take them
    (Keras on TensorFlow reads the logits behind such an output); None for a loss not listed."""
    from .losses.base import plain_type
    from .losses.crossentropy import BinaryCrossentropy, CategoricalCrossentropy, TermsFromLogits
    from .losses.focal import BinaryFocalCrossentropy
    plain = plain_type(loss)
    if isinstance(loss, TermsFromLogits):
        return loss._terms_from_logits(z, a, loss._targets(a, y))
    if plain is BinaryFocalCrossentropy:
        return loss._fused_terms(z, a, loss._targets(a, y)).mean(axis=-1)
    if plain is BinaryCrossentropy:
        # (Keras' form: a logit of 40 on a positive costs 4e-18, not 0)
        return (np.maximum(z, 0) - z * loss._smooth(loss._targets(a, y)) + np.log1p(np.exp(-np.abs(z)))).mean(axis=-1)
    if plain is CategoricalCrossentropy:
        top = z.max(axis=-1, keepdims=True)
        lse = top + np.log(np.exp(z - top).sum(axis=-1, keepdims=True))
        return (loss._smooth(loss._targets(a, y)) * (lse - z)).sum(axis=-1)
    return None
