"""MultiHeadAttention (Keras' layer; Vaswani et al. 2017), for a functional ``Model``.

Each of ``num_heads`` heads projects the query sequence and the key and value sequences,
scores every query step against every key step, and mixes the value steps by those scores:

    q = query @ Wq + bq        (batch, T, heads, key_dim)    for each head h:
    k = key @ Wk + bk          (batch, S, heads, key_dim)      scores = q_h k_h^T / sqrt(key_dim)   (T, S)
    v = value @ Wv + bv        (batch, S, heads, value_dim)    A = softmax(scores) over S (each row sums to 1)
                                                               context_h = A v_h                    (T, value_dim)
    output = concat_h(context_h) @ Wo + bo     (batch, T, output features)

With ``use_causal_mask=True`` step t scores only steps <= t (a decoder's self-attention: no
peeking ahead). ``layer.scores`` holds the last forward pass's A (batch, heads, T, S), to look at.
Backward runs the chain back: through the output projection, A v, the softmax (per row,
dA -> A * (dA - sum(dA * A))), q k^T and the three projections.
"""
import math
import numbers

import numpy as np

from .. import activations, backend, constraints, initializers, regularizers
from .._bounds import check_sample_values
from .._validation import check_choice, check_flag
from .._warnings import warn
from .base import LAYERS, shape_fits
from .einsum_dense import by_fans
from .merging import _Merge
from .readers import CallReader


def _positive_int(value, what, owner="MultiHeadAttention"):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r:.40}")
    return int(value)


def _check_dropout(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name}: dropout must be a number in [0, 1), got {value!r:.40}")
    return float(value)


