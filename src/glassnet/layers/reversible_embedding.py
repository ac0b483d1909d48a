"""ReversibleEmbedding: an Embedding that also maps vectors back onto its vocabulary (Keras 3's
layer): ``emb(ids)`` looks rows up, ``emb(h, reverse=True)`` gives logits ``h @ embeddings.T``, the
tied output layer of language models (Press and Wolf, 2016).

Reverse: ``logits = x @ W`` with ``W = embeddings.T`` (tied) or its own ``reverse_embeddings``
(output_dim, input_dim); with ``logit_soft_cap`` c, ``c * tanh(logits / c)``. Backward, with
``g = dL/d(logits) * (1 - tanh(logits / c)**2)`` (the cap's derivative; 1 without one):
``dL/dx = g @ W.T`` and ``dL/dW = x.T @ g`` over every position, written into ``embeddings`` as
its transpose when tied. In a functional Model the layer called both ways is one shared layer
(graph.py): each call keeps its own cache and direction, and the table's gradient is the sum of
the lookup's rows and the reverse product's.
"""
import math

import numpy as np

from .. import backend
from .._validation import check_flag
from .base import call_arguments_set
from .embedding import Embedding

# Keras' Embedding arguments for its quantization and LoRA, which glassnet does not build
_NOT_BUILT = ("lora_rank", "lora_alpha", "quantization_config")


