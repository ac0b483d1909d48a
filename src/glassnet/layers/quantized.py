"""Keras 3.15's quantized Dense and Embedding: ``layer.quantize("int8")``, ``"int4"``, and
``model.quantize(...)`` over a model's layers.

Quantizing replaces the float weight by Keras' integer one and a scale, kept as state (not
trained, as Keras' non-trainable variables), in Keras' order after the trained ones:

- Dense int8: ``kernel`` int8 (in, units), each column abs-max quantized to [-127, 127], and
  ``kernel_scale`` (units,). At every call each input row is abs-max quantized too (the config's
  ``activation_quantizer``); the int8 x int8 products are summed exactly and divided by both
  scales: ``z = (q_x @ q_k) / (s_x * s_k) + bias``.
- Dense int4: ``kernel`` int8 (in, ceil(units / 2)), two int4 values a byte along the units
  (``quantizers.pack_int4(axis=-1)``). ``block_size`` 128 (Keras' default): each group of 128 input
  rows has a scale and an int8 zero point per unit, ``kernel_scale`` and ``kernel_zero`` (groups,
  units), ``g_idx`` (in,) says each row's group, and ``z = x @ ((q - zero) * scale) + bias``.
  ``block_size`` None or -1: ``kernel_scale`` (units,), ``z = (x @ q) / scale + bias``. The input
  is not quantized (Keras' int4 default).
- Embedding: ``embeddings`` int8 (int4: packed along the features), each row quantized on its own
  (int8 ``embeddings_scale`` (input_dim,); int4 grouped along the features:
  ``embeddings_scale`` / ``embeddings_zero`` (input_dim, groups), ``g_idx`` (output_dim,)).

Training after quantizing is Keras': the integer weights and scales are frozen; the gradient
reaching the input is the one of the dequantized kernel (Keras' custom gradient), the bias and
the activation train as before; a quantized Embedding trains nothing.

Exact integer sums: int8 x int8 products summed over a row of ``in`` inputs reach ``in * 127**2``,
past float32's 24-bit mantissa from ~1040 inputs on, so they are summed in float64 (exact below
2**53: rows of up to ~5e11 inputs) by BLAS, whose integer matrix products NumPy lacks; the sum is
then rounded once to the layer's dtype, as Keras rounds its int32 sum.

The quantized computation is put on the instance (its own ``forward`` / ``backward``) when it is
quantized: an unquantized layer runs its class's code, unchanged. EinsumDense quantizes to int8
(glassnet.layers.quantized_einsum). Left out: float8, GPTQ, AWQ, int4 EinsumDense and LoRA on
quantized layers (refused by name).
"""
import re
import types

import numpy as np

from .. import backend, quantization_config as qconfig, quantizers
from .._warnings import warn
from . import quantized_einsum


def quantizable(cls):
    """Whether ``cls`` is a layer class ``quantize`` takes (Dense, Embedding, EinsumDense; not
    subclasses)."""
    return _kind(cls) is not None


def _kind(cls, exact=True):
    from .dense import Dense
    from .einsum_dense import EinsumDense
    from .embedding import Embedding
    for kind, base in (("dense", Dense), ("embedding", Embedding), ("einsum", EinsumDense)):
        if cls is base or (not exact and issubclass(cls, base)):
            return kind
    return None