class _Attention(_Merge):
    """What the attention layers share: inputs [query, value] or [query, value, key] (the key is
    the value when not given), a causal mask per call (``use_causal_mask``: an eager call's for
    that call; in a model, the flag its calls agree on, which the Model sets: graph.py), the
    softmax of the scores over the key's steps with dropout in training (``_weights``) and its
    backward (``_weights_back``)."""
    most_inputs = 3
    _drawn_causal = None        # (on the class too: a layer pickled before it existed lacks it)
    use_causal_mask = False     # the default of the layer's calls

    @property
    def causal(self):
        """Whether forward masks later steps: the flag of the calls in a model drawn, else the layer's."""
        return self.use_causal_mask if self._drawn_causal is None else self._drawn_causal

    # masks (layers/masking.py): in a model, each input's mask is handed to the layer for its next
    # forward (_Merge.receive_mask); an eager call gives them as Keras' keyword arguments
    reads_input_masks = True
    _attention_mask = None      # an eager call's attention_mask (batch, T, S), MultiHeadAttention's
    _mask_arguments = ()        # the keyword arguments that give masks (Keras' names, by subclass)
    # a call drawn with attention_mask= (a tensor of the model) has that mask (batch, T, S) as its
    # last input, after query, value (and key): the call's option, which the model sets on the
    # layer around that call's shapes and forward (base.call_arguments_set); False otherwise
    call_arguments = ("attention_mask",)
    attention_mask = False

    def _checked_shapes(self, input_shapes):
        if self.attention_mask and isinstance(input_shapes, (list, tuple)) and len(input_shapes) > 2 \
                and all(isinstance(s, (list, tuple)) for s in input_shapes):
            *input_shapes, mask = input_shapes
            shapes = super()._checked_shapes(input_shapes)
            steps = (shapes[0][0], shapes[1][0] if len(shapes) == 2 else shapes[2][0])
            # Keras broadcasts the mask over an axis of 1: (1, S), one row for every query step
            if len(mask) != 2 or not all(a is None or b is None or a == b or a == 1 for a, b in zip(mask, steps)):
                raise ValueError(f"{self.describe()}: attention_mask takes samples of shape (T, S) = {steps}, the "
                                 f"query's steps by the key's, got {tuple(mask)}")
            return shapes
        return super()._checked_shapes(input_shapes)

    def _built_shapes(self, count):
        """A shared layer's calls may give the key or not, as Keras' may (``mha(x, x, x)`` then
        ``mha(y, y)``): a call without one is checked as [query, value] (its value, the key, must
        fit the key's kernel too), a call with one against the value's shape as the key's."""
        shapes = list(self.input_shape)
        if count == 3 and len(shapes) == 2:
            return shapes + shapes[1:]
        if count == 2 and len(shapes) == 3 and shape_fits(shapes[1][-1:], shapes[2][-1:]):
            return shapes[:2]
        return shapes

    def mask_rule(self, incoming):
        return "first"          # Keras: the query's mask goes on with the output

    def _call(self, inputs, training, use_causal_mask, keras_defaults):
        """``__call__`` on the list ``inputs``: on symbolic tensors the call's tensor, carrying its
        causal flag; on arrays this call's forward, with its flag and masks for this call only."""
        masks = {name: keras_defaults.pop(name) for name in self._mask_arguments if name in keras_defaults}
        with_scores = check_flag(keras_defaults.pop("return_attention_scores", False),
                                 f"{self.describe()}: return_attention_scores")
        defaults = {"attention_mask": None, "query_mask": None, "value_mask": None, "key_mask": None, "mask": None}
        for name, given in keras_defaults.items():       # Keras' other arguments: at their defaults only
            if name not in defaults or given is not defaults[name]:
                shown = f"{name}={given!r:.30}" if isinstance(given, (bool, int, float, str)) else \
                    f"{name} (a {type(given).__name__})"
                raise TypeError(f"{self.describe()}: {shown} is not supported")
        causal = self.use_causal_mask if use_causal_mask is None else \
            check_flag(use_causal_mask, f"{self.describe()}: use_causal_mask")
        from .symbolic import call_symbolic, is_symbolic, sample_shape_of, with_readers
        if is_symbolic(inputs):         # the call's flag goes with its tensor; the Model takes it (graph.py)
            given = [name for name, value in masks.items() if value is not None and name != "attention_mask"
                     and not self._mask_read_anyway(name, value, inputs)]
            if given:
                raise NotImplementedError(f"{self.describe()}: {given[0]}= is not supported in a model drawn: there "
                                          f"the masks come with the inputs (Embedding(mask_zero=True), Masking)")
            options, attention_mask = {"use_causal_mask": causal}, masks.get("attention_mask")
            self._refuse_masks_over_axes([sample_shape_of(x) for x in inputs],
                                         ["attention_mask"] * (attention_mask is not None) + ["use_causal_mask=True"] * causal)
            if attention_mask is not None:      # one more input of the call (see call_arguments)
                if not is_symbolic(attention_mask):
                    raise TypeError(f"{self.describe()}: in a model drawn, attention_mask must be one of its tensors "
                                    f"(an Input((T, S)) or a layer's output), got {type(attention_mask).__name__}")
                inputs, options["attention_mask"] = [*inputs, attention_mask], True
            main = call_symbolic(self, inputs, training, options)
            # Keras' (output, scores): the scores are a call of their own, reading this one's
            return tuple(with_readers(self, main, [AttentionScores()])) if with_scores else main
        drawn, self._drawn_causal = self._drawn_causal, causal      # this call's flag, for this call only
        self._input_masks, self._attention_mask = self._eager_masks(masks), masks.get("attention_mask")
        self._with_scores = with_scores
        try:
            out = super().__call__(inputs, training=training)
        finally:
            self._drawn_causal, self._input_masks, self._attention_mask = drawn, None, None
            self._with_scores = False
        return (out, self.returned_scores().copy()) if with_scores else out

    def _mask_read_anyway(self, name, mask, inputs):
        """Whether ``mask``, given as ``name`` (query_mask, value_mask, key_mask) to a drawn call, is
        what the layer reads without it: the mask a block's call got for that very tensor (a
        ``CallMask`` of it, keras.io's decoder passing ``query_mask=inputs_padding_mask``), which
        the layer takes from the tensor itself, as Keras fills these arguments from the tensors'
        masks; or a query_mask that Keras 3.15's MultiHeadAttention ignores."""
        from .block_masks import CallMask
        from .symbolic import SymbolicTensor
        if not (isinstance(mask, SymbolicTensor) and isinstance(mask.layer, CallMask)):
            return False
        if name == "query_mask" and not self._reads_query_mask:
            return True
        at = {"query_mask": 0, "value_mask": 1, "key_mask": 2 if len(inputs) > 2 else 1}[name]
        return mask.inputs[0] is inputs[at]

    def _refuse_masks_over_axes(self, sample_shapes, given):
        """Refuse the masks ``given`` (their names) for inputs of ``sample_shapes`` attended over other
        axes than a sequence's steps (MultiHeadAttention's attention_axes): nothing to refuse here."""

    # -- return_attention_scores: the weights, as Keras returns them ---------------------------
    _score_grads = None         # dL/d(the returned scores), handed back by an AttentionScores call
    _with_scores = False        # an eager call with return_attention_scores=True, during that call
    _returns_scores = False     # a model reads this layer's scores (an AttentionScores call bound to it)

    def _zeroes_empty_rows(self):
        """Whether a row with nothing allowed gets zero weights rather than even ones (see
        ``_weights``): Keras' choice, by the path its layer takes."""
        return False

    def returned_scores(self):
        """The attention weights Keras returns with ``return_attention_scores``: MultiHeadAttention's
        before dropout (``scores``), Attention's and AdditiveAttention's as used (after it)."""
        raise NotImplementedError

    def scores_shape(self, input_shapes):
        """One sample's shape of ``returned_scores`` for inputs of sample shapes ``input_shapes``."""
        raise NotImplementedError

    def _unpack(self, inputs):
        """``(query, key, value)`` of forward's list, checked (lengths an Input left open included);
        a drawn call's last input, its attention_mask, taken for ``_allowed``."""
        self._mask_shape = None         # backward's sign of a mask input (the call's option is gone by then)
        if self.attention_mask:
            *inputs, self._attention_mask = inputs
            self._mask_shape = self._attention_mask.shape
            if self._input_masks:       # a mask the mask tensor carried (it has no steps of its own)
                self._input_masks = {i: m for i, m in self._input_masks.items() if i < len(inputs)}
        self._check_compatible([x.shape[1:] for x in inputs])
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        self._given = len(inputs)       # this call's: a shared layer's calls may give the key or not
        if key.shape[1] != value.shape[1]:
            raise ValueError(f"{self.describe()}: key and value need the same number of steps, got the key's "
                             f"{key.shape[1]} and the value's {value.shape[1]}")
        self.inputs = [query, key, value]       # a list: a model lets go of the data in it after fit
        return query, key, value

    def _weights(self, scores, training, allowed=None):
        """The attention weights from ``scores`` (..., T, S), in place: the entries ``allowed``
        (booleans broadcast to the scores, from the masks; None: all) forbids and later steps when
        causal masked, the softmax over S (kept as ``scores``), dropout in training (the weights
        used). A row with nothing allowed (a padded query; a value all padding) weighs every step
        evenly, as Keras' attention does on its default path (its softmax of scores all set to a
        large negative number), or gets zeros where Keras' layer takes its masked softmax
        (``_zeroes_empty_rows``: MultiHeadAttention with dropout or returning its scores)."""
        xp = backend.get_array_module(scores)
        empty, self._score_grads = None, None
        if allowed is None:
            if self.causal:
                scores[..., xp.triu(xp.ones(scores.shape[-2:], dtype=bool), k=1)] = -np.inf
        else:
            if self.causal:
                allowed = allowed & xp.tril(xp.ones(scores.shape[-2:], dtype=bool))
            xp.copyto(scores, -np.inf, where=~allowed)
            empty = ~allowed.any(axis=-1, keepdims=True)
            if empty.any():
                xp.copyto(scores, 0, where=empty)       # softmax of a row of zeros: uniform
            else:
                empty = None
        scores -= scores.max(axis=-1, keepdims=True)
        weights = xp.exp(scores, out=scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        if empty is not None and self._zeroes_empty_rows():
            xp.copyto(weights, 0, where=empty)
        self.scores, self.drop, self.empty = weights, None, empty
        if training and self.dropout:
            keep = self._generator().random(weights.shape, dtype=weights.dtype) >= self.dropout
            self.drop = xp.asarray(keep, dtype=weights.dtype) * weights.dtype.type(1.0 / (1.0 - self.dropout))
            weights = weights * self.drop
        self.used = weights
        return weights

    def _weights_back(self, d_used):
        """dL/d(scores) from dL/d(the weights used): back through dropout and the softmax, row by
        row (dA -> A * (dA - sum(dA * A)); masked entries have A = 0, and a row with nothing
        allowed, even whatever its scores, none). The returned scores' own gradient (an
        AttentionScores call's) joins where they were taken: before dropout or after it."""
        returned, self._score_grads = self._score_grads, None
        if returned is not None and self._scores_after_dropout:
            d_used = d_used + returned
        if self.drop is not None:
            d_used = d_used * self.drop
        if returned is not None and not self._scores_after_dropout:
            d_used = d_used + returned
        a = self.scores
        d_scores = a * (d_used - (d_used * a).sum(axis=-1, keepdims=True))
        if self.empty is not None:      # a row with nothing allowed is even whatever its scores
            backend.get_array_module(d_scores).copyto(d_scores, 0, where=self.empty)
        return d_scores

    def _input_gradients(self, d_query, d_key, d_value):
        """One gradient per input, in the inputs' order (a key that is the value: the two add);
        a drawn call's attention_mask gets zeros (it chooses, it is not weighed)."""
        grads = [d_query, d_value + d_key] if self._given == 2 else [d_query, d_value, d_key]
        if self._mask_shape is not None:
            grads.append(backend.get_array_module(d_query).zeros(self._mask_shape, dtype=d_query.dtype))
        return grads


del LAYERS["_Attention"]        # a shared base, not a layer that configs may name


def _note_keras_order(out, order):
    """On a drawn call's output (the first of ``(output, scores)``), the places of the call's
    inputs in the order Keras' call reads them (``order``: a list of positions in the call's
    inputs), when that is another order (see ``MultiHeadAttention.__call__``). Kept as the call's
    option ``"keras_order"``, so configs and model files keep it and a graph drawn again from them
    (load_model, clone_model, from_config) orders its layers as the first draw did
    (glassnet/_layer_order.py); an eager call's arrays are left alone."""
    from .symbolic import SymbolicTensor
    main = out[0] if isinstance(out, tuple) else out
    if isinstance(main, SymbolicTensor) and sorted(order) == list(range(len(main.inputs))) != list(order):
        main.options["keras_order"] = list(order)


class MultiHeadAttention(_Attention):
    """Keras' ``MultiHeadAttention``: ``mha(query, value)`` (key = value), ``mha(query, value,
    key)``, or Keras' self-attention ``mha(x, x)``; also ``mha([query, value(, key)])``.

    Parameters
    ----------
    num_heads : int
    key_dim : int
        Each head's size for queries and keys.
    value_dim : int, optional
        Each head's size for values (default ``key_dim``).
    dropout : float in [0, 1)
        Dropout on the attention weights A in training (Keras'), from the model's seed.
    use_bias : bool
    output_shape : int, optional
        The output's features (default: the query's); Keras' ``(features,)`` is taken too.
    attention_axes : int or tuple, optional (Keras')
        The axes attended over, for inputs of one rank (batch, axes..., features): by default
        every axis between the batch's and the features' (a sequence's steps; an image's rows and
        columns, one softmax over every pixel). Output (batch, the query's axes..., output_shape);
        returned scores (batch, the other axes..., heads, the query's attended axes..., the
        key's...). Masks and ``use_causal_mask`` are refused with it, except over a sequence's steps.
    sliding_window : int, optional (Keras')
        Query step t attends only to key steps s with ``|t - s| < sliding_window`` (see
        GroupedQueryAttention); refused with attention over other axes than a sequence's steps.
    flash_attention : None or False (Keras' fused kernel is not offered)
    use_gate : bool, default False (Keras 3.15's)
        A gate on each head's attended values before the output projection: ``gate =
        sigmoid(query @ gate_kernel + gate_bias)`` (batch, T, heads, value_dim), and the output
        projects ``context * gate``; weights ``gate_kernel`` (Eq, heads, value_dim) and
        ``gate_bias`` (heads, value_dim) between the key's and the value's, Keras' order.
    use_causal_mask : bool
        Step t attends to steps <= t only: the default of the layer's calls. Keras gives it at
        each call, ``mha(x, x, use_causal_mask=True)``, which works here too; in a model drawn,
        the calls of one (shared) layer must agree on it (a graph keeps one flag per layer).
    kernel_initializer, bias_initializer : as for ``Dense``.

    Shapes: query (batch, T, Eq), value (batch, S, Ev), key (batch, S, Ek) -> (batch, T, output_shape).
    Weights, Keras' shapes and order: query_kernel (Eq, heads, key_dim), query_bias (heads,
    key_dim), key_kernel (Ek, heads, key_dim), key_bias, value_kernel (Ev, heads, value_dim),
    value_bias, output_kernel (heads, value_dim, output_shape), output_bias (output_shape,).
    Masks, as Keras': in a model, the query's, value's and key's masks (``Embedding(mask_zero=True)``,
    ``Masking``) keep each query from the padded steps of the key, and the query's mask goes on
    with the output. A query with nothing left to attend to (a padded one) weighs every step
    evenly, as Keras 3.15 does without dropout (with dropout Keras zeroes its weights: the values
    of padded steps, which the layers after it skip). An eager call takes
    ``value_mask``, ``key_mask`` (batch, steps) and ``attention_mask`` (batch, T, S)
    (or (T, S), one mask for every sample, as Keras broadcasts it; True: may attend); a
    ``query_mask`` it ignores with a warning, as Keras 3.15 ignores it (Keras reads the query
    tensor's own mask): ``attention_mask=query_mask[:, :, None]`` masks the query's steps.
    ``return_attention_scores=True`` gives Keras' pair ``(output, scores)`` (in a model, the scores
    are an ``AttentionScores`` call). In a model drawn, ``attention_mask`` is one of its tensors,
    ``mha(x, x, attention_mask=Input((T, S)))`` (an Input the model takes, or a layer's output;
    nonzero allows, Keras' cast to bool), ANDed with the masks as Keras does; the other ``*_mask``
    arguments come with the inputs there.

    Example
    -------
    >>> import numpy as np
    >>> mha = MultiHeadAttention(num_heads=2, key_dim=4, seed=0)
    >>> mha(np.ones((3, 5, 8)), np.ones((3, 7, 6))).shape
    (3, 5, 8)
    """
    shape_arguments = ('num_heads', 'key_dim', 'value_dim')        # named when its arrays are too large (glassnet._bounds)

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", use_causal_mask=False, kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.use_gate = check_flag(use_gate, f"{cls}: use_gate")
        # Keras gives them to each of its four projections: here to the four kernels (biases) alike
        self.kernel_regularizer = regularizers.get(kernel_regularizer, f"{cls}: kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, f"{cls}: bias_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, f"{cls}: kernel_constraint")
        self.bias_constraint = constraints.get(bias_constraint, f"{cls}: bias_constraint")
        if flash_attention not in (None, False):
            raise ValueError(f"{cls}: flash_attention={flash_attention!r:.40} is not supported (a fused kernel; NumPy "
                             f"has none): leave it None or False")
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(
                sliding_window, (int, np.integer)) or sliding_window <= 0):
            raise ValueError(f"{cls}: sliding_window must be None or a positive integer, got {sliding_window!r:.40}")
        self.sliding_window = None if sliding_window is None else int(sliding_window)
        self.num_heads = _positive_int(num_heads, "num_heads", cls)
        self.key_dim = _positive_int(key_dim, "key_dim", cls)
        self.value_dim = self.key_dim if value_dim is None else _positive_int(value_dim, "value_dim", cls)
        self.dropout = _check_dropout(dropout, cls)
        self.use_bias = check_flag(use_bias, f"{cls}: use_bias")
        if isinstance(output_shape, (list, tuple)) and len(output_shape) == 1:
            output_shape = output_shape[0]      # Keras' (features,), as its get_config writes output_shape=7
        if isinstance(output_shape, (list, tuple)):
            raise ValueError(f"{cls}: output_shape must be a positive integer (or a tuple of one: Keras' (features,); "
                             f"an output of several axes is not supported), got {output_shape!r:.40}")
        self.features = None if output_shape is None else _positive_int(output_shape, "output_shape", cls)
        self.use_causal_mask = check_flag(use_causal_mask, f"{cls}: use_causal_mask")
        axes = (attention_axes,) if isinstance(attention_axes, (int, np.integer)) else attention_axes
        if axes is not None and (not isinstance(axes, (list, tuple)) or not axes or len(set(axes)) != len(axes) or not all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes)):
            raise ValueError(f"{cls}: attention_axes must be None, an axis or a tuple of distinct axes (integers), "
                             f"got {attention_axes!r:.40}")
        self.attention_axes = None if axes is None else tuple(int(a) for a in axes)
        self._fold = None               # forward's folding of the attended axes (see _fold_plan)
        self.kernel_initializer = initializers.get(kernel_initializer, f"{cls}: kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, f"{cls}: bias_initializer")
        if self.activity_regularizer is not None:
            # Keras hands it to its four projections, each penalised on its own output: another loss
            raise ValueError(f"{cls}: activity_regularizer is not supported (Keras penalises each of its "
                             "four projections' outputs; put ActivityRegularization after the layer for a penalty "
                             "on its output)")
        self.scores = None
        self._drawn_causal = None       # the mask of its calls in a model drawn (see __call__)

    _mask_arguments = ("query_mask", "value_mask", "key_mask", "attention_mask")
    _scores_after_dropout = False       # Keras returns the weights before dropout

    def _zeroes_empty_rows(self):
        # Keras 3.15 runs its fused attention (even weights) unless it has dropout or returns its
        # scores; then its masked softmax sets the row to zeros
        return self.dropout > 0 or self._with_scores or self._returns_scores

    def returned_scores(self):
        if self._fold is None:
            return self.scores
        # (batch x other axes, heads, T, S) is Keras' (batch, others..., heads, query's axes..., key's axes...)
        # flattened in order: a reshape
        return self.scores.reshape(self._fold[2])

    def scores_shape(self, input_shapes):
        query, value = input_shapes[0], input_shapes[1]
        axes = self._attended(len(query) + 1)
        others = [query[a - 1] for a in range(1, len(query)) if a not in axes]
        return (*others, self.num_heads, *[query[a - 1] for a in axes], *[value[a - 1] for a in axes])

    # -- attention over other axes than the steps (Keras' attention_axes) ---------------------
    _multi_axis = True          # GroupedQueryAttention attends over a sequence's steps only
    attention_axes, _fold, sliding_window = None, None, None    # (on the class too: a layer pickled before they existed)
    use_gate, _gate = False, None       # (the same)

    def _attended(self, rank):
        """The axes attended over for inputs of ``rank`` axes (the batch's included), as Keras
        resolves them: by default every axis between the batch's and the features' (a sequence's
        steps; an image's rows and columns), a negative axis counted from the features' end."""
        if self.attention_axes is None:
            return tuple(range(1, rank - 1))
        axes = tuple(a + rank if a < 0 else a for a in self.attention_axes)
        if not all(1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"{self.describe()}: attention_axes must be axes between the batch's and the features' "
                             f"(1 to {rank - 2}, or -{rank - 1} to -2), got {self.attention_axes} for inputs of "
                             f"{rank} axes")
        return axes

    def _fold_plan(self, query, key):
        """None for sequences (batch, steps, features) attended over their steps; otherwise
        ``(permutation, folded shapes, scores shape)``: each input is transposed to (batch, the
        axes not attended..., the attended axes in attention_axes' order..., features) and reshaped
        to (batch x the others, the attended positions, features): sequences, for which the
        attention is the one over steps (a softmax over several axes is one over their positions
        flattened), and whose gradients the inverse reshape and transpose take back."""
        rank = query.ndim
        axes = self._attended(rank)
        if axes == (1,) and rank == 3:
            return None
        others = tuple(a for a in range(1, rank - 1) if a not in axes)
        perm = (0, *others, *axes, rank - 1)
        rows = query.shape[0] * math.prod(query.shape[a] for a in others)
        scores = (query.shape[0], *[query.shape[a] for a in others], self.num_heads,
                  *[query.shape[a] for a in axes], *[key.shape[a] for a in axes])
        return perm, rows, scores

    def _refuse_masks_over_axes(self, sample_shapes, given):
        # Keras' masks are (batch, T, S), over one axis of steps (its band too): over other axes it misplaces them
        rank = len(sample_shapes[0]) + 1
        if not self._multi_axis or rank <= 3 and self._attended(rank) in ((1,), ()):
            return      # a sequence attended over its steps (or shapes the layer refuses by themselves)
        given = [*given, *[f"sliding_window={self.sliding_window}"] * (self.sliding_window is not None)]
        if given:
            raise NotImplementedError(f"{self.describe()}: {given[0]} is not supported with attention over axes "
                                      f"{self._attended(rank)} of inputs of {rank} axes (only over the steps of "
                                      f"sequences)")

    def _folded(self, x):
        perm, rows, _ = self._fold
        return x.transpose(perm).reshape(rows, -1, x.shape[-1])

    def _unfolded(self, x, shape):
        """``x`` (batch x others, positions, features) back to an input's ``shape`` (features: x's)."""
        perm = self._fold[0]
        permuted = [shape[a] for a in perm[:-1]] + [x.shape[-1]]
        return x.reshape(permuted).transpose(np.argsort(perm))

    # Keras 3.15's MultiHeadAttention.call overwrites its query_mask argument with the query
    # tensor's own mask (backend.get_keras_mask(query)), which an array never carries: an eager
    # query_mask changes nothing there, by keyword or by position. Its GroupQueryAttention uses it.
    _reads_query_mask = False

    def _eager_masks(self, masks):
        if not self._reads_query_mask and masks.get("query_mask") is not None:
            # ignored as Keras ignores it (its values, so that Keras code ports as it is), but said:
            # a padded query step would only change its own output and weights, never a real step's
            warn(f"{self.describe()}: query_mask is ignored, as Keras 3.15's MultiHeadAttention ignores it (its "
                 f"call reads the query's mask from the query tensor alone, and an array carries none): a masked "
                 f"query step attends as the others. For Keras' masked query (that step's weights zero, or even), "
                 f"give attention_mask=query_mask[:, :, None]; GroupQueryAttention reads query_mask")
            masks = {**masks, "query_mask": None}
        return {i: masks[name] for i, name in enumerate(self._mask_arguments[:3]) if masks.get(name) is not None}

    def __call__(self, *args, **kwargs):
        """``layer(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
        attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=None)``,
        Keras' call, its arguments in Keras' order, by position too (see ``_call_tensors``). Which
        tensors came by keyword is noted for the order of a model's layers: Keras' call reads those
        given by position first, then those given by keyword sorted by name (``mha(query=q,
        value=v, key=k)`` reads k, q, v), and a model lists the layers that made them in that order
        (glassnet/_layer_order.py)."""
        if len(args) > len(self._CALL_ARGUMENTS):
            raise TypeError(f"{self.describe()}: takes at most {len(self._CALL_ARGUMENTS)} arguments by position "
                            f"({', '.join(self._CALL_ARGUMENTS)}: Keras' order), got {len(args)}")
        positional = self._CALL_ARGUMENTS[:len(args)]
        _refuse_flags_by_position(self, positional, args)
        twice = [name for name in positional if name in kwargs]
        if twice:
            raise TypeError(f"{self.describe()}: got {twice[0]} by position and by keyword")
        tensors = (*self._TENSOR_ARGUMENTS, "attention_mask")
        names = [*(name for name, given in zip(positional, args) if name in tensors and given is not None),
                 *sorted(name for name in tensors if name in kwargs)]
        return self._call_tensors(*args, keras_order=names, **kwargs)

    _TENSOR_ARGUMENTS = ("query", "value", "key")
    # Keras' MultiHeadAttention.call and GroupQueryAttention.call, in order
    _CALL_ARGUMENTS = ("query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask",
                       "return_attention_scores", "training", "use_causal_mask")

    def _call_tensors(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                      attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=None,
                      keras_order=(), **keras_defaults):
        # the masks and the scores' flag go on to _call as the keyword arguments they were before
        for name, given in (("query_mask", query_mask), ("value_mask", value_mask), ("key_mask", key_mask),
                            ("attention_mask", attention_mask)):
            if given is not None:
                keras_defaults[name] = given
        if return_attention_scores is not False:
            keras_defaults["return_attention_scores"] = return_attention_scores
        if value is None and not isinstance(query, (list, tuple)):
            raise TypeError(f"{self.describe()}: takes (query, value) or (query, value, key), or a list of them; "
                            f"got one {type(query).__name__}")
        inputs = list(query) if value is None else [query, value] + ([] if key is None else [key])
        mask = keras_defaults.get("attention_mask")
        # where each tensor is in the call's inputs: [query, value(, key)(, attention_mask)] (_call)
        place = {"query": 0, "value": 1, **({"key": 2} if key is not None else {}),
                 **({"attention_mask": len(inputs)} if mask is not None else {})}
        out = self._call(inputs, training, use_causal_mask, keras_defaults)
        if value is not None and keras_order:
            _note_keras_order(out, [place[name] for name in keras_order if name in place])
        return out

    def matmul_flops(self, batch_size):
        """The largest product: a projection of the query, key or value (fit's choice of threads)."""
        if self.input_shape is None:
            return 0
        sizes = [math.prod(shape[:-1]) * shape[-1] for shape in self.input_shape if None not in shape]
        width = self.num_heads * max(self.key_dim, self.value_dim)
        return 2 * batch_size * max(sizes, default=0) * width

    # -- shapes ------------------------------------------------------------------------------
    def _check_compatible(self, shapes):
        rank = len(shapes[0]) if shapes else 0
        if len(shapes) < 2 or any(len(s) != rank for s in shapes) or rank < 2 or (rank != 2 and not self._multi_axis):
            raise ValueError(f"{self.describe()}: takes sequences, query (steps, features), value (steps, features) "
                             f"and an optional key like value" + (" (or inputs of one rank, (axes..., features), "
                             "attended over attention_axes)" if self._multi_axis else "") +
                             f"; got samples of shapes {shapes}")
        if len(shapes) == 3 and not all(a is None or b is None or a == b for a, b in zip(shapes[1][:-1], shapes[2][:-1])):
            raise ValueError(f"{self.describe()}: key and value need the same number of steps, got key {shapes[2]} "
                             f"and value {shapes[1]}")
        if any(s[-1] is None for s in shapes):
            raise ValueError(f"{self.describe()}: the features of query, value and key need a size, got {shapes}")
        axes = self._attended(rank + 1)
        for a in range(1, rank):        # the axes not attended pair each query position with the value's
            if a not in axes and None not in (shapes[0][a - 1], shapes[1][a - 1]) and shapes[0][a - 1] != shapes[1][a - 1]:
                raise ValueError(f"{self.describe()}: query and value need the same size on axis {a}, which is not "
                                 f"attended over (attention_axes {axes}), got query {shapes[0]} and value {shapes[1]}")

    def output_shape(self, input_shape):
        query = self._checked_shapes(input_shape)[0]
        return (*query[:-1], self.features or query[-1])

    def numbers_per_sample(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        return sum(math.prod(size or 1 for size in s) for s in shapes) + \
            2 * math.prod(size or 1 for size in self.scores_shape(shapes))

    def build(self, input_shape=None, value_shape=None, key_shape=None, *, query_shape=None):
        if value_shape is not None or query_shape is not None:
            # Keras' build(query_shape, value_shape, key_shape=None), as a block's build calls it
            # (keras_hub's TransformerEncoder): Keras' shapes, batch axis first; glassnet's own
            # callers hand the list of samples' shapes
            query_shape = input_shape if query_shape is None else query_shape
            given = [s for s in (query_shape, value_shape, key_shape) if s is not None]
            if query_shape is None or value_shape is None or not all(
                    isinstance(s, (list, tuple)) and len(s) >= 2 for s in given):
                raise ValueError(f"{self.describe()}: build(query_shape, value_shape, key_shape=None) takes Keras' "
                                 f"shapes, batch axis first, such as (None, 10, 64), got {given!r:.120}")
            input_shape = [tuple(s)[1:] for s in given]
        shapes = self._checked_shapes(input_shape)
        (query, value), key = shapes[:2], shapes[2] if len(shapes) == 3 else shapes[1]
        heads, features = self.num_heads, self.features or query[-1]
        self._check_working_arrays(query, key, value, shapes)
        # Keras 3 makes these kernels with EinsumDense, whose fans are the kernel's summed axes (in)
        # and kept axes (out): (E, heads, size) has fans (E, heads * size), not a conv kernel's
        # (heads * E, size * E), which made glorot's bound sqrt(E) times too small
        # Keras' order: query, key, its gate (from the query, one per head and value feature), value
        gate = (("gate", query, self.value_dim),) if self.use_gate else ()
        for name, source, size in (("query", query, self.key_dim), ("key", key, self.key_dim), *gate,
                                   ("value", value, self.value_dim)):
            projected = heads if name in ("query", "gate") else self._key_value_heads()
            self.add_weight(f"{name}_kernel", (source[-1], projected, size),
                            by_fans(self.kernel_initializer, source[-1], projected * size), *self._kernel_rules)
            if self.use_bias:
                self.add_weight(f"{name}_bias", (projected, size), self.bias_initializer, *self._bias_rules)
        self.add_weight("output_kernel", (heads, self.value_dim, features),
                        by_fans(self.kernel_initializer, heads * self.value_dim, features), *self._kernel_rules)
        if self.use_bias:
            self.add_weight("output_bias", (features,), self.bias_initializer, *self._bias_rules)
        super().build(input_shape)

    def keras_weight_path(self, key):
        # Keras makes each projection's kernel and bias in an EinsumDense of its own, the output's
        # named attention_output: "query_kernel" is "query/kernel", "output_bias" "attention_output/bias"
        sublayer, _, weight = key.rpartition("_")
        if sublayer in ("query", "key", "gate", "value", "output") and weight in ("kernel", "bias"):
            return ["attention_output" if sublayer == "output" else sublayer, weight]
        return [key]

    def _check_working_arrays(self, query, key, value, shapes):
        """Refuse, at build, arrays its forward makes per sample beyond ``MAX_SAMPLE_VALUES``
        (glassnet._bounds) that neither its output nor its weights show: the scores (num_heads x
        query steps x key steps: ``num_heads=10**6`` over 128 steps is 1.6 * 10**10 numbers, from 4 *
        10**6 weights) and each projection, (heads, steps, key_dim or value_dim) with the keys and
        values repeated to every query head. Steps of any length (None) count as 1."""
        def steps(shape):
            return math.prod(size or 1 for size in shape[:-1])
        check_sample_values(self, math.prod(size or 1 for size in self.scores_shape(shapes)),
                            "its attention scores (num_heads x query steps x key steps)")
        check_sample_values(self, self.num_heads * max(steps(query) * self.key_dim, steps(key) * self.key_dim,
                                                       steps(value) * self.value_dim),
                            "its projected queries, keys or values (num_heads x steps x key_dim or value_dim)")

    def _key_value_heads(self):
        """How many heads the keys and values are projected to: one per query head here; fewer,
        each shared by a group of query heads, in GroupedQueryAttention."""
        return self.num_heads

    def _shared(self, x):
        """Projected keys or values (batch, key-value heads, S, size) as one per query head."""
        return x

    def _shared_back(self, grad):
        """The adjoint of ``_shared``: each key-value head's gradient from its query heads'."""
        return grad

    # -- forward and backward ----------------------------------------------------------------
    def _project(self, x, name):
        """x (batch, steps, E) through ``name``'s kernel (E, heads, size): (batch, heads, steps, size)."""
        kernel = self.params[f"{name}_kernel"]
        out = (x.reshape(-1, x.shape[-1]) @ kernel.reshape(kernel.shape[0], -1)).reshape(
            x.shape[0], x.shape[1], *kernel.shape[1:])
        if self.use_bias:
            out += self.params[f"{name}_bias"]
        return out.transpose(0, 2, 1, 3)

    def _allowed(self, query, key, value):
        """Which scores the masks allow, (batch, T, S) booleans, or None: Keras' AND of the
        query's mask (batch, T, 1), the value's and the key's (batch, 1, S) and an eager call's
        ``attention_mask`` (batch, T, S) or (T, S)."""
        allowed = None
        for mask, axis in zip(self._take_masks([query, value, key]), (2, 1, 1)):
            if mask is not None:
                mask = backend.get_array_module(mask).expand_dims(mask, axis)
                allowed = mask if allowed is None else allowed & mask
        given, self._attention_mask = self._attention_mask, None
        if given is not None:
            xp = backend.get_array_module(query)
            given = xp.asarray(given)
            expected = (query.shape[0], query.shape[1], key.shape[1])
            # (T, S) is one mask for every sample (PyTorch's attn_mask): Keras 3.15 adds the batch axis
            shaped = given[None] if given.ndim == 2 else given
            if shaped.ndim != 3 or not all(g in (e, 1) for g, e in zip(shaped.shape, expected)):
                raise ValueError(f"{self.describe()}: attention_mask must have shape (batch, T, S) = {expected} or "
                                 f"(T, S) (or 1 along an axis, broadcast as Keras'), got shape {given.shape}")
            given = xp.broadcast_to(shaped, expected)
            given = given.astype(bool, copy=False)
            allowed = given if allowed is None else allowed & given
        if self.sliding_window is not None:
            # Keras' band: query step t attends to key steps s with |t - s| < sliding_window, both
            # counted from 0, ANDed with the masks (and, in _weights, the causal mask)
            xp = backend.get_array_module(query)
            band = xp.abs(xp.arange(query.shape[1])[:, None] - xp.arange(key.shape[1])) < self.sliding_window
            allowed = band[None] if allowed is None else allowed & band
        return allowed

    def forward(self, inputs, training=False):
        query, key, value = self._unpack(inputs)
        self._fold = self._fold_plan(query, key)
        if self._fold is not None:
            given = [name for i, name in enumerate(self._mask_arguments[:3]) if (self._input_masks or {}).get(i) is not None]
            given += ["attention_mask"] * (self._attention_mask is not None) + ["use_causal_mask=True"] * self.causal
            try:
                self._refuse_masks_over_axes([query.shape[1:]], given)
            except NotImplementedError:
                self._input_masks = self._attention_mask = None
                raise
            self._shapes = (query.shape, key.shape, value.shape)
            query, key, value = (self._folded(x) for x in (query, key, value))
            self.inputs = [query, key, value]
        allowed = self._allowed(query, key, value)
        scale = query.dtype.type(1.0 / math.sqrt(self.key_dim))
        q, k, v = (self._project(query, "query"), self._shared(self._project(key, "key")),
                   self._shared(self._project(value, "value")))
        q *= scale                                      # Keras scales the queries
        weights = self._weights(q @ k.transpose(0, 1, 3, 2), training,      # (batch, heads, T, S)
                                None if allowed is None else allowed[:, None])
        context = (weights @ v).transpose(0, 2, 1, 3)   # (batch, T, heads, value_dim)
        if self.use_gate:
            # Keras' gate: sigmoid of the query's own projection, (batch, T, heads, value_dim)
            self._gate = activations.sigmoid(self._project(query, "gate").transpose(0, 2, 1, 3))
            self._ungated, context = context, context * self._gate
        self.q, self.k, self.v, self.context = q, k, v, context
        kernel = self.params["output_kernel"]
        out = context.reshape(-1, kernel.shape[0] * kernel.shape[1]) @ kernel.reshape(-1, kernel.shape[2])
        if self.use_bias:
            out += self.params["output_bias"]
        out = out.reshape(query.shape[0], query.shape[1], kernel.shape[2])
        return out if self._fold is None else self._unfolded(out, self._shapes[0])

    def _project_back(self, x, grad, name):
        """dL/dx from dL/d(projection) ``grad`` (batch, heads, steps, size), filling ``name``'s grads."""
        kernel = self.params[f"{name}_kernel"]
        grad = grad.transpose(0, 2, 1, 3).reshape(-1, kernel.shape[1] * kernel.shape[2])
        self.grads[f"{name}_kernel"][...] = (x.reshape(-1, x.shape[-1]).T @ grad).reshape(kernel.shape)
        if self.use_bias:
            self.grads[f"{name}_bias"][...] = grad.sum(axis=0).reshape(kernel.shape[1:])
        return (grad @ kernel.reshape(kernel.shape[0], -1).T).reshape(x.shape)

    def backward(self, grad_output):
        query, key, value = self.inputs
        kernel = self.params["output_kernel"]
        if self._fold is not None:
            grad_output = self._folded(grad_output)
            if self._score_grads is not None:       # an AttentionScores call's, in Keras' shape
                self._score_grads = self._score_grads.reshape(self.scores.shape)
        flat = grad_output.reshape(-1, kernel.shape[2])
        self.grads["output_kernel"][...] = (self.context.reshape(flat.shape[0], -1).T @ flat).reshape(kernel.shape)
        if self.use_bias:
            self.grads["output_bias"][...] = flat.sum(axis=0)
        d_context = (flat @ kernel.reshape(-1, kernel.shape[2]).T).reshape(self.context.shape)
        d_gate = None
        if self.use_gate:       # context * gate: each factor's gradient is the other's times d_context
            gate = self._gate
            d_gate = (d_context * self._ungated * gate * (1 - gate)).transpose(0, 2, 1, 3)     # through the sigmoid
            d_context = d_context * gate
        d_context = d_context.transpose(0, 2, 1, 3)
        d_v = self.used.transpose(0, 1, 3, 2) @ d_context           # (batch, heads, S, value_dim)
        d_scores = self._weights_back(d_context @ self.v.transpose(0, 1, 3, 2))     # (batch, heads, T, S)
        scale = query.dtype.type(1.0 / math.sqrt(self.key_dim))
        d_q = (d_scores @ self.k) * scale                           # q was scaled before the product
        d_k = d_scores.transpose(0, 1, 3, 2) @ self.q               # (the scaled q)
        grads = [self._project_back(query, d_q, "query"), self._project_back(key, self._shared_back(d_k), "key"),
                 self._project_back(value, self._shared_back(d_v), "value")]
        if d_gate is not None:      # the gate reads the query too
            grads[0] = grads[0] + self._project_back(query, d_gate, "gate")
        if self._fold is not None:
            grads = [self._unfolded(g, shape) for g, shape in zip(grads, self._shapes)]
        return self._input_gradients(*grads)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.features, "use_causal_mask": self.causal,
                "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
                "sliding_window": self.sliding_window,
                **({"use_gate": True} if self.use_gate else {}),        # (False: the configs written before it)
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                # only those set: a default layer's config as before them
                **regularizers.config_entries(self), **constraints.config_entries(self)}

    @property
    def _kernel_rules(self):
        return self.kernel_regularizer, self.kernel_constraint

    @property
    def _bias_rules(self):
        return self.bias_regularizer, self.bias_constraint


class GroupedQueryAttention(MultiHeadAttention):
    """Keras' ``GroupQueryAttention`` (its class ``GroupedQueryAttention``, both names here; Ainslie et al. 2023, the attention of LLaMA 2 and
    Mistral): ``num_query_heads`` query heads, but keys and values projected to fewer heads,
    ``num_key_value_heads``, each shared by a group of ``num_query_heads // num_key_value_heads``
    consecutive query heads (query head i reads key-value head ``i // group``). One key-value head
    is multi-query attention; as many as query heads, multi-head attention. Calls, masks, causal
    masks, dropout and ``return_attention_scores`` as ``MultiHeadAttention``'s, but for an eager
    ``query_mask``, which this layer reads, as Keras' GroupQueryAttention does; the output has the
    query's features.

    Parameters
    ----------
    head_dim : int
        Each head's size (queries, keys and values).
    num_query_heads, num_key_value_heads : int
        The second must divide the first.
    sliding_window : int, optional
        Keras': query step t attends only to key steps s with ``|t - s| < sliding_window`` (both
        counted from 0; a band both ways), ANDed with the masks; with ``use_causal_mask=True`` it
        is Mistral's causal window, the last ``sliding_window`` steps. A query step with no key
        step in its band (T > S + sliding_window - 1) is a row with nothing allowed, treated as a
        padded query's (``MultiHeadAttention``).
    dropout, use_bias, kernel_initializer, bias_initializer : as ``MultiHeadAttention``'s.

    Weights, Keras' order and shapes: query_kernel (Eq, num_query_heads, head_dim), query_bias,
    key_kernel (Ek, num_key_value_heads, head_dim), key_bias, value_kernel (Ev, num_key_value_heads,
    head_dim), value_bias, output_kernel (num_query_heads, head_dim, Eq), output_bias (Eq,).
    The backward pass adds each group's gradients into its shared head. ``use_gate=True`` is
    Keras': ``MultiHeadAttention``'s gate, one per query head, ``gate_kernel (Eq, num_query_heads,
    head_dim)`` and ``gate_bias`` between the key's weights and the value's. Keras'
    ``flash_attention`` (a fused kernel) is not offered.

    Example
    -------
    >>> import numpy as np
    >>> gqa = GroupedQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, seed=0)
    >>> gqa(np.ones((3, 5, 8)), np.ones((3, 7, 6))).shape
    (3, 5, 8)
    >>> gqa.params["key_kernel"].shape
    (6, 2, 4)
    """

    # MultiHeadAttention's arguments this layer sets itself (an error listing what it takes leaves them out)
    _not_taken = ("num_heads", "key_dim", "value_dim", "output_shape", "attention_axes")
    shape_arguments = ('num_query_heads', 'head_dim')        # (glassnet._bounds' messages, in its own names)
    _multi_axis = False
    _reads_query_mask = True    # Keras' GroupQueryAttention.call uses its query_mask argument

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform", bias_initializer="zeros", use_gate=False,
                 **kwargs):
        if set(kwargs) & set(self._not_taken):
            raise TypeError(f"GroupedQueryAttention: takes head_dim, num_query_heads and num_key_value_heads, not "
                            f"MultiHeadAttention's {sorted(set(kwargs) & set(self._not_taken))}")
        super().__init__(_positive_int(num_query_heads, "num_query_heads", "GroupedQueryAttention"),
                         _positive_int(head_dim, "head_dim", "GroupedQueryAttention"),
                         dropout=dropout, use_bias=use_bias, sliding_window=sliding_window,
                         flash_attention=flash_attention, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, use_gate=use_gate, **kwargs)
        self.num_key_value_heads = _positive_int(num_key_value_heads, "num_key_value_heads", "GroupedQueryAttention")
        if self.num_heads % self.num_key_value_heads:
            raise ValueError(f"GroupedQueryAttention: num_query_heads ({self.num_heads}) must be a multiple of "
                             f"num_key_value_heads ({self.num_key_value_heads})")

    @property
    def head_dim(self):
        return self.key_dim

    @property
    def num_query_heads(self):
        return self.num_heads

    def _key_value_heads(self):
        return self.num_key_value_heads

    def _shared(self, x):
        # (batch, kv heads, S, size) -> (batch, query heads, S, size): each head repeated for its group
        return backend.get_array_module(x).repeat(x, self.num_heads // self.num_key_value_heads, axis=1)

    def _shared_back(self, grad):
        n, _, steps, size = grad.shape
        return grad.reshape(n, self.num_key_value_heads, -1, steps, size).sum(axis=2)

    def get_config(self):
        config = super().get_config()
        for key in self._not_taken:
            del config[key]
        return {**config, "head_dim": self.key_dim, "num_query_heads": self.num_heads,
                "num_key_value_heads": self.num_key_value_heads}


class _DotAttention(_Attention):
    """What Attention and AdditiveAttention share (Keras' BaseDenseAttention): inputs [query,
    value] or [query, value, key] (the key is the value when not given), scores of each query step
    against each key step (``_scores``, by subclass), a softmax over the key's steps, dropout on
    those weights in training, and the weights times the value. ``use_causal_mask`` as for
    MultiHeadAttention. Query and key need one feature size; the output has the value's features.

    Masks, as Keras': the value's mask keeps every query from its padded steps, and a masked
    query step's output is zero; in a model they come with the inputs (``Embedding(mask_zero=True)``,
    ``Masking``), the query's going on with the output; an eager call takes ``mask=[query_mask,
    value_mask]``. A query left nothing to attend to (a value all padding) weighs every step evenly.

    Shapes: query (batch, Tq, d), value (batch, Tv, dv), key (batch, Tv, d) -> (batch, Tq, dv);
    ``layer.scores`` keeps the last forward pass's weights (batch, Tq, Tv)."""
    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.dropout = _check_dropout(dropout, name)
        if self.activity_regularizer is not None:
            raise ValueError(f"{name}: activity_regularizer is not supported; put ActivityRegularization after it")
        self.scores = None

    _mask_arguments = ("mask",)
    _scores_after_dropout = True        # Keras returns the weights it used, after dropout

    def returned_scores(self):
        return self.used

    def scores_shape(self, input_shapes):
        return (input_shapes[0][0], input_shapes[1][0])

    def __call__(self, inputs, *args, **kwargs):
        """``layer([query, value(, key)], mask=None, training=None, return_attention_scores=False,
        use_causal_mask=None)``: Keras' call, its arguments in Keras' order (by position: the mask)."""
        names = ("mask", "training", "return_attention_scores", "use_causal_mask")
        if len(args) > len(names):
            raise TypeError(f"{self.describe()}: takes at most {len(names) + 1} arguments by position (inputs, "
                            f"{', '.join(names)}: Keras' order), got {len(args) + 1}")
        _refuse_flags_by_position(self, names[:len(args)], args)
        twice = [name for name in names[:len(args)] if name in kwargs]
        if twice:
            raise TypeError(f"{self.describe()}: got {twice[0]} by position and by keyword")
        keras_defaults = {**dict(zip(names, args)), **kwargs}
        if keras_defaults.get("mask") is None:
            keras_defaults.pop("mask", None)
        if keras_defaults.get("return_attention_scores") is False:
            del keras_defaults["return_attention_scores"]
        training, use_causal_mask = keras_defaults.pop("training", None), keras_defaults.pop("use_causal_mask", None)
        return self._call(inputs, training, use_causal_mask, keras_defaults)

    def _eager_masks(self, masks):
        given = masks.get("mask")
        if given is None:
            return None
        if not isinstance(given, (list, tuple)) or not 2 <= len(given) <= 3:
            raise ValueError(f"{self.describe()}: mask must be a list [query_mask, value_mask] (Keras'), got "
                             f"{given!r:.60}")
        return {i: mask for i, mask in enumerate(given[:2]) if mask is not None}     # Keras reads no key mask

    def _check_compatible(self, shapes):
        if any(len(s) != 2 for s in shapes):
            raise ValueError(f"{self.describe()}: takes sequences, query (steps, features), value (steps, features) "
                             f"and an optional key like value; got samples of shapes {shapes}")
        key = shapes[2] if len(shapes) == 3 else shapes[1]
        if shapes[0][1] is not None and key[1] is not None and shapes[0][1] != key[1]:
            raise ValueError(f"{self.describe()}: query and key need one feature size, got query {shapes[0]} and "
                             f"key {key}")
        if len(shapes) == 3 and None not in (shapes[1][0], shapes[2][0]) and shapes[1][0] != shapes[2][0]:
            raise ValueError(f"{self.describe()}: key and value need the same number of steps, got key {shapes[2]} "
                             f"and value {shapes[1]}")

    def output_shape(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        return (shapes[0][0], shapes[1][1])

    def forward(self, inputs, training=False):
        query, key, value = self._unpack(inputs)
        query_mask, value_mask = self._take_masks([query, value])
        allowed = None if value_mask is None else value_mask[:, None, :]      # Keras: the value's mask
        out = self._weights(self._scores(query, key), training, allowed) @ value      # scores (batch, Tq, Tv)
        self.query_kept = None
        if query_mask is not None:      # Keras zeroes the output of a masked query step
            self.query_kept = query_mask[:, :, None].astype(out.dtype)
            out *= self.query_kept
        return out

    def backward(self, grad_output):
        query, key, value = self.inputs
        if self.query_kept is not None:
            grad_output = grad_output * self.query_kept
        d_value = self.used.transpose(0, 2, 1) @ grad_output
        d_scores = self._weights_back(grad_output @ value.transpose(0, 2, 1))
        d_query, d_key = self._scores_backward(d_scores, query, key)
        return self._input_gradients(d_query, d_key, d_value)

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}


del LAYERS["_DotAttention"]     # a shared base, not a layer that configs may name


class Attention(_DotAttention):
    """Keras' ``Attention`` (Luong-style dot-product attention): ``Attention()([query, value])``
    or ``([query, value, key])``; scores ``query @ key^T`` (times a trained scalar ``scale``,
    starting at 1, with ``use_scale``), or with ``score_mode="concat"``
    ``concat_score_weight * sum(tanh(scale * (q + k)))`` over the features. See ``_DotAttention``
    for shapes and the rest; weights: ``scale`` () with ``use_scale``, ``concat_score_weight`` ()
    for "concat".

    >>> import numpy as np
    >>> Attention()([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
    (2, 3, 4)
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, **kwargs):
        super().__init__(dropout, **kwargs)
        self.use_scale = check_flag(use_scale, "Attention: use_scale")
        check_choice(score_mode, "Attention: score_mode", ("dot", "concat"), expected="'dot' or 'concat'")
        self.score_mode = score_mode

    def build(self, input_shape):
        self._checked_shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")
        super().build(input_shape)

    def _scores(self, query, key):
        if self.score_mode == "dot":
            self.raw = query @ key.transpose(0, 2, 1)
            return self.raw * self.params["scale"] if self.use_scale else self.raw.copy()
        pre = query[:, :, None, :] + key[:, None, :, :]            # (batch, Tq, Tv, d)
        self.pre = pre
        self.tanh = np.tanh(pre * self.params["scale"] if self.use_scale else pre)
        self.summed = self.tanh.sum(axis=-1)
        return self.summed * self.params["concat_score_weight"]

    def _scores_backward(self, d_scores, query, key):
        if self.score_mode == "dot":
            if self.use_scale:
                self.grads["scale"][...] = (d_scores * self.raw).sum()
                d_scores = d_scores * self.params["scale"]
            return d_scores @ key, d_scores.transpose(0, 2, 1) @ query
        weight = self.params["concat_score_weight"]
        self.grads["concat_score_weight"][...] = (d_scores * self.summed).sum()
        d_pre = (d_scores * weight)[..., None] * (1 - self.tanh * self.tanh)
        if self.use_scale:
            self.grads["scale"][...] = (d_pre * self.pre).sum()
            d_pre *= self.params["scale"]
        return d_pre.sum(axis=2), d_pre.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode}


class AdditiveAttention(_DotAttention):
    """Keras' ``AdditiveAttention`` (Bahdanau-style): scores ``sum(scale * tanh(q + k))`` over the
    features, ``scale`` a trained vector (d,) starting at glorot_uniform with ``use_scale`` (else
    a plain sum). See ``_DotAttention`` for the inputs, shapes and the rest.

    >>> import numpy as np
    >>> AdditiveAttention()([np.ones((2, 3, 4)), np.ones((2, 5, 4))]).shape
    (2, 3, 4)
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(dropout, **kwargs)
        self.use_scale = check_flag(use_scale, "AdditiveAttention: use_scale")

    def build(self, input_shape):
        shapes = self._checked_shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (shapes[0][1],), "glorot_uniform")
        super().build(input_shape)

    def _scores(self, query, key):
        self.tanh = np.tanh(query[:, :, None, :] + key[:, None, :, :])     # (batch, Tq, Tv, d)
        return (self.tanh * self.params["scale"]).sum(axis=-1) if self.use_scale else self.tanh.sum(axis=-1)

    def _scores_backward(self, d_scores, query, key):
        if self.use_scale:
            self.grads["scale"][...] = (d_scores[..., None] * self.tanh).sum(axis=(0, 1, 2))
            d_tanh = d_scores[..., None] * self.params["scale"]
        else:
            d_tanh = np.repeat(d_scores[..., None], self.tanh.shape[-1], axis=-1)
        d_pre = d_tanh * (1 - self.tanh * self.tanh)
        return d_pre.sum(axis=2), d_pre.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale}


