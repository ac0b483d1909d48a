"""keras.ops' ``dot_product_attention`` for ``glassnet.ops``, written with its ``einsum``,
``softmax`` and ``where`` in Keras 3.15's TensorFlow order (glassnet._ops_nn says why composed):
on arrays, on values a ``GradientTape`` records (gradients to query, key, value and bias) and on a
model's tensors (one node per step, kept in model files).
"""
import numpy as np

from ._ops_nn import _input, _like, _live, _ops
from ._ops_reading import composed

_LARGE_NEGATIVE = -0.7 * 3.38953e38     # Keras' fill of masked logits (float32's range)


@composed
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention, Keras 3.15's layout: query (B, T, N, H), key and value (B, S,
    K, H) with K dividing N (grouped-query heads: each key head serves N / K query heads) -> (B, T,
    N, H). ``softmax(scale * q k^T + bias)`` over S, ``scale`` None ``1 / sqrt(H)``; ``bias``
    broadcasts with the logits (B, N, T, S); ``mask`` (booleans, broadcast likewise) keeps the
    entries where it is True, ``is_causal`` those with s <= t. ``flash_attention=True`` is refused
    (as Keras on TensorFlow); ``attn_logits_soft_cap`` is refused (Keras 3.15 on TensorFlow
    ignores it)."""
    ops = _ops()
    if flash_attention:
        raise ValueError("ops.dot_product_attention: flash_attention=True is not supported (Keras 3.15 on "
                         "TensorFlow refuses it too); give None or False")
    if attn_logits_soft_cap is not None:
        raise ValueError("ops.dot_product_attention: attn_logits_soft_cap is not built (Keras 3.15's TensorFlow "
                         "backend ignores it); give None")
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"ops.dot_product_attention: is_causal must be True or False, got {is_causal!r:.40}")
    q, k, v = (_input(a, n, "dot_product_attention") for a, n in ((query, "query"), (key, "key"), (value, "value")))
    shapes = [ops.shape(a) for a in (q, k, v)]
    if any(len(s) != 4 for s in shapes):
        raise ValueError(f"ops.dot_product_attention: query, key and value must have 4 axes (B, T, N, H), got "
                         f"{', '.join(str(tuple(s)) for s in shapes)}")
    if not any(_live(a) for a in (q, k, v)):
        dtype = np.result_type(q, k, v)         # Keras' compute dtype, the three cast to it
        q, k, v = (a.astype(dtype, copy=False) for a in (q, k, v))
    heads, kv_heads = shapes[0][2], shapes[1][2]
    if shapes[2][2] != kv_heads or heads % kv_heads:
        raise ValueError(f"ops.dot_product_attention: key and value must have one number of heads dividing "
                         f"query's {heads}, got {kv_heads} and {shapes[2][2]}")
    if heads > kv_heads:        # grouped-query attention: each key/value head repeated for its group
        k, v = (ops.repeat(a, heads // kv_heads, axis=2) for a in (k, v))
    if scale is None:           # Keras' 1 / sqrt(float32(H)), a float32 number
        scale = float(np.float32(1.0) / np.sqrt(np.float32(shapes[1][-1])))
    logits = ops.multiply(ops.einsum("btnh,bsnh->bnts", q, k), scale)
    if bias is not None:
        logits = ops.add(logits, _like(bias, q, "bias", "dot_product_attention"))
    if mask is not None:
        if not _live(mask):
            mask = np.asarray(mask).astype(bool)
        logits = ops.where(mask, logits, _LARGE_NEGATIVE)
    if is_causal:
        t, s = shapes[0][1], shapes[1][1]
        logits = ops.where(np.tril(np.ones((t, s), bool)), logits, _LARGE_NEGATIVE)
    return ops.einsum("bnts,bsnh->btnh", ops.softmax(logits, axis=-1), v)


__all__ = ["dot_product_attention"]
