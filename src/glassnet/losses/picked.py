"""``compile(loss="crossentropy")`` (or ``"ce"``, in any case): the cross-entropy the data picks.

Keras 3 takes these two names in ``compile`` only (``keras.losses.get("ce")`` refuses them, and so
does ``losses.get`` here) and picks the loss at the first batch it sees, from the targets and the
outputs (keras/src/trainers/compile_utils.py, ``get_loss`` and ``is_binary_or_sparse_categorical``):

- ``binary_crossentropy`` when the output has one unit (its last axis is 1), whatever the targets;
- else ``sparse_categorical_crossentropy`` when the targets are labels: they have fewer axes than
  the outputs ((n,) for outputs (n, k)), or their last axis is 1 ((n, 1) for (n, k), k > 1);
- else ``categorical_crossentropy`` (one-hot or soft targets shaped like the outputs).

Until then the model holds a ``PendingCrossentropy``, which has no value or gradient of its own;
the model's first ``fit``, ``evaluate``, ``train_on_batch`` or ``test_on_batch`` replaces it with the
loss picked (``pick``), which then trains exactly as if it had been named: fused with a sigmoid or
softmax output where that loss is. The compile config keeps the name as given (Keras'
``get_compile_config`` too), so a model compiled again from it, or loaded from a file, picks again.

>>> import numpy as np
>>> pending = PendingCrossentropy("CE")
>>> pending.pick((32,), (32, 10)).name, pending.pick((32, 1), (32, 1)).name
('sparse_categorical_crossentropy', 'binary_crossentropy')
"""
from .base import Loss
from .crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy

# Keras' compile compares str(identifier).lower() with these
NAMES = ("crossentropy", "ce")


def names_pending(identifier):
    """Whether compile's ``identifier`` is one of Keras' names for the cross-entropy the data picks."""
    return isinstance(identifier, str) and identifier.lower() in NAMES


def picked_class(target_shape, output_shape):
    """Keras' choice, by shapes only (the values are not read): the class of the loss for targets of
    ``target_shape`` and outputs of ``output_shape``, both with their batch axis first.

    target_shape, output_shape : tuple of int (n, ...) and (n, ..., k)
    """
    is_binary = output_shape[-1] == 1
    is_sparse = len(target_shape) < len(output_shape) or (target_shape[-1] == 1 and output_shape[-1] != 1)
    if is_binary:           # before the labels' test: (n,) targets of a one-unit output are 0/1
        return BinaryCrossentropy
    return SparseCategoricalCrossentropy if is_sparse else CategoricalCrossentropy


class PendingCrossentropy(Loss):
    """The loss of a model compiled with ``"crossentropy"`` or ``"ce"`` before its first batch.

    ``given`` is the name as compile was given it (``"CE"``), which the compile config records.
    It computes nothing: ``pick`` gives the loss to train on, once the targets' shape is known.
    """
    name = "crossentropy"

    def __init__(self, given="crossentropy"):
        super().__init__()
        if not names_pending(given):
            raise ValueError(f"PendingCrossentropy: given must be one of {list(NAMES)} (any case), got {given!r:.60}")
        self.given = given

    def pick(self, target_shape, output_shape):
        """The cross-entropy Keras picks for targets of ``target_shape`` (n, ...) and outputs of
        ``output_shape`` (n, ..., k): a new instance at its defaults (Keras' function of that name,
        with its defaults), which trains as the loss named would."""
        return picked_class(tuple(target_shape), tuple(output_shape))()

    def _not_picked(self, *args, **kwargs):
        # reached only by calling the placeholder directly: a model picks before its first loss
        raise ValueError(f"loss: {self.given!r} picks binary, categorical or sparse categorical cross-entropy "
                         f"from the first batch's targets; it has no value of its own until then: fit, evaluate, "
                         f"train_on_batch or test_on_batch the model, or call the loss PendingCrossentropy.pick gives")

    __call__ = gradient = weighted = weighted_gradient = per_sample = _not_picked

    def get_config(self):
        return self.given

    def __repr__(self):
        return f"<loss {self.given} (picked at the first batch)>"