def quantize_layer(layer, mode=None, config=None, type_check=True):
    """``layer.quantize(mode, config=)``: checked as Keras checks (built, not quantized yet, a
    mode glassnet quantizes to), then the weights replaced and the forward swapped."""
    where = f"{layer.describe()}: quantize"
    kind = _kind(type(layer), exact=type_check)
    if kind is None:
        raise NotImplementedError(f"Layer {type(layer).__name__} does not have a `quantize` method implemented "
                                  f"(glassnet quantizes Dense, Embedding and EinsumDense)")
    config = qconfig.resolve(mode, config, where)
    if kind == "einsum" and config.mode != "int8":
        raise NotImplementedError(f"{where}: glassnet quantizes EinsumDense to 'int8' only (Keras' int4 EinsumDense "
                                  f"is not built), got {config.mode!r}")
    if kind == "einsum" and layer.form != "none":
        raise NotImplementedError(f"{where}: an equation with '...' ({layer.equation!r}) is not quantized: Keras 3.15's "
                                  f"EinsumDense.quantize fails on it (TypeError), so there is nothing to agree with")
    if not layer.built:
        raise ValueError(f"{where}: the layer is not built yet: build it or call it on data first")
    if layer.quantization_mode is not None:
        raise ValueError(f"{where}: the layer is already quantized with dtype_policy='{layer.dtype_policy.name}'; "
                         f"got mode={config.mode!r}")
    if getattr(layer, "lora_enabled", False):
        raise NotImplementedError(f"{where}: LoRA on a quantized layer is not built in glassnet")
    key = "embeddings" if kind == "embedding" else "kernel"
    weight = backend.to_numpy(layer.params[key])
    state = quantized_einsum.weights(layer, weight, config) if kind == "einsum" else \
        (_dense_weights if kind == "dense" else _embedding_weights)(weight, config)
    del layer.params[key], layer.grads[key]
    for table in ("regularizers", "constraints"):     # (they were the float weight's)
        if key in getattr(layer, table, {}):
            setattr(layer, table, {k: v for k, v in getattr(layer, table).items() if k != key})
    xp = backend.get_array_module(layer.params.get("bias", np.empty(0)))
    layer.state = {**(getattr(layer, "state", None) or {}), **{k: xp.asarray(v) for k, v in state.items()}}
    source = np.dtype(layer.dtype).name
    from ..dtype_policies import Int4DTypePolicy, QuantizedDTypePolicy
    layer._quantized_policy = QuantizedDTypePolicy("int8", source) if config.mode == "int8" else \
        Int4DTypePolicy(f"int4/{config.block_size if config.grouped else -1}", source)
    layer.quantization_mode, layer.quantization_config = config.mode, config
    install_methods(layer)


def given_config(layer, config):
    """Keras 3.15's constructor argument ``quantization_config`` (a config, its dict, or None):
    kept as the layer's ``quantization_config`` and nothing more. Keras 3.15 quantizes a layer
    only under a quantized dtype policy (``"int8_from_float32"``, what a quantized model's file
    says) or by ``quantize(mode, config=)``, whose own config replaces this one; a float layer
    given one builds and computes as without it, and so does glassnet's (measured). Not written
    into glassnet's config, where a ``quantization_config`` means a quantized layer."""
    layer.quantization_config = qconfig.deserialize(config, f"{type(layer).__name__}: quantization_config")


def install_methods(layer):
    """Give the quantized ``layer`` its own forward, backward and get_config (a Dense's and an
    EinsumDense's backward: their class's, which calls the instance's ``backward_from_logits``): the instance's from
    now on, while the class's stay those of unquantized layers (a pickled layer leaves them out
    and gets them again here: Layer.__setstate__)."""
    kind = _kind(type(layer), exact=False)
    if kind == "dense":
        layer.forward = types.MethodType(_dense_forward, layer)
        layer.backward_from_logits = types.MethodType(_dense_backward_from_logits, layer)
    elif kind == "einsum":
        layer.forward = types.MethodType(quantized_einsum.forward, layer)
        layer.backward_from_logits = types.MethodType(quantized_einsum.backward_from_logits, layer)
    else:
        layer.forward = types.MethodType(_embedding_forward, layer)
        layer.backward = types.MethodType(_embedding_backward, layer)
    layer.get_config = types.MethodType(_get_config, layer)
    if kind in ("dense", "einsum"):
        # Keras' attribute: the activations' quantizer its call uses, None for weights alone
        # (keras.io's "Customizing quantization" guide reads it: layer.inputs_quantizer is not None)
        config = getattr(layer, "quantization_config", None)
        layer.inputs_quantizer = None if config is None else config.activation_quantizer


def _get_config(self):
    return {**type(self).get_config(self), "quantization_config": qconfig.serialize(self.quantization_config)}


