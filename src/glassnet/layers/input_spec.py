"""Keras 3.15's ``InputSpec``: what a layer of your own declares about its inputs (rank, shape,
axes, dtype), checked whenever it is called, on arrays and while a functional model is drawn.

A layer sets ``self.input_spec`` to one ``InputSpec`` (one input) or a list of them (a layer with
``merges = True``, one per input; None in the list checks nothing for that input). Shapes are
Keras' full shapes, the batch axis first: ``InputSpec(ndim=3)`` takes ``(batch, steps, features)``.

A layer of your own declares it in ``__init__``::

    class Sum(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = InputSpec(ndim=3, axes={-1: 4})    # (batch, steps, 4)
        def forward(self, x, training=False):
            return x.sum(axis=1)

and every call checks its inputs against it as Keras' ``assert_input_compatibility`` does (the
class is not defined here: a doctest's class would register as a built-in layer):

>>> import numpy as np
>>> spec = InputSpec(ndim=3, axes={-1: 4})
>>> assert_input_compatibility(spec, np.ones((2, 3, 4)), "sum")
>>> assert_input_compatibility(spec, np.ones((2, 4)), "sum")
Traceback (most recent call last):
ValueError: Input 0 with name 'None' of layer 'sum' is incompatible with the layer: expected ndim=3, found ndim=2. Full shape received: (2, 4)
"""
import numbers

__all__ = ["InputSpec", "assert_input_compatibility"]


def _optional_int(value, name, minimum=0):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"InputSpec: {name}: expected an int or None, got {type(value).__name__} {value!r:.40}")
    if value < minimum:
        raise ValueError(f"InputSpec: {name}: expected an int >= {minimum} or None, got {value!r}")
    return int(value)


def _shape(shape):
    """Keras' ``standardize_shape``: a tuple of ints >= 0 and Nones."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"InputSpec: shape: expected a tuple of ints and Nones, got {type(shape).__name__} "
                        f"{shape!r:.40}")
    shape = tuple(shape)
    for dim in shape:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 0):
            raise ValueError(f"InputSpec: shape: expected ints >= 0 and Nones, got {shape!r:.80}")
    return tuple(None if dim is None else int(dim) for dim in shape)


class InputSpec:
    """The rank, shape, axes and dtype every input of a layer must have (Keras' ``InputSpec``).

    dtype : a dtype name (standardised as Keras': ``"float32"``, ``np.int64`` -> ``"int64"``), or None
    shape : the full shape, the batch axis first, None for an axis of any size; sets ``ndim``
    ndim, max_ndim, min_ndim : the rank (batch axis included), exact, at most, at least
    axes : dict, axis (an int; negative counts from the end) -> the size it must have
    allow_last_axis_squeeze : with ``shape``, an input may have a last axis of 1 more or 1 fewer
        (and ``ndim`` is then not checked)
    name : the key of this input in a dict of inputs (kept, as Keras keeps it)
    optional : an input of None passes (Keras' optional inputs)
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        if dtype is not None:
            from .._keras_helpers import standardize_dtype
            dtype = standardize_dtype(dtype)
        self.dtype = dtype
        if shape is not None:
            self.shape = _shape(shape)
            self.ndim = len(self.shape)
        else:
            self.ndim = _optional_int(ndim, "ndim")
            self.shape = None
        self.max_ndim = _optional_int(max_ndim, "max_ndim")
        self.min_ndim = _optional_int(min_ndim, "min_ndim")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"InputSpec: name: expected a str or None, got {type(name).__name__} {name!r:.40}")
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"InputSpec: axes: expected a dict with integer keys, got {axes!r:.80}") from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            # (Keras' test: a negative axis is not checked against the rank here)
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"InputSpec: axes: axis {max(self.axes)} is greater than the maximum allowed "
                                 f"value: {max_dim}")

    def __repr__(self):
        # Keras' form: the settings that are set (truthy), in this order
        spec = [f"dtype={self.dtype}" if self.dtype else "", f"shape={self.shape}" if self.shape else "",
                f"ndim={self.ndim}" if self.ndim else "", f"max_ndim={self.max_ndim}" if self.max_ndim else "",
                f"min_ndim={self.min_ndim}" if self.min_ndim else "", f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(x for x in spec if x)})"

    def get_config(self):
        """Keras' keys (``name`` and ``allow_last_axis_squeeze`` are not among them, as in Keras)."""
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def specs_of(layer):
    """The layer's ``input_spec`` as a list of InputSpec or None, or None when it declares none
    (an attribute of another kind, EinsumDense's letters, is not a spec)."""
    spec = getattr(layer, "input_spec", None)
    if isinstance(spec, InputSpec):
        return [spec]
    if isinstance(spec, (list, tuple)) and spec and all(s is None or isinstance(s, InputSpec) for s in spec) \
            and any(isinstance(s, InputSpec) for s in spec):
        return list(spec)
    return None


