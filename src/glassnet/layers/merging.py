"""Merge layers (Keras' names): Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

Each takes a LIST of inputs and makes one output, so it lives in a functional ``Model`` (see
``glassnet.graph``), where two branches meet: ``Add()([x, shortcut])`` is a residual connection,
``Concatenate()([a, b])`` a U-Net's skip. ``forward`` takes the list of arrays; ``backward``
returns a list, dL/d(input) for each input in order.

The element-wise layers (Add, Subtract, Multiply, Average, Maximum, Minimum: ``_Elementwise``)
broadcast as Keras 3.15's merges do: an axis of size 1 is broadcast against the others', and an
input of fewer axes first gets axes of size 1 after its batch axis; each input's gradient is summed
back to its own shape. Concatenate takes inputs equal on every axis but its own.
"""
import numpy as np

from .. import _tape_state, backend
from .._validation import check_flag
from .base import LAYERS, Layer, constant_in_draw, drawn_call, shape_fits
from .masking import checked_mask


def _agree(a, b):
    """Whether sample shapes ``a`` and ``b`` can be one shape: equal where both sizes are known."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def batches_of(layer, inputs):
    """The list ``inputs`` of a layer called on several arrays, as arrays of one batch size, each
    (batch, ...): what a merge layer (and a Lambda on a list) checks before it builds. ValueError
    naming ``layer`` and the input otherwise."""
    xp = backend.get_array_module(inputs[0]) if inputs else np
    arrays = [xp.asarray(a) for a in inputs]
    for k, a in enumerate(arrays):
        if a.ndim < 2:
            raise ValueError(f"{layer.describe()}: input {k}: expected shape (batch, ...), got shape {a.shape}")
    if len({a.shape[0] for a in arrays}) > 1:
        raise ValueError(f"{layer.describe()}: inputs with different batch sizes, shapes {[a.shape for a in arrays]}")
    return arrays


class _Merge(Layer):
    """Shared by the merge layers: checks the list of inputs, builds for their shapes."""
    merges = True           # forward takes a list of arrays, backward returns a list (graph.Model)
    most_inputs = None      # Subtract: exactly two

    def __init__(self, **kwargs):
        if kwargs.get("input_shape") is not None or kwargs.get("input_dim") is not None:
            raise ValueError(f"{type(self).__name__}: takes no input_shape: its inputs are the layers it merges")
        super().__init__(**kwargs)

    def _checked_shapes(self, input_shapes):
        """The sample shapes of the inputs, as tuples, when they are a list this layer can merge."""
        cls = type(self).__name__
        if not isinstance(input_shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shapes):
            raise ValueError(f"{self.describe()}: expects a list of input shapes (one per input), got {input_shapes!r:.80}")
        shapes = [tuple(s) for s in input_shapes]
        wanted = "exactly 2" if self.most_inputs == 2 else f"2 to {self.most_inputs}" if self.most_inputs else "at least 2"
        if len(shapes) < 2 or (self.most_inputs is not None and len(shapes) > self.most_inputs):
            raise ValueError(f"{self.describe()}: {cls} merges {wanted} inputs, got {len(shapes)}")
        self._check_compatible(shapes)
        # built, the inputs keep their number, ranks and features; the axes before the features
        # (a sequence's steps) may take other sizes, as Dense's and Keras' merges and attention
        # take them: weights fix the features alone (a trained decoder drawn again for one step)
        built = self._built_shapes(len(shapes)) if self.built else None
        if self.built and (len(shapes) != len(built) or not all(
                len(s) == len(b) and shape_fits(s[-1:], b[-1:]) for s, b in zip(shapes, built))):
            raise ValueError(f"{self.describe()}: built for inputs of shapes {self.input_shape}, got {shapes}")
        return shapes

    def _built_shapes(self, count):
        """The input shapes a built layer checks a call of ``count`` inputs against: those it was
        built for (the attention layers: with or without their optional key)."""
        return self.input_shape

    def _check_compatible(self, shapes):
        """The element-wise layers: every input of one sample shape (None: any size)."""
        if not all(_agree(s, shapes[0]) for s in shapes[1:]):
            raise ValueError(f"{self.describe()}: {type(self).__name__} needs inputs of one shape (nothing is "
                             f"broadcast), got samples of shapes {shapes}")

    def _check_arrays(self, inputs):
        """In ``forward``: the arrays' own shapes, which an axis of any size (None) left open when
        the model was drawn (two sequences of different lengths must not broadcast)."""
        shapes = [x.shape for x in inputs]
        if len(set(shapes)) > 1:
            self._check_compatible([s[1:] for s in shapes])

    def build(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        self.input_shape = shapes
        self.built = True

    def output_shape(self, input_shape):
        return self._merged(self._checked_shapes(input_shape))

    @staticmethod
    def _merged(shapes):
        """One shape for equal ``shapes``: a size known on one and None (any) on another is that size."""
        return tuple(next((s[k] for s in shapes if s[k] is not None), None) for k in range(len(shapes[0])))

    def check_input_shape(self, sample_shape):
        self._checked_shapes(sample_shape)

    # masks (layers/masking.py): Keras' compute_mask gives the output's (mask_rule); a merge whose
    # values depend on its inputs' masks (reads_input_masks) is handed them for its next forward
    reads_input_masks = False
    _input_masks = None         # {input position: (batch, steps) booleans} for the next forward

    def mask_rule(self, incoming):
        """Keras' ``compute_mask`` for inputs that bring masks (``incoming``: one entry per input,
        None where it brings none; see ``masking.plan_graph_masks``): "or", the OR of the masks,
        or None, no mask on the output (Keras' merges give none when one input has none); "join"
        (masks side by side) and "first" (the first input's) for the layers that say so."""
        return None if None in incoming else "or"

    def receive_mask(self, positions, mask):
        masks = dict(self._input_masks or {})
        for i in positions:
            masks[i] = mask
        self._input_masks = masks

    def clear_masks(self):
        self._input_masks = None

    def _take_masks(self, inputs):
        """The masks of this forward's inputs, one per input (None: none), used once; each checked
        as a recurrent layer's is (``masking.checked_mask``): (batch, steps) booleans."""
        masks, self._input_masks = self._input_masks or {}, None
        return [None if masks.get(i) is None else checked_mask(self, masks[i], x, what=f"the mask of input {i}")
                for i, x in enumerate(inputs)]

    def _real(self, inputs):
        """Each input's real entries as booleans broadcast over its features, (batch, steps, 1),
        or None for an input without a mask; None alone when no input has one."""
        masks = self._take_masks(inputs)
        if all(mask is None for mask in masks):
            return None
        return [None if mask is None else mask.reshape(*mask.shape, *(1,) * (x.ndim - 2))
                for mask, x in zip(masks, inputs)]

    def numbers_per_sample(self, input_shape):
        return sum(int(np.prod(s)) for s in self._checked_shapes(input_shape))

    def __call__(self, inputs, training=None, mask=None):
        """``layer([x1, x2, ...])`` on arrays: checked, built on first use, then ``forward``; on the
        symbolic outputs of other layers (while a ``Model`` is drawn), the symbolic output."""
        from .symbolic import call_symbolic, is_symbolic
        if mask is not None:
            # Keras' merges' call has no mask argument either (TypeError); drawn, it was dropped silently
            raise TypeError(f"{self.describe()}: takes no mask (its output's mask comes from its inputs' masks)")
        if is_symbolic(inputs):
            return call_symbolic(self, inputs, training)
        if _tape_state.recording() and isinstance(inputs, (list, tuple)):
            # a GradientTape is open: the call is recorded (glassnet.tape), as Layer.__call__'s is;
            # MultiHeadAttention's masks and flags for this call are on the layer already (its _call)
            from ..tape import record_layer_call
            return record_layer_call(self, inputs, training, None, call=_Merge.__call__)
        _tape_state.FORWARDS[0] += 1        # the layer's caches become this call's (glassnet.tape)
        training = False if training is None else training
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"{self.describe()}: expects a list of arrays, got {type(inputs).__name__}")
        arrays = batches_of(self, inputs)
        shapes = [a.shape[1:] for a in arrays]
        if not self.built:
            if self.dtype is None:
                self.dtype = backend.resolve_dtype(None)
            self.build(shapes)
        self.check_input_shape(shapes)
        if self.params and drawn_call() is not None:       # MultiHeadAttention's weights (see Layer.__call__)
            raise constant_in_draw(self.describe(), [a.shape for a in arrays])
        return self.forward([a.astype(self.dtype, copy=False) for a in arrays], training=training)

    def get_config(self):
        config = super().get_config()
        config.pop("input_shape", None)     # a list of shapes: the model's graph says them
        return config


del LAYERS["_Merge"]


class _Elementwise(_Merge):
    """Shared by the element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum):
    Keras 3.15's broadcasting (``keras.src.layers.merging.base_merge.Merge``). An axis of size 1 is
    broadcast against the others' (a squeeze-and-excitation gate (batch, 1, 1, C) on a feature map
    (batch, H, W, C)); an input of fewer axes first gets axes of size 1 after its batch axis, as
    Keras' ``call`` expands it (``(batch, C)`` is ``(batch, 1, 1, C)`` beside ``(batch, H, W, C)``).
    Each input's gradient is summed over the axes it was broadcast along, back to its own shape."""

    @staticmethod
    def _ranked(shapes):
        """Sample ``shapes`` of one rank: a shorter one gets leading axes of size 1, as Keras'
        merges ``expand_dims(x, axis=1)`` an input of fewer axes until the ranks agree."""
        rank = max(len(s) for s in shapes)
        return [(1,) * (rank - len(s)) + tuple(s) for s in shapes]

    def _check_compatible(self, shapes):
        # on each axis (shorter shapes aligned on their last axes), sizes equal, unknown (None) or 1
        if all(len({d for d in sizes if d not in (None, 1)}) <= 1 for sizes in zip(*self._ranked(shapes))):
            return
        raise ValueError(f"{self.describe()}: {type(self).__name__} needs inputs of one shape (or of size 1 on an "
                         f"axis, broadcast: Keras' rule), got samples of shapes {shapes}")

    @classmethod
    def _merged(cls, shapes):
        """The broadcast shape, Keras' ``_compute_elemwise_op_output_shape`` folded over the inputs:
        on each axis the size that is not 1; None (unknown) where any input's is None, as in Keras."""
        merged = []
        for sizes in zip(*cls._ranked(shapes)):
            big = {d for d in sizes if d != 1}
            merged.append(None if None in big else big.pop() if big else 1)
        return tuple(merged)

    @staticmethod
    def expanded(arrays):
        """``arrays`` (batch, ...) of one rank: axes of size 1 inserted after the batch axis of
        those with fewer, Keras' ``expand_dims(x, axis=1)`` (also for the second-order tape)."""
        rank = max(x.ndim for x in arrays)
        return [x if x.ndim == rank else x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:])
                for x in arrays]

    def _broadcast(self, inputs):
        """``inputs`` checked and of one rank (``expanded``); their own shapes kept for backward."""
        self._check_arrays(inputs)
        self.shapes = tuple(x.shape for x in inputs)
        return self.expanded(inputs)

    @staticmethod
    def summed_back(g, shape):
        """Gradient ``g`` of the output summed over the axes along which an input of ``shape`` was
        broadcast (its expanded axes and its axes of size 1), in that shape."""
        lead = g.ndim - len(shape)
        axes = tuple(range(1, lead + 1)) + tuple(
            k + lead for k in range(1, len(shape)) if shape[k] == 1 and g.shape[k + lead] != 1)
        return (g.sum(axis=axes, keepdims=True) if axes else g).reshape(shape)

    def _gradients(self, grads):
        return [self.summed_back(g, shape) for g, shape in zip(grads, self.shapes)]