def _dense_weights(kernel, config):
    """Keras' quantized Dense weights of the float ``kernel`` (in, units), by name, in its order."""
    if config.mode == "int8" or not config.grouped:
        bounds = (-127, 127) if config.mode == "int8" else (-8, 7)
        quantizer = config.weight_quantizer or quantizers.AbsMaxQuantizer(axis=0, value_range=bounds)
        q, scale = quantizer(kernel)
        scale = np.squeeze(scale, axis=0)
        return {"kernel": q if config.mode == "int8" else quantizers.pack_int4(q, axis=-1)[0], "kernel_scale": scale}
    q, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(kernel, config.block_size)
    group = np.floor_divide(np.arange(kernel.shape[0], dtype="float32"), np.float32(config.block_size))
    return {"kernel": quantizers.pack_int4(q, axis=-1)[0], "kernel_scale": scale, "kernel_zero": zero, "g_idx": group}


def _embedding_weights(table, config):
    """Keras' quantized Embedding weights of the float ``table`` (input_dim, output_dim)."""
    if config.mode == "int8" or not config.grouped:
        bounds = (-127, 127) if config.mode == "int8" else (-8, 7)
        quantizer = config.weight_quantizer or quantizers.AbsMaxQuantizer(axis=-1, value_range=bounds)
        q, scale = quantizer(table)
        scale = np.squeeze(scale, axis=-1)
        return {"embeddings": q if config.mode == "int8" else quantizers.pack_int4(q, axis=-1)[0],
                "embeddings_scale": scale}
    # grouped along the features: Keras quantizes the transposed table, then transposes back
    q, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(table.T, config.block_size)
    group = np.floor_divide(np.arange(table.shape[1], dtype="float32"), np.float32(config.block_size))
    return {"embeddings": quantizers.pack_int4(q.T, axis=-1)[0], "embeddings_scale": np.ascontiguousarray(scale.T),
            "embeddings_zero": np.ascontiguousarray(zero.T), "g_idx": group}


def _ints(layer, key, length):
    """The layer's integer weight ``key``, int4 unpacked along its last axis (``length`` values)."""
    q = layer.state[key]
    return quantizers.unpack_int4(q, length, axis=-1) if layer.quantization_mode == "int4" else q


def _dequantized_kernel(layer, dtype):
    """The float kernel (in, units) the integer one stands for: Keras' for the input gradient,
    and the grouped int4 forward's."""
    state, q = layer.state, _ints(layer, "kernel", layer.units)
    if "kernel_zero" in state:
        group = state["g_idx"].astype(np.intp)
        return ((q.astype(dtype) - state["kernel_zero"][group].astype(dtype)) * state["kernel_scale"][group]).astype(
            dtype, copy=False)
    return q.astype(dtype) / state["kernel_scale"]


def _dense_forward(self, x, training=False):
    """x (batch, ..., in) -> (batch, ..., units), Keras' quantized computation."""
    self.x = x
    rows, state = x.reshape(-1, x.shape[-1]), self.state
    if "kernel_zero" in state:      # grouped int4: a float product with the dequantized kernel
        z = rows @ _dequantized_kernel(self, x.dtype)
    else:
        q, scale = _ints(self, "kernel", self.units), state["kernel_scale"]
        inputs = self.quantization_config.activation_quantizer
        if inputs is not None:
            q_x, scale_x = inputs(rows, axis=-1)
            # exact integer sums in float64 (see the module's docstring), rounded once
            z = (q_x.astype(np.float64) @ q.astype(np.float64)).astype(x.dtype) / (scale * scale_x)
        else:
            z = (rows @ q.astype(x.dtype)) / scale
    return biased_and_activated(self, z.reshape(*x.shape[:-1], self.units))


def biased_and_activated(layer, z):
    """``activation(z + bias)`` of a quantized Dense or EinsumDense, ``z`` and the output kept for
    backward (the class's, which calls the instance's ``backward_from_logits``)."""
    if "bias" in layer.params:
        z += layer.params["bias"]
    layer.z = z
    layer.a = layer.activation.forward(z)
    return layer.a


