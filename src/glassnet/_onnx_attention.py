"""ONNX forms of the attention layers and EinsumDense (see glassnet._onnx_ops for the converters'
contract), at inference (dropout is an identity there).

* ``MultiHeadAttention`` / ``GroupedQueryAttention`` over a sequence's steps (query (batch, T,
  Eq), value (batch, S, Ev), key (batch, S, Ek), the key the value when not given): each
  projection an ``Einsum`` with its kernel (E, heads, size) to (batch, heads, steps, size) plus
  its bias (heads, 1, size); the queries scaled by 1 / sqrt(key_dim) as Keras scales them; scores
  ``q k^T`` (MatMul), a causal mask (``use_causal_mask``: a band ``s <= t`` built from the
  steps' sizes with Range, so any length) as ``Where`` setting later steps to -inf, ``Softmax``
  over the key's steps, the weights times the
  values, and the output ``Einsum`` with the output kernel (heads, value_dim, features) plus its
  bias. GroupedQueryAttention repeats each key/value head for its group of query heads
  (Unsqueeze, Expand, Reshape: NumPy's ``repeat`` along the heads' axis).
* ``Attention`` (dot and concat scores, ``use_scale``) and ``AdditiveAttention``: the scores,
  ``Softmax`` over the value's steps, ``MatMul`` with the value.
* ``EinsumDense``: ``Einsum`` with the layer's explicit equation, bias, activation.

* MultiHeadAttention's and GroupedQueryAttention's masks: an ``attention_mask`` input (batch, T,
  S) (nonzero allows), their inputs' masks (``Embedding(mask_zero=True)``, ``Masking``, a merge's
  joined mask, a call's ``mask=``: the query's (batch, T, 1), the value's and key's (batch, 1,
  S)), GroupedQueryAttention's ``sliding_window`` (a band ``|t - s| < window`` built with Range,
  any length) and the causal band, ANDed as glassnet's ``_allowed``; the scores not allowed
  -inf, a row with nothing allowed even weights (zeros with dropout, Keras' masked softmax), as
  glassnet's ``_weights``.
* Attention's and AdditiveAttention's masks (Keras' BaseDenseAttention): the value's mask
  (batch, 1, S) and the causal band keep each query from those steps, as above; a masked query
  step's output is zeros (the output times its mask); Keras reads no key mask.

``return_attention_scores=True``: the weights (an ``AttentionScores`` call reads them, ``_scores``).

Refused by name: an ``attention_mask`` for Attention and AdditiveAttention (Keras' have none),
and attention over other axes than a sequence's steps.
"""
import math

import numpy as np

from . import _onnx_proto as proto
from ._onnx_ops import Unsupported, apply_activation
from .layers.attention import AttentionScores


def _band(b, query, key, axis):
    """(T, S) booleans, True where key step s <= query step t (what a causal mask allows), from
    the steps of ``query`` and ``key`` (their axis ``axis``), fixed or not."""
    def steps(x):
        size = b.op("Squeeze", [b.op("Shape", [x], start=axis, end=axis + 1), b.ints([0])])
        return b.op("Range", [b.ints(0), size, b.ints(1)])
    t, s = b.op("Unsqueeze", [steps(query), b.ints([1])]), b.op("Unsqueeze", [steps(key), b.ints([0])])
    return b.op("LessOrEqual", [s, t], "causal")


def _causal(b, scores, query, key, axis):
    """The scores of later key steps set to -inf (a causal mask alone leaves no row empty)."""
    return b.op("Where", [_band(b, query, key, axis), scores, b.const(-np.inf)])


def _options(b, layer, who=None):
    """The call's options: ``(use_causal_mask (the layer's if none given), whether the call's last
    input is an attention_mask)``; ``who`` (the layers other than MultiHeadAttention) refuses one."""
    options = dict(getattr(b, "call_options", None) or {})
    given = bool(options.pop("attention_mask", False) or getattr(layer, "attention_mask", False))
    if given and who is not None:
        raise Unsupported(f"{who}: an attention_mask is not exported")
    return options.pop("use_causal_mask", layer.causal), given