class ReversibleEmbedding(Embedding):
    """``Embedding`` whose ``call(x, reverse=True)`` maps ``(batch, ..., output_dim)`` vectors to
    ``(batch, ..., input_dim)`` logits (Keras 3's ``ReversibleEmbedding``; see the module docstring).

    Parameters (Keras' names and defaults; the others are ``Embedding``'s)
    ----------
    tie_weights : bool, default True
        Reverse with the transposed ``embeddings``; False: with a trained matrix of its own,
        ``reverse_embeddings`` (output_dim, input_dim), drawn by ``embeddings_initializer``.
    reverse_dtype : {None, "float32", "float64"}
        Keras computes the reverse product in it; here it must be the layer's own dtype (None: that
        dtype), since a model's layers pass one dtype along.
    logit_soft_cap : float, optional
        The reverse logits become ``c * tanh(logits / c)`` (Gemma's soft cap), within (-c, c).

    Shapes: lookup as ``Embedding``, ids (batch, ...) -> (batch, ..., output_dim); reverse
    (batch, ..., output_dim) -> (batch, ..., input_dim). In a functional Model:
    ``emb(h, reverse=True)`` on a tensor; the same layer used for the lookup and the reverse is
    trained by both, and the reverse call may make the model's output (Keras' language model,
    ``Model(ids, emb(h, reverse=True))``). ``mask_zero`` works for the lookup; a reverse call of
    a ``mask_zero`` layer in a drawn model is refused. Keras' quantization and LoRA
    (``lora_rank``, ``quantization_config``, ``quantize()``) are not built.

    Example
    -------
    >>> emb = ReversibleEmbedding(10, 4, seed=0)
    >>> h = emb(np.array([[1, 2, 3]]))
    >>> emb(h, reverse=True).shape
    (1, 3, 10)
    """

    call_arguments = ("reverse",)
    reverse = False         # this call's direction: set around a call (__call__, a drawn model's calls)

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Refused: LoRA is not built for this layer (its reverse product reads the table itself)."""
        raise ValueError(f"{self.describe()}: enable_lora is not supported on ReversibleEmbedding (Keras' LoRA "
                         f"is not built here); Embedding, Dense, EinsumDense and Conv1D/2D/3D take it")

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        for name in _NOT_BUILT:
            if kwargs.get(name) is not None:
                raise ValueError(f"ReversibleEmbedding: {name}={kwargs[name]!r:.40} is not supported (Keras' "
                                 f"quantization and LoRA are not built)")
            kwargs.pop(name, None)
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        self.tie_weights = check_flag(tie_weights, "ReversibleEmbedding: tie_weights")
        if reverse_dtype is not None:
            try:
                name = np.dtype(reverse_dtype).name
            except TypeError:
                name = None
            if name not in ("float32", "float64"):
                raise ValueError(f"ReversibleEmbedding: reverse_dtype must be None, 'float32' or 'float64', got "
                                 f"{reverse_dtype!r:.40}")
            reverse_dtype = name
        self.reverse_dtype = reverse_dtype
        if logit_soft_cap is not None and (isinstance(logit_soft_cap, (bool, np.bool_)) or not isinstance(
                logit_soft_cap, (int, float, np.integer, np.floating)) or not math.isfinite(logit_soft_cap)
                or logit_soft_cap <= 0):
            raise ValueError(f"ReversibleEmbedding: logit_soft_cap must be None or a positive number, got "
                             f"{logit_soft_cap!r:.40}")
        self.logit_soft_cap = None if logit_soft_cap is None else float(logit_soft_cap)

    # -- the input shape: ids for a lookup; vectors of any leading shape for a reverse call ---------
    @property
    def input_shape(self):
        """The ids' sample shape (declared, or the one it was built for); None during a reverse
        call, whose vectors only need ``output_dim`` last (so a declared ids shape is not theirs)."""
        return None if self.reverse else self.__dict__.get("_ids_shape")

    @input_shape.setter
    def input_shape(self, shape):
        if self.reverse and shape is not None:      # built by a reverse call: the ids such vectors come from
            if self.__dict__.get("_ids_shape") is not None:
                return              # the ids' shape declared (or of a lookup before) stays
            shape = tuple(shape)[:-1] or None       # vectors (output_dim,) say nothing of the ids' shape
        self.__dict__["_ids_shape"] = shape

    @property
    def discrete_input(self):
        return not self.reverse         # ids cannot be nudged; the reverse call's vectors can

    def check_input_shape(self, sample_shape):
        if self.reverse and (not sample_shape or sample_shape[-1] != self.output_dim):
            raise ValueError(f"{self.describe()}: reverse=True maps vectors of output_dim={self.output_dim} onto the "
                             f"vocabulary: expected samples (..., {self.output_dim}), got {tuple(sample_shape)}")
        # a lookup takes ids of any shape, as Keras' (the table fixes none of their axes)

    def check_input_values(self, x, name):
        if not self.reverse:
            super().check_input_values(x, name)

    def output_shape(self, input_shape):
        if self.reverse:
            return (*tuple(input_shape)[:-1], self.input_dim)
        return super().output_shape(input_shape)

    def build(self, input_shape):
        dtype = np.dtype(self.dtype or np.float32)
        if self.reverse_dtype is not None and np.dtype(self.reverse_dtype) != dtype:
            raise ValueError(f"{self.describe()}: reverse_dtype={self.reverse_dtype!r} differs from the layer's dtype "
                             f"{dtype.name}: the reverse product is computed in the layer's dtype here (give the "
                             f"layer dtype={self.reverse_dtype!r}, or reverse_dtype=None)")
        super().build(input_shape)
        if not self.tie_weights:
            self.add_weight("reverse_embeddings", (self.output_dim, self.input_dim), self.embeddings_initializer)

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, x, training=None, mask=None, reverse=False):
        """``emb(ids)``: the lookup; ``emb(x, reverse=True)``: the logits. On a symbolic tensor
        the call's tensor, its direction kept with it (the model runs each call so)."""
        reverse = check_flag(reverse, f"{self.describe()}: reverse")
        from .symbolic import call_symbolic, is_symbolic
        if is_symbolic(x):
            from .mask_argument import drawn_with_mask
            drawn_with_mask(self, x, mask)          # refuses a mask, as Keras' call takes none
            if reverse and self.mask_zero:
                raise NotImplementedError(f"{self.describe()}: a reverse call of a layer with mask_zero=True is not "
                                          f"supported in a drawn model (its lookup's mask would be planned for both "
                                          f"calls); use mask_zero=False")
            return call_symbolic(self, x, training, {"reverse": True} if reverse else None)
        with call_arguments_set(self, {"reverse": reverse}):
            return super().__call__(x, training=training, mask=mask)

    def _reverse_kernel(self):
        return self.params["embeddings"].T if self.tie_weights else self.params["reverse_embeddings"]

    def forward(self, x, training=False):
        """The lookup (``Embedding.forward``), or in a reverse call x (batch, ..., output_dim) ->
        logits (batch, ..., input_dim)."""
        self.reversed = self.reverse        # this call's direction, for its backward
        if not self.reversed:
            return super().forward(x, training)
        self.x = x
        xp = backend.get_array_module(x)
        logits = xp.matmul(x, self._reverse_kernel())
        if self.logit_soft_cap is None:
            self.capped = None
            return logits
        self.capped = xp.tanh(logits / self.logit_soft_cap)       # kept: the cap's derivative is 1 - tanh**2
        return self.capped * self.logit_soft_cap

    def backward(self, grad_output):
        if not self.reversed:
            grad = super().backward(grad_output)
            if not self.tie_weights:
                self.grads["reverse_embeddings"][...] = 0       # the lookup does not use it
            return grad
        g = grad_output if self.capped is None else grad_output * (1 - self.capped * self.capped)
        rows, flat = self.x.reshape(-1, self.output_dim), g.reshape(-1, self.input_dim)
        if self.tie_weights:
            self.grads["embeddings"][...] = flat.T @ rows            # (input_dim, output_dim): W's transpose
        else:
            self.grads["embeddings"][...] = 0                        # the reverse call does not use the table
            self.grads["reverse_embeddings"][...] = rows.T @ flat
        if not self.needs_input_gradient:
            return None
        return g @ self._reverse_kernel().T

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}
