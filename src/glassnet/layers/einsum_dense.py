"""EinsumDense: a dense layer whose product is any einsum of the input and a kernel (Keras'
``EinsumDense``): ``"ab,bc->ac"`` is ``Dense``; ``"abc,cd->abd"`` a Dense on every step;
``"...b,bc->...c"`` the same for any number of leading axes; ``"abc,cde->abde"`` projects each step
into heads (attention's projections). A letter twice in the input's or the kernel's part reads a
diagonal, as np.einsum does: ``"abb,bc->ac"`` multiplies each sample's diagonal by the kernel,
``"ab,bbc->ac"`` uses only the kernel's diagonal (the rest of it gets no gradient).

The equation names the input's axes, the kernel's and the output's, as ``np.einsum`` reads them;
``...`` stands for axes the layer passes through (the batch among them), on the left of every part
(``...x,xy->...y``) or on the right of the input and output (``ab...,bc->ac...``). The kernel's
axes take their sizes from the input (an axis the product sums over) or from ``output_shape``
(an axis of the output). Its gradients are einsums too, with the subscripts exchanged::

    z = einsum("in,w->out", x, W)      dW = einsum("in,out->w", x, dz)      dx = einsum("out,w->in", dz, W)
"""
import math
import re
import string

import numpy as np

from .. import activations, backend, constraints, initializers, regularizers
from .base import Layer
from .conv import weight_settings
from .lora import LoraTarget

# the initializers whose scale follows the kernel's fans (Keras passes the axes to these only; the
# others, orthogonal and identity among them, get the kernel's own shape)
_FAN_BASED = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal")


def _fan_based(initializer):
    if isinstance(initializer, initializers.VarianceScaling):
        return True
    try:
        name = initializers.name_of(initializer)
    except (ValueError, TypeError):     # one of your own: it gets the kernel's shape (a TypeError: a
        return False                    # registered one whose config a file could not store)
    name = name.get("class_name") if isinstance(name, dict) else name
    return isinstance(name, str) and (name in _FAN_BASED or name in ("GlorotUniform", "GlorotNormal", "HeUniform",
                                                                     "HeNormal", "LecunUniform", "LecunNormal"))

def by_fans(initializer, fan_in, fan_out):
    """``initializer`` for a kernel whose fans are ``fan_in`` and ``fan_out`` whatever its shape
    (Keras 3's ``input_axes`` / ``output_axes``, which its EinsumDense, and so its attention layers,
    give a fan-based initializer), or ``initializer`` itself when it is not fan-based. Its draws
    are independent, so a (fan_in, fan_out) draw reshaped has the kernel's distribution."""
    if not _fan_based(initializer):
        return initializer

    def initial(shape, rng, dtype):
        return initializer((fan_in, fan_out), rng, dtype).reshape(shape)
    return initial