def _window(b, query, key, width):
    """(T, S) booleans, True where |t - s| < ``width`` (GroupedQueryAttention's sliding_window)."""
    def steps(x):
        size = b.op("Squeeze", [b.op("Shape", [x], start=1, end=2), b.ints([0])])
        return b.op("Range", [b.ints(0), size, b.ints(1)])
    gap = b.op("Sub", [b.op("Unsqueeze", [steps(query), b.ints([1])]), b.op("Unsqueeze", [steps(key), b.ints([0])])])
    return b.op("Less", [b.op("Abs", [gap]), b.ints(int(width))], "window")


def _allowed(b, xs, given, causal, steps, positions=((0, 2), (1, 1), (2, 1)), window=None):
    """What glassnet's ``_allowed`` and causal mask allow, (batch or 1, T, S) booleans, or None:
    the AND of the query's mask (batch, T, 1), the value's and key's (batch, 1, S)
    (``positions``: the inputs whose masks count, and where each gets its axis of 1), a given
    attention_mask (nonzero allows), a sliding ``window`` and the causal band (1, T, S).
    ``steps``: query, key (tensors)."""
    parts = [b.op("Cast", [xs[-1]], to=proto.BOOL)] if given else []
    for position, axis in positions:
        if position in b.input_masks:
            parts.append(b.op("Unsqueeze", [b.input_masks[position], b.ints([axis])]))
    # the bands (T, S) get a batch axis of 1, so that what is ANDed is always (batch, T, S): a
    # sliding window without masks was (T, S), which the heads' Unsqueeze put out of line
    if window is not None:
        parts.append(b.op("Unsqueeze", [_window(b, *steps, window), b.ints([0])]))
    if causal:
        parts.append(b.op("Unsqueeze", [_band(b, *steps, 1), b.ints([0])]))
    allowed = parts[0] if parts else None
    for part in parts[1:]:
        allowed = b.op("And", [allowed, part])
    return allowed


def _masked_softmax(b, layer, scores, allowed, heads=True):
    """glassnet's ``_weights`` at inference: the scores not allowed -inf, a row with nothing
    allowed all zeros (even weights), the softmax over S; zeros in such a row where Keras' layer
    takes its masked softmax (``_zeroes_empty_rows``: MultiHeadAttention with dropout).
    ``heads``: the scores have a heads' axis (batch, heads, T, S), which ``allowed`` lacks."""
    if heads:
        allowed = b.op("Unsqueeze", [allowed, b.ints([1])])
    scores = b.op("Where", [allowed, scores, b.const(-np.inf)])
    empty = b.op("Not", [b.op("Cast", [b.op("ReduceMax", [b.op("Cast", [allowed], to=proto.ELEM_TYPES[b.dtype])],
                                               axes=[-1], keepdims=1)], to=proto.BOOL)])
    weights = b.op("Softmax", [b.op("Where", [empty, b.const(0.0), scores])], axis=-1)
    if layer._zeroes_empty_rows():
        weights = b.op("Where", [empty, b.const(0.0), weights])
    return weights


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
    causal, given = _options(b, layer)
    window = getattr(layer, "sliding_window", None)
    (query, key, value), (qs, ks, vs) = _qkv(layer, xs[:len(xs) - given], shapes[:len(xs) - given])
    rank = len(qs) + 1
    if rank != 3 or layer._attended(rank) != (1,):
        raise Unsupported(f"{who}: attention over axes {layer._attended(rank)} of inputs of {rank} axes is not "
                          f"exported (only over the steps of sequences (batch, steps, features))")
    q = b.op("Mul", [_project(b, layer, query, "query"), b.const(1.0 / math.sqrt(layer.key_dim), "scale")])
    k = _repeat_heads(b, layer, _project(b, layer, key, "key"), ks[0], layer.key_dim)
    v = _repeat_heads(b, layer, _project(b, layer, value, "value"), vs[0], layer.value_dim)
    scores = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])        # (batch, heads, T, S)
    if given or b.input_masks or window is not None:
        weights = _masked_softmax(b, layer, scores, _allowed(b, xs, given, causal, (query, key), window=window))
    else:
        weights = b.op("Softmax", [_causal(b, scores, query, key, 1) if causal else scores], axis=-1)
    b.states[id(layer)] = weights       # the scores an AttentionScores call returns (before dropout: none here)
    context = b.op("MatMul", [weights, v])                                          # (batch, heads, T, dv)
    if getattr(layer, "use_gate", False):       # Keras 3.15's gate: sigmoid of the query's projection
        context = b.op("Mul", [context, b.op("Sigmoid", [_project(b, layer, query, "gate")])])
    out = b.op("Einsum", [context, b.const(layer.params["output_kernel"], "output_kernel")],
               equation="bhtd,hdo->bto")
    return b.op("Add", [out, b.const(layer.params["output_bias"], "output_bias")]) if layer.use_bias else out


