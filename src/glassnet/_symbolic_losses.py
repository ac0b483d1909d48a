"""A glassnet ``Loss`` object called in a drawn ``call`` on its symbolic tensors, its value given to
``add_loss`` (keras.io's training guide's ``LogisticEndpoint``): the loss drawn with
``glassnet.ops``, as Keras 3.15 computes it, so the term trains as the guide's does.

Glassnet's order holds there too, ``loss_fn(y_pred, y_true, sample_weight)``; the guide's Keras
order ``loss_fn(targets, logits, sample_weights)``, the prediction a model input and the target
not, is refused by name, as a GradientTape refuses it (a target computed from weights would be
differentiated). Taken: ``BinaryCrossentropy``, ``CategoricalCrossentropy`` (``from_logits``,
``label_smoothing``), ``SparseCategoricalCrossentropy`` (``from_logits``), ``MeanSquaredError``,
``MeanAbsoluteError``, reductions ``"sum_over_batch_size"`` (Keras' default) and ``"sum"``, a
sample weight of one value per sample ((n,) or (n, 1)); anything else is refused by name.
"""


def drawn_loss(loss, y_pred, y_true, sample_weight=None):
    """``loss(y_pred, y_true, sample_weight=...)`` on symbolic tensors: the reduced value, a
    tensor of the drawn call (for ``add_loss``)."""
    from . import ops
    from .layers.input import InputLayer
    from .losses import crossentropy, regression
    from .losses.functions import _smoothed
    name = type(loss).__name__
    if isinstance(y_pred, InputLayer) and not isinstance(y_true, InputLayer):
        raise TypeError(f"{loss.name}: y_pred is a model input and y_true is not: a glassnet Loss object takes "
                        f"(y_pred, y_true, sample_weight), PyTorch's order (Keras' loss_fn(y_true, y_pred) "
                        f"swapped), in a call too: self.loss_fn(logits, targets, sample_weights)")
    if not type(loss).__module__.startswith("glassnet."):
        raise NotImplementedError(f"{name}: a loss of your own is not drawn on a call's tensors; compute it with "
                                  f"glassnet.ops there and give it to add_loss (docs/keras_parity.md)")
    smoothing = getattr(loss, "label_smoothing", 0.0)
    if isinstance(loss, crossentropy.SparseCategoricalCrossentropy):
        if loss.ignore_class is not None or smoothing:
            raise NotImplementedError(f"{name}: ignore_class and label_smoothing are not drawn on a call's tensors")
        values = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=loss.from_logits)
    elif type(loss) in _exactly(crossentropy.CategoricalCrossentropy):
        y_true = _smoothed(y_true, smoothing, ops.shape(y_pred)[-1])
        values = ops.categorical_crossentropy(y_true, y_pred, from_logits=loss.from_logits)
    elif type(loss) in _exactly(crossentropy.BinaryCrossentropy):
        y_true = _smoothed(y_true, smoothing, 2)        # towards 1/2, as the function smooths
        values = ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=loss.from_logits), axis=-1)
    elif type(loss) in _exactly(regression.MeanSquaredError):
        values = ops.mean(ops.square(y_pred - y_true), axis=-1)
    elif type(loss) in _exactly(regression.MeanAbsoluteError):
        values = ops.mean(ops.abs(y_pred - y_true), axis=-1)
    else:
        raise NotImplementedError(f"{name}: not drawn on a call's tensors (BinaryCrossentropy, CategoricalCrossentropy, "
                                  f"SparseCategoricalCrossentropy, MeanSquaredError and MeanAbsoluteError are); "
                                  f"compute it with glassnet.ops there and give it to add_loss")
    if sample_weight is not None:
        shape = ops.shape(sample_weight)
        if len(shape) == 2 and shape[-1] == 1:
            sample_weight = ops.squeeze(sample_weight, axis=-1)
        elif len(shape) != 1:
            raise ValueError(f"{loss.name}: sample_weight: expected one weight per sample, (n,) or (n, 1), got shape "
                             f"{tuple(shape)}")
        values = values * sample_weight
    if loss.reduction == "sum_over_batch_size":
        return ops.mean(values)
    if loss.reduction == "sum":
        return ops.sum(values)
    raise NotImplementedError(f"{name}: reduction={loss.reduction!r} is not drawn on a call's tensors "
                              f"('sum_over_batch_size' and 'sum' are)")


def _exactly(cls):
    """``cls`` and the classes glassnet makes of it for a reduction (glassnet.losses.base)."""
    from .losses.base import _REDUCED_CLASSES
    return {cls, *(made for plain, made in _REDUCED_CLASSES.items() if plain is cls)}