_FORMS = (("none", r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"),
          ("left", r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)"),
          ("right", r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\."))


def parse_equation(equation):
    """``(form, input subscripts, kernel subscripts, output subscripts)`` of an EinsumDense
    equation; ``form`` says where ``...`` is: "none", "left" or "right"."""
    for form, pattern in _FORMS:
        match = re.fullmatch(pattern, equation) if isinstance(equation, str) else None
        if match:
            output = match.group(3)
            if len(set(output)) != len(output):
                # np.einsum (and Keras' call) refuse it too: an output holds each axis once
                raise ValueError(f"EinsumDense: the output's part of the equation must name each axis once, got "
                                 f"{equation!r}")
            return (form, *match.groups())
    raise ValueError(f"EinsumDense: equation must have the form 'ab,bc->ac', '...ab,bc->...ac' or "
                     f"'ab...,bc->ac...' (letters for axes), got {equation!r:.80}")


def _once(spec):
    """``spec``'s letters, each once, in the order they first come: the subscripts of its diagonal."""
    return "".join(dict.fromkeys(spec))


def _onto_diagonal(xp, spec, shape, values):
    """An array of ``shape`` (subscripts ``spec``, a letter repeated: ``"abb"``) that holds ``values``
    (subscripts ``_once(spec)``: ``"ab"``) on its diagonal and zeros off it: the gradient of an
    operand the einsum read only the diagonal of (np.einsum cannot write a letter twice in a result)."""
    letters = _once(spec)
    out = xp.zeros(shape, values.dtype)
    # one index array per axis, the same for axes of the same letter: out[i, j, j] = values[i, j]
    out[tuple(xp.arange(size).reshape([-1 if c == letter else 1 for c in letters])
              for letter, size in zip(spec, shape))] = values
    return out


class EinsumDense(LoraTarget, Layer):
    """``a = activation(einsum(equation, x, kernel) + bias)`` (Keras' ``EinsumDense``).

    Parameters
    ----------
    equation : str
        See the module docstring; the input's part counts the batch axis (``"ab,bc->ac"``: a is
        the batch) unless ``...`` holds it.
    output_shape : int or tuple
        The output's sizes, one per letter of the output's part after the batch's (every letter
        with ``...`` on the left); None for an axis the input gives.
    activation : as for ``Dense``.
    bias_axes : str, optional
        Output letters that get a bias (from the first of them on, the others broadcast).
    kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
    bias_constraint : as for ``Dense``. A fan-based initializer (glorot, he, lecun) counts the
    kernel's input axes as its fan in and its output axes as its fan out, as Keras does.

    Shapes: the input's and the output's parts of the equation; ``kernel`` the kernel's part,
    ``bias`` Keras' shape. ``lora_rank``, ``lora_alpha``: Keras' LoRA (glassnet.layers.lora;
    ``lora_kernel_a`` the kernel's shape with ``rank`` last, ``lora_kernel_b`` (rank, its last
    axis)). Quantization is not offered.

    Example
    -------
    >>> import numpy as np
    >>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de", seed=0)
    >>> layer(np.ones((2, 5, 16))).shape, layer.params["kernel"].shape, layer.params["bias"].shape
    ((2, 5, 4, 8), (16, 4, 8), (4, 8))
    """

    activation = activations.LayerSetting()     # set as Keras code sets it: layer.activation = None

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if quantization_config is not None:      # Keras': kept, quantizes nothing (layers/quantized.py)
            from .quantized import given_config
            given_config(self, quantization_config)
        self._lora_settings(lora_rank, lora_alpha)
        self.form, self.input_spec, self.kernel_spec, self.output_spec = parse_equation(equation)
        self.equation = equation
        sizes = (output_shape,) if isinstance(output_shape, (int, np.integer)) else output_shape
        if not isinstance(sizes, (list, tuple)) or not all(
                s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0) for s in sizes):
            raise ValueError(f"EinsumDense: output_shape must be a positive integer or a tuple of them (None for an "
                             f"axis the input gives), got {output_shape!r:.60}")
        named = self.output_spec if self.form == "left" else self.output_spec[1:]
        if len(sizes) != len(named):
            raise ValueError(f"EinsumDense: output_shape must give one size per output letter after the batch's, "
                             f"{len(named)} for {named!r} in {equation!r}, got {tuple(sizes)}")
        sizes = tuple(None if s is None else int(s) for s in sizes)
        self.output_sizes = dict(zip(named, sizes))
        self.partial_output_shape = sizes
        if self.form != "left" and self.input_spec.count(self.input_spec[0]) > 1:
            # a diagonal across the batch would tie the layer to one batch size
            raise NotImplementedError(f"EinsumDense: the batch's letter {self.input_spec[0]!r} repeated in the input's "
                                      f"part (a diagonal across the batch) is not supported, got {equation!r}")
        for letter in self.output_spec:
            if letter not in self.input_spec and letter not in self.kernel_spec:
                raise ValueError(f"EinsumDense: output letter {letter!r} of {equation!r} is in neither the input's "
                                 f"part nor the kernel's")
        for letter in self.kernel_spec:
            if letter not in self.input_spec and letter not in self.output_spec:
                raise ValueError(f"EinsumDense: kernel letter {letter!r} of {equation!r} is in neither the input's "
                                 f"part nor the output's")
            if letter in self.output_spec and letter not in self.input_spec and self.output_sizes.get(letter) is None:
                raise ValueError(f"EinsumDense: output_shape must size the kernel's output axis {letter!r}, got None")
        if bias_axes is not None and (not isinstance(bias_axes, str) or not bias_axes
                                      or any(c not in self.output_spec for c in bias_axes)):
            raise ValueError(f"EinsumDense: bias_axes must be letters of the output's part {self.output_spec!r}, got "
                             f"{bias_axes!r:.40}")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        weight_settings(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        weight_settings(self, "bias", bias_initializer, bias_regularizer, bias_constraint)

    # -- shapes ----------------------------------------------------------------------------------
    def _explicit(self, rank):
        """The input's, kernel's and output's subscripts for inputs of ``rank`` axes (batch
        included), ``...`` replaced by letters of their own."""
        elided = rank - len(self.input_spec)
        if elided < (1 if self.form == "left" else 0) or (self.form == "none" and elided != 0):
            expected = len(self.input_spec) if self.form == "none" else f"at least {len(self.input_spec) + (self.form == 'left')}"
            raise ValueError(f"{self.describe()}: {self.equation!r} takes inputs of {expected} axes with the batch's, "
                             f"got {rank}")
        dots = "".join([c for c in string.ascii_letters if c not in self.equation][:elided])
        if self.form == "left":
            return dots + self.input_spec, self.kernel_spec, dots + self.output_spec
        if self.output_spec[0] != self.input_spec[0]:
            raise ValueError(f"{self.describe()}: the output's part of {self.equation!r} must start with the batch's "
                             f"letter, the input's first, {self.input_spec[0]!r}")
        return self.input_spec + dots, self.kernel_spec, self.output_spec + dots

    def _sizes(self, sample_shape):
        """Each letter's size, from a sample's shape (the batch's letter: None) and output_shape."""
        inputs, _, outputs = self._explicit(len(sample_shape) + 1)
        sizes = {inputs[0]: None}
        for letter, size in zip(inputs[1:], sample_shape):
            known = sizes.get(letter)
            if known is None:                   # a diagonal's axis left open takes the size of another
                sizes[letter] = size
            elif size is not None and known != size:    # a diagonal ("abb") needs its axes the same size
                raise ValueError(f"{self.describe()}: the input's axes of letter {letter!r} in {self.equation!r} must "
                                 f"have one size (a diagonal), got samples of shape {tuple(sample_shape)}")
        for letter, size in self.output_sizes.items():
            given = sizes.get(letter)
            if letter in inputs and size is not None and given is not None and given != size:
                raise ValueError(f"{self.describe()}: output_shape gives axis {letter!r} the size {size}, the input "
                                 f"has {given} there (samples of shape {tuple(sample_shape)})")
            if letter not in inputs:
                sizes[letter] = size
        return sizes, inputs, outputs

    def output_shape(self, input_shape):
        sizes, _, outputs = self._sizes(tuple(input_shape))
        return tuple(sizes[letter] for letter in outputs[1:])        # outputs[0]: the batch's

    def _bias_shape(self, sizes):
        first = min(self.output_spec.index(c) for c in self.bias_axes)
        shape = [sizes[c] if c in self.bias_axes else 1 for c in self.output_spec[first:]]
        if self.form == "right":
            shape += [1] * (len(self._explicit_output) - len(self.output_spec))
        return tuple(shape)

    def build(self, input_shape):
        sizes, _, outputs = self._sizes(tuple(input_shape))
        self._explicit_output = outputs
        kernel_shape = tuple(sizes[c] for c in self.kernel_spec)
        if any(size is None for size in kernel_shape):
            raise ValueError(f"{self.describe()}: the kernel {self.kernel_spec!r} needs every axis sized, got samples "
                             f"of shape {tuple(input_shape)}")
        # Keras' fans: the kernel's axes the product sums over (in) and those it keeps (out)
        fan_out = math.prod(sizes[c] for c in self.kernel_spec if c in self.output_spec)
        initializer = by_fans(self.kernel_initializer, math.prod(kernel_shape) // fan_out, fan_out)
        self.add_weight("kernel", kernel_shape, initializer, self.kernel_regularizer, self.kernel_constraint)
        if self.bias_axes:
            self.add_weight("bias", self._bias_shape(sizes), self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)
        super().build(input_shape)
        self._build_lora()

    # -- forward and backward ----------------------------------------------------------------------
    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        inputs, kernel, outputs = self._explicit(x.ndim)
        self.x = x
        z = xp.einsum(f"{inputs},{kernel}->{outputs}", x, self.params["kernel"], optimize=True)
        if self.bias_axes:
            z += self.params["bias"]
        self.z = z
        self.a = self.activation.forward(z)
        return self.a

    def backward(self, grad_output):
        return self.backward_from_logits(self.activation.backward(grad_output, self.z, self.a))

    def backward_from_logits(self, grad_z):
        xp = backend.get_array_module(grad_z)
        inputs, kernel, outputs = self._explicit(self.x.ndim)
        # a letter repeated in the kernel ("bb"): the product read its diagonal only, the gradient is there
        once = _once(kernel)
        dw = xp.einsum(f"{inputs},{outputs}->{once}", self.x, grad_z, optimize=True)
        self.grads["kernel"][...] = dw if once == kernel else _onto_diagonal(xp, kernel, self.grads["kernel"].shape, dw)
        if self.bias_axes:
            bias = self.params["bias"]
            lead = grad_z.ndim - bias.ndim      # axes before the bias's: summed away
            summed = grad_z.sum(axis=tuple(range(lead))) if lead else grad_z
            ones = tuple(i for i, size in enumerate(bias.shape) if size == 1 and summed.shape[i] != 1)
            self.grads["bias"][...] = summed.sum(axis=ones, keepdims=True) if ones else summed
        if not self.needs_input_gradient:
            return None
        # an input axis in neither the kernel nor the output was summed over: its gradient is the same
        # at every position, so the einsum gives the other axes and a broadcast the rest
        # at every position; a letter repeated in the input ("abb"): the gradient is on its diagonal
        once = _once(inputs)
        sizes = dict(zip(inputs, self.x.shape))
        kept = "".join(c for c in once if c in kernel or c in outputs)
        dx = xp.einsum(f"{outputs},{kernel}->{kept}", grad_z, self.params["kernel"], optimize=True)
        if kept != once:
            dx = xp.broadcast_to(dx.reshape([sizes[c] if c in kept else 1 for c in once]), [sizes[c] for c in once])
        if once != inputs:
            return _onto_diagonal(xp, inputs, self.x.shape, dx)
        return dx.copy() if kept != once else dx

    def get_config(self):
        return {**super().get_config(), "equation": self.equation, "output_shape": list(self.partial_output_shape),
                "activation": self.activation.name, "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                **regularizers.config_entries(self), **constraints.config_entries(self), **self._lora_config()}