del LAYERS["_Elementwise"]


class Add(_Elementwise):
    """The sum of its inputs, element by element: ``Add()([x, shortcut])``, ResNet's residual.

    Shapes: a list of inputs, each (batch, *shape) -> (batch, *shape), broadcast as Keras' merges
    (``_Elementwise``). dL/d(each input) is dL/d(out), summed back to the input's shape.

    >>> import numpy as np
    >>> Add()([np.ones((2, 3)), np.full((2, 3), 2.0)])[0]
    array([3., 3., 3.], dtype=float32)
    """

    def forward(self, inputs, training=False):
        inputs = self._broadcast(inputs)
        out = inputs[0] + inputs[1]
        for x in inputs[2:]:
            out = out + x           # not in place: a later input may be the larger (broadcast)
        return out

    def backward(self, grad_output):
        return self._gradients([grad_output] * len(self.shapes))


class Subtract(_Elementwise):
    """The first input minus the second (exactly two inputs).

    Shapes: [(batch, *shape1), (batch, *shape2)] -> (batch, *broadcast shape) (``_Elementwise``);
    dL/dx1 = g, dL/dx2 = -g, each summed back to its input's shape.
    """
    most_inputs = 2

    def forward(self, inputs, training=False):
        inputs = self._broadcast(inputs)
        return inputs[0] - inputs[1]

    def backward(self, grad_output):
        return self._gradients([grad_output, -grad_output])


