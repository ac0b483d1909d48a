"""The two graph nodes that carry Keras' masks in and out of a block drawn from ``call``
(glassnet._block_masks draws them; layers/masking.py plans where masks go).

Keras hands a block's ``call(self, inputs, mask=None)`` the mask its input carries, a boolean
tensor (batch, steps), and puts what its ``compute_mask(inputs, mask)`` returns on its output. A
glassnet mask is no tensor: the layer that makes it hands it, each pass, to the layers that read
it (``masking.hand_on``). So:

- ``CallMask`` reads the mask of the tensor it is called on and gives it as a tensor, the model's
  floats 0.0 and 1.0 (as glassnet.ops' comparisons on tensors give booleans), which ``call`` then
  uses with operators and ``glassnet.ops``. No gradient goes through it (a mask chooses, it is not
  weighed): its backward sends zeros.
- ``SetMask`` is ``[output, mask]`` -> ``output``, handing ``mask`` (the tensor ``compute_mask``
  drew, 1.0 where a step is real) on to the layers that read the output's mask, as an
  ``Embedding(mask_zero=True)`` hands on its own. The output's gradient passes unchanged.

Both are merges (a list of inputs) so that the model plans them as it plans the attention layers,
which read their inputs' masks (``reads_input_masks``).
"""
from .. import backend
from .base import Layer
from .masking import checked_mask, hand_on


class CallMask(Layer):
    """The mask of a tensor, as a tensor: ``CallMask()([x])``, x (batch, steps, ...) carrying a
    mask -> (batch, steps) of 0.0 and 1.0 in the model's dtype (1.0: a real step). What a drawn
    ``call(self, inputs, mask=None)`` gets as ``mask``; you do not make one yourself.

    Shapes: [(batch, steps, ...)] -> (batch, steps).
    """
    merges = True               # called on [x]: planned as a reader of x's mask (masking._plan_merge)
    reads_input_masks = True
    _input_masks = None

    def __init__(self, **kwargs):
        if kwargs.get("input_shape") is not None or kwargs.get("input_dim") is not None:
            raise ValueError("CallMask: takes no input_shape: its input is the tensor whose mask it reads")
        super().__init__(**kwargs)

    def _shape_of(self, input_shape):
        if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 1
                and isinstance(input_shape[0], (list, tuple)) and len(input_shape[0]) >= 2):
            raise ValueError(f"{self.describe()}: takes one tensor of sequences [(steps, ...)], got {input_shape!r:.80}")
        return tuple(input_shape[0])

    def check_input_shape(self, sample_shape):
        self._shape_of(sample_shape)

    def build(self, input_shape):
        self.input_shape = [self._shape_of(input_shape)]
        self.built = True

    def output_shape(self, input_shape):
        return self._shape_of(input_shape)[:1]

    def mask_rule(self, incoming):
        return None             # a mask has no mask of its own

    def receive_mask(self, positions, mask):
        self._input_masks = mask

    def clear_masks(self):
        self._input_masks = None

    def forward(self, inputs, training=False):
        (x,) = inputs
        mask, self._input_masks = self._input_masks, None
        if mask is None:
            # planned when drawn; a pass outside the model's plan (the layer called alone) has none
            raise ValueError(f"{self.describe()}: no mask reached it in this pass; it reads the mask a model "
                             f"hands on to it (a block's call drawn on a masked tensor), not arrays alone")
        self._x_shape = x.shape
        return checked_mask(self, mask, x).astype(x.dtype)

    def backward(self, grad_output):
        # the mask chooses which steps count; nothing is weighed by it, so no gradient goes back
        return [backend.get_array_module(grad_output).zeros(self._x_shape, dtype=grad_output.dtype)]


class SetMask(Layer):
    """``[output, mask]`` -> ``output``, with ``mask`` (batch, steps) handed on as the output's mask
    (True, or non-zero, where a step is real): the mask a drawn block's ``compute_mask`` returned.
    You do not make one yourself.

    Shapes: [(batch, steps, ...), (batch, steps)] -> (batch, steps, ...).
    """
    merges = True
    makes_mask = True
    reads_input_masks = False

    def __init__(self, **kwargs):
        if kwargs.get("input_shape") is not None or kwargs.get("input_dim") is not None:
            raise ValueError("SetMask: takes no input_shape: its inputs are the output and its mask")
        super().__init__(**kwargs)

    def _shapes(self, input_shape):
        if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
                and all(isinstance(s, (list, tuple)) for s in input_shape)):
            raise ValueError(f"{self.describe()}: takes [output, mask], got {input_shape!r:.80}")
        value, mask = (tuple(s) for s in input_shape)
        if len(value) < 2 or len(mask) != 1 or not (mask[0] is None or value[0] is None or mask[0] == value[0]):
            raise ValueError(f"{self.describe()}: compute_mask must return a mask of the output's steps, "
                             f"(batch, steps) = (None, {value[0] if value else None}) for an output of sequences "
                             f"(batch, steps, ...); the output has samples of shape {value} and the mask {mask}")
        return value, mask

    def check_input_shape(self, sample_shape):
        self._shapes(sample_shape)

    def build(self, input_shape):
        self.input_shape = list(self._shapes(input_shape))
        self.built = True

    def output_shape(self, input_shape):
        return self._shapes(input_shape)[0]

    def mask_rule(self, incoming):
        return None             # its own mask is the one it makes (makes_mask)

    def mask_within_steps(self):
        return False

    def forward(self, inputs, training=False):
        value, mask = inputs
        self._mask_shape = mask.shape
        hand_on(self, checked_mask(self, mask, value, what="the mask compute_mask returned"))
        return value

    def backward(self, grad_output):
        xp = backend.get_array_module(grad_output)
        return [grad_output, xp.zeros(self._mask_shape, dtype=grad_output.dtype)]