class AttentionScores(CallReader):
    """The attention weights of an attention layer's call made with ``return_attention_scores=True``
    in a functional Model: ``out, scores = mha(q, v, return_attention_scores=True)`` makes one,
    reading the attention layer's output (layers/readers.py). Its forward gives that call's
    ``returned_scores``; its backward hands their gradient to the layer (``_score_grads``), whose
    backward adds it where the weights were taken.

    Shapes: reads the attention layer's output -> MultiHeadAttention's (heads, T, S), Attention's
    and AdditiveAttention's (T, S).
    """
    reads = "the scores of an attention layer called with return_attention_scores=True"
    returns = "its attention scores"

    def bind_call(self, parent):
        """Read the scores of ``parent``'s call (a symbolic tensor of an attention layer)."""
        from .symbolic import SymbolicTensor, sample_shape_of
        if not isinstance(parent, SymbolicTensor) or not isinstance(parent.layer, _Attention):
            raise ValueError(f"{self.describe()}: reads the scores of an attention layer's call, got "
                             f"{parent!r:.80}")
        self._bound = (parent.layer, [sample_shape_of(p) for p in parent.inputs])
        parent.layer._returns_scores = True     # its forward then weighs an empty row as Keras' does here

    def output_shape(self, input_shape):
        if not self._bound:         # (a first call on its own asks this before forward: forward's words)
            raise ValueError(f"{self.describe()}: reads {self.reads} in a model; used alone it has none")
        source, shapes = self._bound
        return source.scores_shape(shapes)

    def numbers_per_sample(self, input_shape):
        # a length an Input left open is not known here (the scores' shape is the one drawn): 1, as
        # the attention layer's own count takes it
        return math.prod(size or 1 for size in self.output_shape(input_shape))

    def _has_values(self, source):
        return getattr(source, "used", None) is not None

    def _values(self, source):
        return source.returned_scores()

    def _hand_back(self, source, grad_output):
        source._score_grads = grad_output if source._score_grads is None else source._score_grads + grad_output


def _refuse_flags_by_position(layer, names, args):
    """Refuse a flag given by position (``mha(q, v, k, True)``): Keras' Layer.__call__ takes
    only tensors (or None) by position, so there it fails, and in Keras' order a fourth argument
    is the query's mask, not ``training`` as glassnet's call took it before. ``names``: the
    arguments ``args`` fill, in order."""
    for name, given in zip(names, args):
        if given is None or isinstance(given, (list, tuple)) or hasattr(given, "shape"):
            continue    # a tensor, an array or None, as Keras takes by position
        hint = f"give {name}= by keyword"
        if name.endswith("mask"):
            # a flag in a mask's place (mha(q, v, k, True), once read as training=True) is no
            # mask: `query_mask=True` would send the user the wrong way
            hint = ("a mask by position is an array (or None); give a flag by keyword (training=, "
                    "return_attention_scores=, use_causal_mask=)")
        raise TypeError(f"{layer.describe()}: got {given!r:.40} by position for {name}; as Keras, it takes only "
                        f"tensors (or None) by position: {hint}")