class Multiply(_Elementwise):
    """The product of its inputs, element by element (a gate: ``Multiply()([x, sigmoid_branch])``).

    Shapes: a list of inputs, each (batch, *shape) -> (batch, *broadcast shape) (``_Elementwise``:
    a squeeze-and-excitation gate (batch, 1, 1, C) or (batch, C) scales a feature map (batch, H, W,
    C), as in Keras' EfficientNet). dL/dx_i is dL/d(out) times the product of the other inputs,
    summed back to the input's shape.
    """

    reads_input_masks = True

    def forward(self, inputs, training=False):
        inputs = self._broadcast(inputs)
        # masked steps (Keras'): a masked input counts as 1 there; with every input masked, the
        # output is 0 where none is real
        self.real, self.kept = self._real(inputs), None
        if self.real is not None:
            inputs = [x if real is None else backend.get_array_module(x).where(real, x, x.dtype.type(1))
                      for x, real in zip(inputs, self.real)]
        self.inputs = inputs
        out = inputs[0] * inputs[1]
        for x in inputs[2:]:
            out = out * x           # not in place: a later input may be the larger (broadcast)
        if self.real is not None and all(real is not None for real in self.real):
            kept = self.real[0]
            for real in self.real[1:]:
                kept = kept | real
            self.kept = kept.astype(out.dtype)
            out = out * self.kept
        return out

    def backward(self, grad_output):
        if self.kept is not None:
            grad_output = grad_output * self.kept
        grads = []
        for i in range(len(self.inputs)):
            g = grad_output
            for j, x in enumerate(self.inputs):
                if j != i:
                    g = g * x
            if self.real is not None and self.real[i] is not None:
                g = g * self.real[i]        # a masked entry was the constant 1: no gradient
            grads.append(g)
        return self._gradients(grads)


