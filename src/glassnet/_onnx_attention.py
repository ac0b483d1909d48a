"""ONNX forms of the attention layers and EinsumDense (see glassnet._onnx_ops for the converters'
contract), at inference (dropout is an identity there).

* ``MultiHeadAttention`` / ``GroupedQueryAttention`` over a sequence's steps (query (batch, T,
  Eq), value (batch, S, Ev), key (batch, S, Ek), the key the value when not given): each
  projection an ``Einsum`` with its kernel (E, heads, size) to (batch, heads, steps, size) plus
  its bias (heads, 1, size); the queries scaled by 1 / sqrt(key_dim) as Keras scales them; scores
  ``q k^T`` (MatMul), a causal mask (``use_causal_mask``: a constant band of fixed T and S) as
  ``Where`` setting later steps to -inf, ``Softmax`` over the key's steps, the weights times the
  values, and the output ``Einsum`` with the output kernel (heads, value_dim, features) plus its
  bias. GroupedQueryAttention repeats each key/value head for its group of query heads
  (Unsqueeze, Expand, Reshape: NumPy's ``repeat`` along the heads' axis).
* ``Attention`` (dot and concat scores, ``use_scale``) and ``AdditiveAttention``: the scores,
  ``Softmax`` over the value's steps, ``MatMul`` with the value.
* ``EinsumDense``: ``Einsum`` with the layer's explicit equation, bias, activation.

Refused by name: masks (an ``attention_mask`` argument; the inputs' masks are refused where they
are made), ``sliding_window``, attention over other axes than a sequence's steps, and a causal
mask over steps of any length (an Input's None).
"""
import math

import numpy as np

from ._onnx_ops import Unsupported, apply_activation


def _causal(b, layer, scores, query_shape, key_shape):
    steps = (query_shape[0], key_shape[0])
    if None in steps:
        raise Unsupported(f"{layer.describe()}: use_causal_mask=True is exported for sequences of fixed lengths "
                          f"only, got the query's and key's steps {steps} (None: any length)")
    later = np.triu(np.ones(steps), k=1)            # 1 where key step s > query step t: masked
    return b.op("Where", [b.op("Greater", [b.const(later, "causal"), b.const(0.5)]), b.const(-np.inf), scores])


def _options(b, layer):
    """The call's options: an attention_mask is refused; use_causal_mask read (the layer's if none)."""
    options = dict(getattr(b, "call_options", None) or {})
    if options.pop("attention_mask", False) or getattr(layer, "attention_mask", False):
        raise Unsupported(f"{layer.describe()}: an attention_mask is not exported (ONNX carries no masks here)")
    return options.pop("use_causal_mask", layer.causal)


def _qkv(layer, xs, shapes):
    """query, key, value tensor names and shapes from the call's inputs [query, value(, key)]."""
    if len(xs) == 3:
        return (xs[0], xs[2], xs[1]), (shapes[0], shapes[2], shapes[1])
    return (xs[0], xs[1], xs[1]), (shapes[0], shapes[1], shapes[1])


def _project(b, layer, x, name):
    """x (batch, steps, E) through ``name``'s kernel (E, heads, size): (batch, heads, steps, size)."""
    y = b.op("Einsum", [x, b.const(layer.params[f"{name}_kernel"], f"{name}_kernel")], equation="bte,ehd->bhtd")
    if layer.use_bias:
        bias = np.asarray(layer.params[f"{name}_bias"])
        y = b.op("Add", [y, b.const(bias[:, None, :], f"{name}_bias")])
    return y


def _repeat_heads(b, layer, x, steps, size):
    """(batch, kv heads, S, size) -> (batch, query heads, S, size), each head repeated for its group."""
    kv, group = layer._key_value_heads(), layer.num_heads // layer._key_value_heads()
    if group == 1:
        return x
    y = b.op("Unsqueeze", [x, b.ints([2])])                         # (batch, kv, 1, S, size)
    y = b.op("Expand", [y, b.ints([1, kv, group, 1, 1])])
    return b.op("Reshape", [y, b.ints([0, kv * group, -1, size])])