def _dot_attention(b, layer, xs, shapes):
    """Attention and AdditiveAttention: softmax of the scores (batch, Tq, Tv) times the value."""
    causal, _ = _options(b, layer, layer.describe())
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
    if b.input_masks:   # the value's mask (Keras reads no key's), then the query's on the output
        allowed = _allowed(b, xs, False, causal, (query, key), positions=((1, 1),))
        weights = _masked_softmax(b, layer, scores, allowed, heads=False) if allowed is not None else \
            b.op("Softmax", [_causal(b, scores, query, key, 1) if causal else scores], axis=-1)
        b.states[id(layer)] = weights
        out = b.op("MatMul", [weights, value])
        if 0 in b.input_masks:
            kept = b.op("Cast", [b.op("Unsqueeze", [b.input_masks[0], b.ints([2])])], to=proto.ELEM_TYPES[b.dtype])
            out = b.op("Mul", [out, kept])
        return out
    if causal:
        scores = _causal(b, scores, query, key, 1)
    b.states[id(layer)] = weights = b.op("Softmax", [scores], axis=-1)
    return b.op("MatMul", [weights, value])


def _einsum_dense(b, layer, xs, shapes):
    inputs, kernel, outputs = layer._explicit(len(shapes[0]) + 1)
    y = b.op("Einsum", [xs[0], b.const(layer.params["kernel"], "kernel")], equation=f"{inputs},{kernel}->{outputs}")
    if layer.bias_axes:
        y = b.op("Add", [y, b.const(layer.params["bias"], "bias")])
    return apply_activation(b, layer.activation, y, layer.describe())


def _scores(b, layer, xs, shapes):
    """``return_attention_scores=True``'s scores (an ``AttentionScores`` call, which follows the
    attention layer's call): the weights that call's converter kept, (batch, heads, T, S) or
    (batch, T, S); at inference they are the weights used (dropout is an identity), which Keras
    returns before dropout (MultiHeadAttention) or after it (Attention)."""
    return b.op("Identity", [b.states[id(layer.source)]], "scores")


for _convert in (_multi_head, _dot_attention):
    _convert.call_options = ("use_causal_mask", "attention_mask")       # read by the converter itself
# and the order Keras' call read the tensors given by keyword in (mha(query=q, value=v, key=k)):
# it orders the model's layers alone; the call's inputs stay [query, value, key, attention_mask]
_multi_head.call_options += ("keras_order",)
_multi_head.reads_input_masks = _dot_attention.reads_input_masks = True
_scores.unlisted = True         # glassnet's own reader, which the user never names: not in a refusal's list
_scores.layer_class = AttentionScores

CONVERTERS = {"MultiHeadAttention": _multi_head, "GroupedQueryAttention": _multi_head,
              "Attention": _dot_attention, "AdditiveAttention": _dot_attention, "EinsumDense": _einsum_dense,
              "AttentionScores": _scores}