class Average(_Elementwise):
    """The mean of its inputs, element by element.

    Shapes: a list of n inputs, each (batch, *shape) -> (batch, *broadcast shape) (``_Elementwise``);
    dL/dx_i = dL/d(out) / n, summed back to the input's shape.
    """

    def forward(self, inputs, training=False):
        inputs = self._broadcast(inputs)
        out = inputs[0] + inputs[1]
        for x in inputs[2:]:
            out = out + x
        return out * out.dtype.type(1.0 / len(inputs))

    def backward(self, grad_output):
        share = grad_output * grad_output.dtype.type(1.0 / len(self.shapes))
        return self._gradients([share] * len(self.shapes))


class Maximum(_Elementwise):
    """The largest of its inputs, element by element. Its gradient goes to the input that holds the
    maximum; on a tie, to the first of them (TensorFlow's rule for Keras' ``Maximum``; PyTorch's
    ``torch.maximum`` halves it between two tied inputs instead). A NaN in any input gives NaN, as
    in Keras and PyTorch.

    Shapes: a list of inputs, each (batch, *shape) -> (batch, *broadcast shape) (``_Elementwise``);
    an input broadcast gets the gradient of every entry it won, summed back to its shape.
    """
    _pick = staticmethod(np.greater)         # a later input takes over only when strictly better
    reads_input_masks = True

    def forward(self, inputs, training=False):
        inputs = self._broadcast(inputs)
        out, self.winner = self.select(inputs, self._real(inputs))
        return out

    def select(self, inputs, real=None):
        """The merged values of ``inputs`` (of one rank, ``expanded``) and, per entry of the output,
        the position of the input that gave it (also for the second-order tape). ``real``: each
        input's real entries (``_real``), or None without masks."""
        am = backend.get_array_module(inputs[0])
        shape = np.broadcast_shapes(*(x.shape for x in inputs))
        out = am.broadcast_to(inputs[0], shape).copy()
        winner = am.zeros(shape, dtype=np.uint8 if len(inputs) < 256 else np.int32)
        # masked steps (Keras'): the best of the inputs real there; the first input's value
        # where none is. ``held``: whether the value held so far is a real one
        held = None if real is None else real[0]
        for k, x in enumerate(inputs[1:], start=1):
            # a NaN wins wherever it is, as in Keras (a comparison with NaN is never true)
            better = self._pick(x, out) | am.isnan(x)
            if real is not None:
                mine = real[k]
                if held is not None:                # a real value takes over one that is not
                    better = better | ~held
                if mine is not None:                # a masked one never takes over
                    better = better & mine
                held = None if held is None or mine is None else held | mine
            am.copyto(out, x, where=better)
            am.copyto(winner, k, where=better)
        return out, winner

    def backward(self, grad_output):
        return self._gradients([grad_output * (self.winner == k) for k in range(len(self.shapes))])