def _multi_head(b, layer, xs, shapes):
    who = layer.describe()
    causal = _options(b, layer)
    if getattr(layer, "sliding_window", None) is not None:
        raise Unsupported(f"{who}: sliding_window is not exported")
    if len(xs) > 3:
        raise Unsupported(f"{who}: an attention_mask is not exported (ONNX carries no masks here)")
    (query, key, value), (qs, ks, vs) = _qkv(layer, xs, shapes)
    rank = len(qs) + 1
    if rank != 3 or layer._attended(rank) != (1,):
        raise Unsupported(f"{who}: attention over axes {layer._attended(rank)} of inputs of {rank} axes is not "
                          f"exported (only over the steps of sequences (batch, steps, features))")
    q = b.op("Mul", [_project(b, layer, query, "query"), b.const(1.0 / math.sqrt(layer.key_dim), "scale")])
    k = _repeat_heads(b, layer, _project(b, layer, key, "key"), ks[0], layer.key_dim)
    v = _repeat_heads(b, layer, _project(b, layer, value, "value"), vs[0], layer.value_dim)
    scores = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])        # (batch, heads, T, S)
    if causal:
        scores = _causal(b, layer, scores, qs, ks)
    context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])              # (batch, heads, T, dv)
    out = b.op("Einsum", [context, b.const(layer.params["output_kernel"], "output_kernel")],
               equation="bhtd,hdo->bto")
    return b.op("Add", [out, b.const(layer.params["output_bias"], "output_bias")]) if layer.use_bias else out


def _dot_attention(b, layer, xs, shapes):
    """Attention and AdditiveAttention: softmax of the scores (batch, Tq, Tv) times the value."""
    causal = _options(b, layer)
    if len(xs) > 3:
        raise Unsupported(f"{layer.describe()}: an attention_mask is not exported")
    (query, key, value), (qs, ks, _) = _qkv(layer, xs, shapes)
    kind = type(layer).__name__
    if kind == "Attention" and layer.score_mode == "dot":
        scores = b.op("MatMul", [query, b.op("Transpose", [key], perm=[0, 2, 1])])
        if layer.use_scale:
            scores = b.op("Mul", [scores, b.const(layer.params["scale"], "scale")])
    else:
        # q + k over (batch, Tq, Tv, d): the query's steps against each key step
        pre = b.op("Add", [b.op("Unsqueeze", [query, b.ints([2])]), b.op("Unsqueeze", [key, b.ints([1])])])
        if kind == "Attention":             # concat: weight * sum(tanh(scale * (q + k)))
            if layer.use_scale:
                pre = b.op("Mul", [pre, b.const(layer.params["scale"], "scale")])
            summed = b.op("ReduceSum", [b.op("Tanh", [pre]), b.ints([-1])], keepdims=0)
            scores = b.op("Mul", [summed, b.const(layer.params["concat_score_weight"], "concat_score_weight")])
        else:                               # additive: sum(scale * tanh(q + k))
            t = b.op("Tanh", [pre])
            if layer.use_scale:
                t = b.op("Mul", [t, b.const(layer.params["scale"], "scale")])
            scores = b.op("ReduceSum", [t, b.ints([-1])], keepdims=0)
    if causal:
        scores = _causal(b, layer, scores, qs, ks)
    return b.op("MatMul", [b.op("Softmax", [scores], axis=-1), value])


def _einsum_dense(b, layer, xs, shapes):
    inputs, kernel, outputs = layer._explicit(len(shapes[0]) + 1)
    y = b.op("Einsum", [xs[0], b.const(layer.params["kernel"], "kernel")], equation=f"{inputs},{kernel}->{outputs}")
    if layer.bias_axes:
        y = b.op("Add", [y, b.const(layer.params["bias"], "bias")])
    return apply_activation(b, layer.activation, y, layer.describe())


for _convert in (_multi_head, _dot_attention):
    _convert.call_options = ("use_causal_mask", "attention_mask")       # read by the converter itself

CONVERTERS = {"MultiHeadAttention": _multi_head, "GroupedQueryAttention": _multi_head,
              "Attention": _dot_attention, "AdditiveAttention": _dot_attention, "EinsumDense": _einsum_dense}