def _dtype_name(x):
    from .._keras_helpers import standardize_dtype
    try:
        return standardize_dtype(x.dtype)
    except ValueError:          # a NumPy dtype Keras has no name for ("<U5", object): as NumPy names it
        return str(getattr(x.dtype, "name", x.dtype))


class _Computed:
    """An input as the layer computes on it, for the check: its shape, and its dtype after Keras'
    cast of floating inputs (no copy of the values is made)."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    def __repr__(self):
        return f"<input of shape {tuple(self.shape)} and dtype {self.dtype}>"


def as_computed(inputs, dtype):
    """``inputs`` (one, or a list) as a layer of ``dtype`` computes on them: Keras' layer casts a
    floating input to its dtype before it checks its ``input_spec`` (``dtype_policy.convert_input``,
    ``autocast``), integers and strings as they are. ``dtype`` None: not known yet (see
    ``layers.base._check_spec``), the dtype of floating inputs is not checked."""
    if isinstance(inputs, (list, tuple)):
        return [as_computed(x, dtype) for x in inputs]
    if inputs is None or not hasattr(inputs, "shape") or "float" not in _dtype_name(inputs):
        return inputs
    return _Computed(inputs.shape, dtype)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Keras' ``assert_input_compatibility``: ValueError, in Keras' words, when ``inputs`` (one
    array or symbolic tensor, or a list of them) do not meet ``input_spec`` (an InputSpec or a list);
    ``layer_name`` names the layer in the message."""
    if not input_spec:
        return
    specs = list(input_spec) if isinstance(input_spec, (list, tuple)) else [input_spec]
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(inputs) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(inputs)} '
                         f"input tensors. Inputs received: {inputs}")
    for index, (x, spec) in enumerate(zip(inputs, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) as input for "
                             f"layer '{layer_name}'.")
        shape = tuple(None if d is None else int(d) for d in x.shape)
        ndim = len(shape)
        head = f"Input {index} with name '{spec.name}' of layer '{layer_name}' is incompatible with the layer: "
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
            raise ValueError(f"{head}expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(f"{head}expected max_ndim={spec.max_ndim}, found ndim={ndim}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(f"{head}expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: "
                             f"{shape}")
        if spec.dtype is not None and x.dtype is not None and _dtype_name(x) != spec.dtype:
            raise ValueError(f"{head}expected dtype={spec.dtype}, found dtype={_dtype_name(x)}")
        for axis, value in spec.axes.items():
            if not -ndim <= axis < ndim:
                # Keras' shape[axis] raises IndexError here; the spec's axis is named instead
                raise ValueError(f"{head}expected axis {axis} of input shape to have value {value}, but received "
                                 f"input with shape {shape}")
            if value is not None and shape[axis] not in (value, None):
                raise ValueError(f"{head}expected axis {axis} of input shape to have value {value}, but received "
                                 f"input with shape {shape}")
        if spec.shape is not None:
            spec_shape, found = spec.shape, shape
            if spec.allow_last_axis_squeeze:
                if found and found[-1] == 1:
                    found = found[:-1]
                if spec_shape and spec_shape[-1] == 1:
                    spec_shape = spec_shape[:-1]
            for spec_dim, dim in zip(spec_shape, found):
                if spec_dim is not None and dim is not None and spec_dim != dim:
                    raise ValueError(f"{head}expected shape={spec.shape}, found shape={found}")