class Minimum(Maximum):
    """The smallest of its inputs, element by element; the gradient goes to the input holding the
    minimum (on a tie, to the first of them). Shapes as ``Maximum``."""
    _pick = staticmethod(np.less)


class Concatenate(_Merge):
    """Its inputs joined along ``axis`` (Keras' default -1: the channels / features).

    Parameters
    ----------
    axis : int
        Counted as in Keras, with the batch axis as axis 0 (so 1 is a sample's first axis); -1 is
        the last. The batch axis itself cannot be joined along.

    Shapes: inputs (batch, ..., d_i, ...) equal on every other axis -> (batch, ..., sum d_i, ...).
    dL/d(each input) is its slice of dL/d(out).

    >>> import numpy as np
    >>> Concatenate()([np.ones((2, 3)), np.zeros((2, 1))]).shape
    (2, 4)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"Concatenate: axis must be a non-zero integer (0 is the batch axis), got {axis!r:.40}")
        self.axis = int(axis)

    def _sample_axis(self, rank):
        """The axis of a sample of ``rank`` axes that ``axis`` names (the batch axis not counted)."""
        axis = self.axis - 1 if self.axis > 0 else rank + self.axis
        if not 0 <= axis < rank:
            raise ValueError(f"{self.describe()}: axis={self.axis} is outside samples of {rank} axes (plus the batch axis)")
        return axis

    def _check_compatible(self, shapes):
        if len({len(s) for s in shapes}) > 1:
            raise ValueError(f"{self.describe()}: inputs of different ranks, samples of shapes {shapes}")
        axis = self._sample_axis(len(shapes[0]))
        rest = [s[:axis] + s[axis + 1:] for s in shapes]
        if not all(_agree(r, rest[0]) for r in rest[1:]):
            raise ValueError(f"{self.describe()}: inputs must match on every axis but axis={self.axis}, "
                             f"got samples of shapes {shapes}")

    def output_shape(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        axis = self._sample_axis(len(shapes[0]))
        out = list(self._merged(shapes))
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def forward(self, inputs, training=False):
        axis = self._sample_axis(inputs[0].ndim - 1) + 1
        if len({x.shape[:axis] + x.shape[axis + 1:] for x in inputs}) > 1:
            self._check_compatible([x.shape[1:] for x in inputs])
        self.sizes = [x.shape[axis] for x in inputs]
        return backend.get_array_module(inputs[0]).concatenate(inputs, axis=axis)

    def backward(self, grad_output):
        axis = self._sample_axis(grad_output.ndim - 1) + 1
        bounds = np.cumsum(self.sizes)[:-1]
        return backend.get_array_module(grad_output).split(grad_output, bounds.tolist(), axis=axis)

    def mask_rule(self, incoming):
        """Keras' Concatenate: along the features, the OR of the masks (an input without one is
        real at every step: no mask); along the steps, the masks joined ("join"; all real for an
        input without one). Masked inputs of samples other than (steps, features) are refused."""
        shapes = self.input_shape
        if any(len(shape) != 2 for shape in shapes):
            raise NotImplementedError(f"{self.describe()}: receives a mask, and joins samples of shapes {shapes}; "
                                      f"masked inputs are supported as sequences (steps, features)")
        if self._sample_axis(2) == 1:
            return super().mask_rule(incoming)
        if any(shape[0] is None for shape, maker in zip(shapes, incoming) if maker is None):
            raise NotImplementedError(f"{self.describe()}: joins a masked sequence to one without a mask whose "
                                      f"length is open (None), which its mask would need; give that one a mask")
        return "join"

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot products of two inputs (Keras' ``Dot``): along ``axes`` each sample's vectors are
    multiplied and summed, ``Dot(axes=1)([a, b])`` = ``sum(a * b)`` per sample; with
    ``normalize=True`` each input is first scaled to unit length along its axis, so the result is
    the cosine similarity (a siamese network's score). On sequences (batch, steps, features) it
    gives every pair of steps' products, ``Dot(axes=2)([q, k])``: attention scores.

    Parameters
    ----------
    axes : int or (int, int)
        The axis of each input to multiply along, counted as in Keras with the batch axis as 0
        (1 is a sample's first axis; negative counts from the end); one int for both.
    normalize : bool
        Unit length first, ``x / max(||x||, 1e-12)`` (PyTorch's ``F.normalize``).

    Shapes: two inputs of one rank, (batch, d) -> (batch, 1), or (batch, n, d) and (batch, m, d)
    with ``axes=2`` -> (batch, n, m) (the axes not multiplied, the first input's then the
    second's); the multiplied axes must have one size.

    >>> import numpy as np
    >>> Dot(axes=1)([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])]).tolist()
    [[11.0]]
    """
    most_inputs = 2
    EPSILON = 1e-12

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool) else axes
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a != 0 for a in pair)):
            raise ValueError(f"Dot: axes must be a non-zero integer or two of them (0 is the batch axis), "
                             f"got {axes!r:.40}")
        self.axes = tuple(int(a) for a in pair)
        self.normalize = check_flag(normalize, "Dot: normalize")

    def _sample_axes(self, rank):
        """Each input's multiplied axis within a sample of ``rank`` axes (0 or 1)."""
        axes = tuple(a - 1 if a > 0 else rank + a for a in self.axes)
        if not all(0 <= a < rank for a in axes):
            raise ValueError(f"{self.describe()}: axes={self.axes} are outside samples of {rank} axes (plus the batch axis)")
        return axes

    def _check_compatible(self, shapes):
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1 or ranks - {1, 2}:
            raise ValueError(f"{self.describe()}: Dot takes two inputs of one rank, (batch, d) or (batch, steps, d), "
                             f"got samples of shapes {shapes}")
        (i, j), (a, b) = self._sample_axes(len(shapes[0])), shapes
        if a[i] is not None and b[j] is not None and a[i] != b[j]:
            raise ValueError(f"{self.describe()}: the axes multiplied together must have one size, got "
                             f"{a[i]} (axis {self.axes[0]} of {a}) and {b[j]} (axis {self.axes[1]} of {b})")

    def output_shape(self, input_shape):
        a, b = self._checked_shapes(input_shape)
        if len(a) == 1:
            return (1,)
        i, j = self._sample_axes(2)
        return (a[1 - i], b[1 - j])

    def _unit(self, x, axis):
        """x scaled to unit length along ``axis``, and the norm it was divided by (floored)."""
        norm = np.sqrt((x * x).sum(axis=axis, keepdims=True))
        norm = backend.get_array_module(x).maximum(norm, x.dtype.type(self.EPSILON))
        return x / norm, norm

    def forward(self, inputs, training=False):
        self._check_compatible([x.shape[1:] for x in inputs])     # lengths an Input left open (None)
        a, b = inputs
        i, j = (1, 1) if a.ndim == 2 else tuple(k + 1 for k in self._sample_axes(2))
        self._norms = None
        if self.normalize:
            (a, norm_a), (b, norm_b) = self._unit(a, i), self._unit(b, j)
            self._norms = (norm_a, norm_b)
        self._units = a, b
        if a.ndim == 2:
            return (a * b).sum(axis=1, keepdims=True)
        # (batch, other_a, d) @ (batch, d, other_b)
        return (a if i == 2 else a.transpose(0, 2, 1)) @ (b if j == 1 else b.transpose(0, 2, 1))

    def backward(self, grad_output):
        a, b = self._units
        if a.ndim == 2:
            ga, gb = grad_output * b, grad_output * a
            i = j = 1
        else:
            i, j = (k + 1 for k in self._sample_axes(2))
            left, right = (a if i == 2 else a.transpose(0, 2, 1)), (b if j == 1 else b.transpose(0, 2, 1))
            g_left, g_right = grad_output @ right.transpose(0, 2, 1), left.transpose(0, 2, 1) @ grad_output
            ga = g_left if i == 2 else g_left.transpose(0, 2, 1)
            gb = g_right if j == 1 else g_right.transpose(0, 2, 1)
        if self.normalize:      # back through x / ||x||: the part along the unit vector removed, over the norm
            (norm_a, norm_b) = self._norms
            ga = (ga - a * (a * ga).sum(axis=i, keepdims=True)) / norm_a
            gb = (gb - b * (b * gb).sum(axis=j, keepdims=True)) / norm_b
        return [ga, gb]

    def mask_rule(self, incoming):
        return None             # Keras' Dot: its output has no mask

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


# Keras' functional forms, keras.layers.add([a, b]): the layer made and called on ``inputs`` (the
# symbolic tensors of gn.Input, or arrays); ``kwargs`` go to the layer (axis=, name=)
def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes, normalize=normalize, **kwargs)(inputs)``; ``axes`` defaults to the last axis, as
    Keras' function does (its ``Dot`` class, like glassnet's, needs it given)."""
    return Dot(axes, normalize=normalize, **kwargs)(inputs)
