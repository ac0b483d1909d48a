"""Small layers of Keras that change values without weights: Identity, Rescaling and
ActivityRegularization."""
import numpy as np

from .. import backend, regularizers
from .._validation import check_number
from .base import Layer


class Identity(Layer):
    """Passes its input on unchanged (Keras' ``Identity``: a placeholder, e.g. where an option
    turns a layer off). No parameters.

    Example
    -------
    >>> import numpy as np
    >>> Identity()(np.ones((2, 3))).shape
    (2, 3)
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output


class Rescaling(Layer):
    """``x * scale + offset`` (Keras' ``Rescaling``): ``Rescaling(1 / 255)`` turns 0-255 pixels
    into [0, 1], ``Rescaling(1 / 127.5, offset=-1)`` into [-1, 1], inside the model, so that
    ``predict`` takes raw pixels too. No parameters; the gradient is ``scale`` times the upstream one.

    ``scale`` and ``offset`` may also be one number per channel (a list or an array of the last
    axis' length, or any shape that broadcasts onto a sample without enlarging it), as in Keras:
    ImageNet's ``Rescaling(1 / (255 * std), offset=-mean / std)`` with ``mean`` and ``std`` of RGB.

    Example
    -------
    >>> import numpy as np
    >>> Rescaling(1 / 127.5, offset=-1.0)(np.array([[0.0, 255.0]])).tolist()
    [[-1.0, 1.0]]
    >>> Rescaling([1, 2, 3], offset=[0, 1, 2])(np.ones((1, 3))).tolist()
    [[1.0, 3.0, 5.0]]
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _setting(scale, "scale")
        self.offset = _setting(offset, "offset")

    def build(self, input_shape):
        # a setting broadcast onto a sample must leave its shape as it is: scale (3,) on samples of
        # (4,) would fail later, and one of (2, 1) on (5,) would silently make (2, 5) of them
        for name in ("scale", "offset"):
            value = getattr(self, name)
            if isinstance(value, list):
                shape = np.shape(value)
                # axis by axis from the last: 1, or the sample's size (an axis of any size, None in
                # Input((None, None, 3)), takes 1 only)
                fits = len(shape) <= len(input_shape) and all(
                    size == 1 or size == axis for size, axis in zip(shape[::-1], tuple(input_shape)[::-1]))
                if not fits:
                    raise ValueError(f"{self.describe()}: {name} of shape {shape} must broadcast onto a sample "
                                     f"of shape {tuple(input_shape)} (one value per channel: shape "
                                     f"({input_shape[-1]},)), got {value!r:.80}")
        super().build(input_shape)

    def _in(self, value, dtype):
        """A setting in the input's dtype (a float32 model stays float32), as a number or an array."""
        return dtype.type(value) if isinstance(value, float) else np.asarray(value, dtype=dtype)

    def forward(self, x, training=False):
        if x.dtype.kind not in "fc":             # uint8 pixels called directly: floats first
            x = x.astype(self.dtype or backend.resolve_dtype(None))
        am = backend.get_array_module(x)
        out = x * am.asarray(self._in(self.scale, x.dtype))
        if self.offset != 0.0:
            out += am.asarray(self._in(self.offset, x.dtype))
        return out

    def backward(self, grad_output):
        am = backend.get_array_module(grad_output)
        return grad_output * am.asarray(self._in(self.scale, grad_output.dtype))

    def _transform_masks(self, masks):
        return masks       # in a Pipeline called on {"images", "segmentation_masks"}: pixels stay where they are

    def _transform_labels(self, labels, n):
        return labels

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _setting(value, name):
    """Rescaling's ``scale`` or ``offset``: a Python float, or (per channel) a nested list of
    finite floats, which is what its config holds."""
    if hasattr(value, "shape") and np.ndim(value) == 0:     # np.array(0.5), as Keras takes it
        value = np.asarray(backend.to_numpy(value)).item()
    if isinstance(value, (list, tuple)) or (hasattr(value, "shape") and np.ndim(value) > 0):
        array = np.asarray(backend.to_numpy(value) if hasattr(value, "shape") else value)
        if array.dtype.kind not in "iuf" or array.size == 0 or not np.isfinite(array).all():
            raise ValueError(f"Rescaling: {name} must be a finite number or finite numbers, one per channel, "
                             f"got {value!r:.100}")
        return array.astype(float).tolist()
    return check_number(value, f"Rescaling: {name}", "finite")


class ActivityRegularization(Layer):
    """Passes its input on and penalises it (Keras' ``ActivityRegularization``): the
    ``activity_regularizer=L1L2(l1, l2)`` of the layer before it, as a layer of its own. Inside a
    model, each batch's loss gains ``(l1 sum|x| + l2 sum x^2) / batch size``. No parameters.

    Example
    -------
    >>> ActivityRegularization(l1=0.01).activity_regularizer
    L1L2(l1=0.01, l2=0.0)
    """
    built_when_made = True      # (as Keras': see Layer.built_when_made)

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization: its penalty is l1 and l2; it takes no activity_regularizer")
        # the penalty's checks, under this layer's name
        l1 = check_number(l1, "ActivityRegularization: l1", ">= 0")
        l2 = check_number(l2, "ActivityRegularization: l2", ">= 0")
        super().__init__(activity_regularizer=regularizers.L1L2(l1, l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output

    def get_config(self):
        # l1 and l2 say the penalty: read from the regularizer in force (one set since, or None)
        config = super().get_config()
        config.pop("activity_regularizer", None)
        penalty = self.activity_regularizer
        return {**config, "l1": getattr(penalty, "l1", 0.0), "l2": getattr(penalty, "l2", 0.0)}


class Lambda(Layer):
    """A function of the input as a layer (Keras' ``Lambda``): ``function(x, **arguments)``, for
    work with no weights, such as ``Lambda(lambda x: x[..., None])`` (add a channel axis) or
    ``Lambda(np.log1p)`` at a model's input. Called on a list of two or more inputs (in a
    functional Model, or on arrays), it hands the function the list, as Keras does:
    ``Lambda(lambda xs: xs[0] * xs[1])([a, b])``. A Lambda object keeps the way of its first call
    (one input, or a list), as a layer of a model's graph must.

    glassnet does not differentiate NumPy code (neither ``fit`` nor a ``GradientTape``, which runs the
    layers' own backward passes), so a Lambda cannot pass a gradient back: it trains
    where nothing below it learns (among a model's first layers, or above a frozen base: its
    ``needs_input_gradient`` is False), and anywhere in a model used for ``predict`` or ``evaluate``. Elsewhere the first training step
    refuses it, before any weight changes; a ``Layer`` of your own with ``forward`` and
    ``backward`` (see ``glassnet.layers.Layer``) does what it cannot, and so does a function of
    ``glassnet.ops`` and Python operators called on the model's tensors without a Lambda
    (``distance = euclidean_distance([tower_1, tower_2])``: each operation is a node that trains). A model file never holds code,
    so ``save_model`` refuses a model with a Lambda; ``save_weights`` writes its weights alone (a
    weights-only file), which ``load_weights`` reads into the model built again in code.

    Parameters
    ----------
    function : callable
        Takes the batch (batch, ...), or the list of the inputs' batches, and returns an array
        with the same batch size, of NumPy (or, on a GPU, CuPy) operations. A function with a ``training`` argument gets the pass's mode,
        as Keras gives it (noise in training only); one with a ``mask`` argument is refused.
    output_shape : tuple, callable or None
        One sample's output shape (no batch axis), or a function of the whole input shape,
        ``(None, *sample)`` (a list of them for a list of inputs), returning the whole output
        shape (Keras' two forms). None: found by calling ``function`` on zeros (with lengths 1, 2
        and 3 where an axis has any length: every open axis of every input takes the length).
    arguments : dict or None
        Keyword arguments passed to ``function``.
    mask : None
        Keras' mask argument; not implemented.

    A float result is returned in the input's float dtype (float32 stays float32, whatever
    precision the function computed in; the first float input's for a list), or the model's for
    integer inputs; integers stay integers.

    Example
    -------
    >>> Lambda(lambda x: x[..., None])(np.ones((2, 28, 28))).shape
    (2, 28, 28, 1)
    >>> Lambda(lambda xs: xs[0] * xs[1])([np.full((1, 2), 3.0), np.full((1, 2), 2.0)])
    array([[6., 6.]], dtype=float32)
    """

    holds_code = True           # save_model refuses it (glassnet._saveable)

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {type(function).__name__}")
        if mask is not None:
            raise NotImplementedError("Lambda: mask is not implemented; put a Masking layer after it")
        if arguments is not None and not (isinstance(arguments, dict) and all(isinstance(k, str) for k in arguments)):
            raise TypeError(f"Lambda: arguments must be a dict of keyword arguments, got {arguments!r:.80}")
        if not (output_shape is None or callable(output_shape) or _is_shape(output_shape)):
            raise TypeError(f"Lambda: output_shape must be a tuple of sizes (None for any), a function of the "
                            f"input shape or None, got {output_shape!r:.80}")
        self.function, self.arguments = function, dict(arguments or {})
        self._output_shape = tuple(output_shape) if _is_shape(output_shape) else output_shape
        # Keras passes training= to a function that takes it (noise in training only), and mask=,
        # which glassnet cannot: its masks travel beside the layers, not into them
        parameters = _parameters(function)
        if "mask" in parameters:
            raise NotImplementedError("Lambda: a function taking mask is not supported (glassnet does not hand "
                                      "masks to it)")
        self._takes_training = "training" in parameters

    # -- one input or a list ------------------------------------------------------------------
    # ``merges`` (read by the model's graph, glassnet.callgraph, as for Add): True once the first
    # call was on a list, False once it was on one input (or the layer was built in a Sequential)
    merges = False
    # masks reaching a list's inputs (layers/masking.py reads these of a layer that merges): the
    # function never sees them, and the output has none, as Keras' Lambda without mask= gives
    reads_input_masks = False

    def mask_rule(self, incoming):
        """No mask on the output, whatever masks the inputs bring (Keras' ``compute_mask``)."""
        return None

    def _fix_arity(self, inputs):
        """Record, at the first call, whether this Lambda takes a list; refuse the other way later."""
        listed = isinstance(inputs, (list, tuple))
        if listed and len(inputs) < 2:
            raise ValueError(f"{self.describe()}: called on a list of {len(inputs)} input(s); a list needs two or more "
                             f"(for one, call it on the input itself)")
        known = "merges" in vars(self) or self.built
        if known and listed != self.merges:
            raise TypeError(f"{self.describe()}: was first called on {'a list of inputs' if self.merges else 'one input'}, "
                            f"now on {f'a list of {len(inputs)}' if listed else 'one'}; a layer of a model keeps one way "
                            f"of calling: make a Lambda for each")
        self.merges = listed

    def __call__(self, inputs, training=None, mask=None):
        """``layer(x)`` as any layer's; ``layer([x1, x2, ...])`` (arrays or symbolic tensors)
        hands the function the list."""
        from .symbolic import is_symbolic
        self._fix_arity(inputs)
        if not self.merges or is_symbolic(inputs):
            return super().__call__(inputs, training=training, mask=mask)
        if mask is not None:
            raise TypeError(f"{self.describe()}: takes no mask")
        from .merging import batches_of
        arrays = batches_of(self, inputs)
        if not self.built:
            self.dtype = self.dtype or backend.resolve_dtype(None)
            self.build([a.shape[1:] for a in arrays])
        self.check_input_shape([a.shape[1:] for a in arrays])
        # as for one input (Layer.__call__): the arrays in the layer's dtype
        return self.forward([a.astype(self.dtype, copy=False) for a in arrays], training=bool(training))

    def build(self, input_shape):
        if not self.merges:
            return super().build(input_shape)
        self.input_shape = [tuple(s) for s in input_shape]
        self.built = True

    def check_input_shape(self, sample_shape):
        if not self.merges:
            return super().check_input_shape(sample_shape)
        from .base import shape_fits
        if self.input_shape is not None and (len(sample_shape) != len(self.input_shape) or not all(
                shape_fits(s, b) for s, b in zip(sample_shape, self.input_shape))):
            raise ValueError(f"{self.describe()}: expected input samples of shapes {self.input_shape}, "
                             f"got {[tuple(s) for s in sample_shape]}")

    def output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if self.merges else [tuple(input_shape)]
        if callable(self._output_shape):
            whole = [(None, *s) for s in shapes] if self.merges else (None, *shapes[0])
            shape = self._output_shape(whole)
            if not _is_shape(shape) or len(shape) < 1:
                raise ValueError(f"{self.describe()}: output_shape({whole}) must return the whole "
                                 f"output shape, batch axis first, got {shape!r:.80}")
            return tuple(shape)[1:]
        if self._output_shape is not None:
            return self._output_shape
        # found by trying: zeros of the sizes given, and three lengths for an axis of any length; an
        # output axis that follows them is open too (h[:, :2] gives 1, 2, 2: open)
        open_axes = any(None in s for s in shapes)
        probes = [self._probe(shapes, size) for size in ((1, 2, 3) if open_axes else (2,))]
        if any(len(p) != len(probes[0]) for p in probes):
            raise ValueError(f"{self.describe()}: the function's output has another number of axes for inputs "
                             f"of other lengths; give output_shape")
        return tuple(sizes[0] if len(set(sizes)) == 1 else None for sizes in zip(*probes))

    def _probe(self, shapes, size):
        """The output's sample shape for zeros of ``shapes`` (one per input), ``size`` on open axes."""
        batches = [(1, *(size if d is None else d for d in s)) for s in shapes]
        failure = None
        for dtype in (self.dtype or np.float32, np.int64):      # ids (an index into a table) next
            zeros = [np.zeros(b, dtype=dtype) for b in batches]
            try:
                with np.errstate(all="ignore"):     # log(0), 0 / 0: a shape, not a value, is wanted
                    return self._call(zeros if self.merges else zeros[0]).shape[1:]
            except Exception as exc:
                failure = failure or exc
        shown = batches if self.merges else batches[0]
        raise ValueError(f"{self.describe()}: could not find the output's shape by calling the function on "
                         f"zeros of shape {shown} ({type(failure).__name__}: {failure}); give output_shape") from failure

    def _call(self, x, training=False):
        """``function(x)``, x an array or (``merges``) a list of arrays, checked and cast."""
        extra = {"training": training} if self._takes_training else {}
        first = x[0] if self.merges else x
        out = backend.get_array_module(first).asarray(self.function(x, **self.arguments, **extra))
        if out.ndim == 0 or out.shape[0] != first.shape[0]:
            raise ValueError(f"{self.describe()}: the function must return one row per sample, (batch={first.shape[0]}, "
                             f"...), got shape {tuple(out.shape)}")
        if out.dtype.kind == "f":         # no silent float64 in a float32 model; ids (integers) stay ids
            floats = [a.dtype for a in (x if self.merges else [x]) if a.dtype.kind == "f"]
            out = out.astype(floats[0] if floats else self.dtype or np.float32, copy=False)
        return out

    def forward(self, x, training=False):
        return self._call(x, training)

    def backward(self, grad_output):
        if not self.needs_input_gradient:       # nothing below it learns: nobody needs the gradient
            return None
        raise self.refusal()

    def refusal(self):
        """The error training raises, before its first forward pass, when a gradient would have to
        pass this layer (``fit`` and ``train_on_batch`` check the model's layers first)."""
        return NotImplementedError(
            f"{self.describe()}: a Lambda cannot pass a gradient back (glassnet does not differentiate "
            f"its NumPy function), and layers below it learn; place it where nothing below it learns (the "
            f"model's first layers, or above frozen ones), or write a Layer with forward and backward "
            f"(glassnet.layers.Layer) instead" + (
                # called on a list: such a Layer needs the flag that makes it take one
                ", with merges = True in its class: its forward takes the list of arrays and its backward "
                "returns a list of their gradients" if self.merges else "") + (
                # Keras' Lambda over keras.ops (a Siamese network's euclidean distance) ports without one
                "; or, for a function of glassnet.ops and Python operators (keras.ops code ported: "
                "ops.sqrt(ops.sum(ops.square(a - b), axis=1, keepdims=True))), drop the Lambda and call the "
                "function on the model's tensors themselves, f(x) or f([a, b]): each operation is then a "
                "node of the model, which passes its gradient back"))

    def get_config(self):
        shape = self._output_shape
        config = super().get_config()
        if self.merges:
            config.pop("input_shape", None)     # a list of shapes: the model's graph says them
        return {**config, "function": getattr(self.function, "__name__", repr(self.function)),
                "output_shape": None if shape is None or callable(shape) else list(shape),
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config):
        raise ValueError(f"Lambda: a config names its function ({config.get('function')!r:.80}) but cannot hold "
                         f"it (a model file never holds code); build the model in code and set its weights "
                         f"(get_weights, set_weights)")


def _parameters(function):
    """The names ``function`` takes (none known for a built-in without a signature, np.log1p's)."""
    import inspect
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def _is_shape(value):
    return (isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in value))