def _dense_backward_from_logits(self, grad_z):
    """Keras' custom gradient: the bias's as an unquantized Dense's, none for the frozen integer
    kernel and scales, and dL/dx through the dequantized kernel."""
    self.grad_z = grad_z
    g = grad_z.reshape(-1, self.units)
    if self.use_bias:
        np.sum(g, axis=0, out=self.grads["bias"])
    if not self.needs_input_gradient:
        return None
    return (g @ _dequantized_kernel(self, g.dtype).T).reshape(self.x.shape)


def _embedding_forward(self, x, training=False):
    """Indices (batch, ...) -> (batch, ..., output_dim): the rows dequantized, as Keras'."""
    from . import masking
    self.x = x
    self.check_input_values(x, self.describe())
    if self.mask_readers:
        masking.hand_on(self, self.compute_mask(x))
    self.indices = indices = x.astype(np.intp, copy=False)
    dtype, state = np.dtype(self.dtype), self.state
    rows = np.take(_ints(self, "embeddings", self.output_dim), indices, axis=0).astype(dtype)
    scale = np.take(state["embeddings_scale"], indices, axis=0)
    if "embeddings_zero" not in state:
        return rows / scale[..., None]
    group = state["g_idx"].astype(np.intp)
    zero = np.take(state["embeddings_zero"], indices, axis=0)
    return ((rows - zero[..., group].astype(dtype)) * scale[..., group]).astype(dtype, copy=False)


def _embedding_backward(self, grad_output):
    # nothing trains (Keras' quantized table is frozen); indices take no gradient
    if not self.needs_input_gradient:
        return None
    return np.zeros(self.x.shape, dtype=grad_output.dtype)


def _matches(layer, filters):
    """Keras' ``should_quantize_layer``: a regex (or a list of them) searched in the layer's name,
    or a callable on the layer."""
    if filters is None:
        return True
    if isinstance(filters, str):
        return re.search(filters, layer.name) is not None
    if isinstance(filters, (list, tuple)):
        return any(re.search(pattern, layer.name) is not None for pattern in filters)
    return bool(filters(layer))


def quantize_model(model, mode=None, config=None, filters=None, **kwargs):
    """``model.quantize(mode, config=None, filters=None)``: every layer (nested models' too) that
    the filters pass, quantized; a layer that cannot be gets Keras' warning and stays as it is."""
    type_check = kwargs.pop("type_check", True)
    if kwargs:
        raise ValueError(f"quantize: unexpected arguments {sorted(kwargs)}")
    if filters is not None and not (isinstance(filters, (str, list, tuple)) or callable(filters)):
        raise ValueError(f"quantize: filters: expected a regex string, a list of them or a callable, got "
                         f"{type(filters).__name__}")
    config = qconfig.resolve(mode, config, f"{model.name}: quantize")
    if not model.built:
        raise ValueError(f"{model.name}: quantize: the model is not built yet: build, fit or call it first")
    changed = False

    def walk(layers):
        nonlocal changed
        for layer in layers:
            if getattr(layer, "is_model", False):
                walk(layer.layers)
            elif _matches(layer, filters):
                try:
                    layer.quantize(config.mode, type_check=type_check, config=config)
                    changed = True
                except NotImplementedError as exc:
                    warn(str(exc))
    walk(model.layers)
    if changed:
        model._flatten_parameters()         # the float kernels left the trained buffer
        model._mark_first_layer()


def keras_store_order(layer, items):
    """``items`` (a layer's weights, or anything in their order) in the order of Keras' weights
    file, and back (the same swap): a quantized Dense's ``save_own_variables`` writes its kernel
    before its bias, while its ``weights`` list the trained bias first, as glassnet's do."""
    if layer.__dict__.get("quantization_mode") is not None and _kind(type(layer), exact=False) in ("dense", "einsum") \
            and "bias" in layer.params and len(items) > 1:
        return [items[1], items[0], *items[2:]]
    return items


def keras_policy(layer):
    """Keras' dtype policy dict of a quantized ``layer`` (its ``.keras`` config's ``dtype``)."""
    policy = layer.dtype_policy
    return {"module": "keras.dtype_policies", "class_name": type(policy).__name__, "config": policy.get_config(),
            "registered_name": None}
