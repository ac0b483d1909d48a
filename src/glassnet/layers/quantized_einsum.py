"""Keras 3.15's int8 EinsumDense (``layer.quantize("int8")``; glassnet.layers.quantized calls it).

The kernel is abs-max quantized over the axes the equation sums (those of the kernel's part
missing from the output's), the input likewise at every call over its summed axes; both scales
are laid out as Keras lays them (transposed, expanded and squeezed into the output's axes), so
``z = einsum(q_x, q_k) / (s_x * s_k) + bias``. ``kernel_scale`` has Keras' shape: its files
hold the same arrays. The integer einsum is summed exactly, in float64 (see quantized.py).
int4 EinsumDense is not built.
"""
import numpy as np

from .. import quantizers


def analysis(inputs, kernel, outputs):
    """Keras' ``_analyze_quantization_info`` of explicit subscripts: the axes the input and the
    kernel quantize over, and how each scale is laid into the output's axes (transpose, expand,
    squeeze), as a dict."""
    info = {}
    # Keras' loop keeps the position of the last axis it placed for a summed axis that finds no
    # output axis to stand in (first: the output position of the kernel's last letter): kept so
    index = outputs.find(kernel[-1])
    for name, spec in (("input", inputs), ("kernel", kernel)):
        reduced = [i for i, c in enumerate(spec) if c not in outputs]
        expand = [i for i, c in enumerate(outputs) if c not in spec]
        transpose = [spec.index(c) for c in outputs if c in spec]
        squeeze = []
        for axis in reduced:        # a summed axis takes the place of an output axis the tensor lacks
            if expand:
                index = expand.pop(0)
            else:
                squeeze.append(axis)
            transpose.insert(index, axis)
        info[name] = (reduced, transpose, expand, squeeze)
    return info


def _laid_out(scale, layout):
    _, transpose, expand, squeeze = layout
    if transpose:
        scale = np.transpose(scale, transpose)
    if expand:
        scale = np.expand_dims(scale, tuple(expand))
    if squeeze:
        scale = np.squeeze(scale, tuple(squeeze))
    return scale


def _kernel_scale_back(scale, layout):
    """Keras' ``_adjust_scale_for_dequant``: the kernel's scale in the kernel's own axes."""
    _, transpose, expand, squeeze = layout
    if squeeze:
        scale = np.expand_dims(scale, tuple(squeeze))
    if expand:
        scale = np.squeeze(scale, tuple(expand))
    if transpose:
        scale = np.transpose(scale, np.argsort(transpose))
    return scale


def _subscripts(layer):
    return layer._explicit(len(layer.input_shape) + 1)


def weights(layer, kernel, config):
    """``{"kernel": int8, "kernel_scale": Keras' layout}`` of the float ``kernel``."""
    layout = analysis(*_subscripts(layer))["kernel"]
    quantizer = config.weight_quantizer or quantizers.AbsMaxQuantizer(axis=tuple(layout[0]))
    q, scale = quantizer(kernel)
    return {"kernel": q, "kernel_scale": _laid_out(scale, layout)}


def dequantized_kernel(layer, dtype):
    layout = analysis(*_subscripts(layer))["kernel"]
    return layer.state["kernel"].astype(dtype) / _kernel_scale_back(layer.state["kernel_scale"], layout)


def forward(self, x, training=False):
    """x (batch, ...) -> the equation's output, Keras' int8 computation."""
    inputs, kernel, outputs = self._explicit(x.ndim)
    self.x = x
    quantizer = self.quantization_config.activation_quantizer
    if quantizer is not None:
        layout = analysis(*_subscripts(self))["input"]
        q_x, scale_x = quantizer(x, axis=tuple(layout[0]))
        # exact integer sums in float64, rounded once (quantized.py's docstring)
        z = np.einsum(f"{inputs},{kernel}->{outputs}", q_x.astype(np.float64),
                      self.state["kernel"].astype(np.float64), optimize=True).astype(x.dtype)
        z /= _laid_out(scale_x, layout) * self.state["kernel_scale"]
    else:
        z = np.einsum(f"{inputs},{kernel}->{outputs}", x, self.state["kernel"].astype(x.dtype), optimize=True)
        z /= self.state["kernel_scale"]
    from .quantized import biased_and_activated
    return biased_and_activated(self, z)


def backward_from_logits(self, grad_z):
    """Keras' custom gradient: the bias's as unquantized, dL/dx through the dequantized kernel
    (``einsum(output, kernel -> input)``), none for the frozen kernel and scale."""
    inputs, kernel, outputs = self._explicit(self.x.ndim)
    if self.bias_axes:
        bias = self.params["bias"]
        summed = grad_z.sum(axis=tuple(range(grad_z.ndim - bias.ndim)))
        ones = tuple(i for i, size in enumerate(bias.shape) if size == 1 and summed.shape[i] != 1)
        self.grads["bias"][...] = summed.sum(axis=ones, keepdims=True) if ones else summed
    if not self.needs_input_gradient:
        return None
    return np.einsum(f"{outputs},{kernel}->{inputs}", grad_z, dequantized_kernel(self, grad_z.dtype), optimize=True)
