"""LoRA (low-rank adaptation), as Keras 3.15's ``Dense``, ``EinsumDense``, ``Embedding`` and
convolutions have it: ``layer.enable_lora(rank)`` freezes the layer's kernel ``W0`` and trains two
small matrices instead, ``A`` (the kernel's shape but its last axis: ``rank``) and ``B`` (``rank``,
the kernel's last axis), through the effective kernel

    W = W0 + (lora_alpha / rank) * A @ B        (A @ B over the last two axes of A)

``B`` starts at zeros, so a layer computes as before until training moves it.

How it is wired, so that a layer without LoRA runs exactly the code it ran before: ``enable_lora``
gives the one layer (not its class) its own ``forward`` and backward method, bound methods of a
``LoraAdapter`` held as ``layer._lora``. They compute ``W`` and run the class's own forward and
backward with ``W`` in place of the kernel, for one call (``params``/``grads`` swapped for dicts
holding ``W`` and its gradient), then turn dL/dW into the gradients of ``A`` and ``B``:

    dA = s * dW @ B.T           dB = s * A.T @ dW          (s = lora_alpha / rank; W, A flattened
                                                            to (-1, last axis), (-1, rank))

The frozen ``W0`` moves from ``params`` (trained) to ``state`` (kept, saved, never trained), and
``A``, ``B`` are trained parameters carrying the kernel's regularizer, as in Keras. A model holding
the layer lays its trained weights out anew at once (its optimizer state starts again, as when a
layer is frozen between fits).
"""
import contextlib

import numpy as np

from .. import backend, initializers


class LoraTarget:
    """What a layer that can take LoRA adds to its class: ``enable_lora`` and the flags Keras gives
    (``lora_enabled``, ``lora_rank``, ``lora_alpha``). Not a layer itself (a mixin before ``Layer``)."""

    _lora_key = "kernel"            # the weight LoRA adapts (Embedding's: "embeddings")
    _lora_rows = False              # a table looked up by rows (Embedding): RowsLoraAdapter
    lora_enabled = False
    lora_rank = lora_alpha = None       # (on the class too: a layer pickled before LoRA lacks them)

    def _lora_settings(self, lora_rank, lora_alpha):
        """Keep the constructor's ``lora_rank``/``lora_alpha`` (checked): ``build`` enables LoRA with them."""
        name = type(self).__name__
        if lora_rank is not None:
            lora_rank = _positive_int(lora_rank, f"{name}: lora_rank")
        if lora_alpha is not None:
            if lora_rank is None:
                raise ValueError(f"{name}: lora_alpha={lora_alpha!r:.40} was given without lora_rank; give both, "
                                 f"or neither")
            lora_alpha = _positive_number(lora_alpha, f"{name}: lora_alpha")
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank

    def _build_lora(self):
        """End of ``build``: LoRA from the constructor's ``lora_rank`` (Keras' ``build``)."""
        if self.lora_rank and not self.lora_enabled:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    def _lora_config(self):
        """``get_config``'s entries: Keras' ``lora_rank`` and ``lora_alpha``, only when set."""
        return {"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha} if self.lora_rank else {}

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Freeze the kernel and train a low-rank update of it instead (Keras' ``enable_lora``).

        Parameters
        ----------
        rank : int
            The inner size of ``A @ B``: ``A`` has the kernel's shape with ``rank`` for its last
            axis (Dense: (in, rank)), ``B`` is (rank, the kernel's last axis).
        lora_alpha : number, optional
            The update is scaled by ``lora_alpha / rank``; default ``rank`` (a scale of 1).
        a_initializer, b_initializer : initializer names or objects
            Keras' defaults: ``"he_uniform"`` for ``A`` and ``"zeros"`` for ``B`` (so the layer
            computes as before until trained); drawn from the layer's seeded generator.

        Refused (ValueError, Keras' refusals) on a layer not built yet, a second time, and on a
        layer with a kernel constraint. Example::

            model.layers[0].enable_lora(4)      # then compile and fit: only A, B and the bias train
        """
        key = self._lora_key
        constraint = getattr(self, f"{key}_constraint", None)
        where = f"{self.describe()}: enable_lora"
        if constraint is not None:
            raise ValueError(f"{where}: LoRA is incompatible with a {key} constraint ({key}_constraint="
                             f"{constraint!r:.60}), as in Keras: make the layer without it")
        if not self.built:
            raise ValueError(f"{where}: cannot enable LoRA on a layer that isn't built yet (as Keras says): "
                             f"build it first (layer.build(input_shape), or call it on data), or give the "
                             f"constructor lora_rank=")
        if self.lora_enabled:
            raise ValueError(f"{where}: LoRA is already enabled (rank {self.lora_rank}); it can be enabled "
                             f"only once per layer, as in Keras")
        if getattr(self, "quantization_mode", None) is not None:
            # (Keras 3.15 takes int8/int4 with LoRA; glassnet's quantize refuses the other order too)
            raise NotImplementedError(f"{where}: LoRA on a quantized layer ({self.quantization_mode}) is not built in "
                                      f"glassnet: enable LoRA on the float layer, or quantize after training")
        if type(self.params) is not dict or key not in self.params:
            # a wrapper's layer: its weights are the wrapper's (TimeDistributed's: its params a view of the
            # wrapper's; while the wrapper builds it, they go to the wrapper)
            raise ValueError(f"{where}: LoRA on a layer inside a wrapper (TimeDistributed, a Wrapper of yours) is "
                             f"not supported: its weights are the wrapper's; enable it on a layer of the model")
        rank = _positive_int(rank, f"{where}: rank")
        alpha = rank if lora_alpha is None else _positive_number(lora_alpha, f"{where}: lora_alpha")
        a_init = initializers.get(a_initializer, f"{where}: a_initializer")
        b_init = initializers.get(b_initializer, f"{where}: b_initializer")
        (RowsLoraAdapter if self._lora_rows else LoraAdapter)(self, key, rank, alpha, a_init, b_init)


def _positive_int(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what}: expected a positive integer, got {value!r:.40}")
    return int(value)


def _positive_number(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{what}: expected a positive number, got {value!r:.40}")
    return value


class LoraAdapter:
    """The LoRA of one layer (``layer._lora``): makes ``A`` and ``B``, freezes the kernel, and
    replaces the layer's forward and backward (see the module's docstring).

    Shapes: kernel ``W0`` (..., out); ``A`` (..., rank); ``B`` (rank, out)."""

    def __init__(self, layer, key, rank, alpha, a_initializer, b_initializer):
        self.layer, self.key, self.scale = layer, key, alpha / rank
        self.a_key, self.b_key = f"lora_{key}_a", f"lora_{key}_b"
        kernel = layer.params[key]
        regularizer = layer.regularizers.get(key)
        # A and B made first (enable_lora checked their initializers): the kernel's regularizer goes
        # to them, and leaves the kernel (Keras penalises trained weights only)
        layer.add_weight(self.a_key, (*kernel.shape[:-1], rank), a_initializer, regularizer)
        layer.add_weight(self.b_key, (rank, kernel.shape[-1]), b_initializer, regularizer)
        layer.regularizers = {k: v for k, v in layer.regularizers.items() if k != key}
        # the kernel becomes state: a copy, since inside a model it is a view of the flat buffer of
        # trained weights, which the model lays out anew without it (_relayout_models_of)
        params = {k: v for k, v in layer.params.items() if k != key}
        layer.params = params
        layer.grads = {k: v for k, v in layer.grads.items() if k != key}
        layer.state = {key: backend.get_array_module(kernel).array(kernel), **(getattr(layer, "state", None) or {})}
        self.order = [key, *(k for k in params if k not in (self.a_key, self.b_key)), self.a_key, self.b_key]
        self._kernel = self._kernel_grad = None
        # the layer's own methods now: the class's run with the effective kernel
        cls = type(layer)
        self._forward = cls.forward
        self._backward_name = "backward_from_logits" if hasattr(cls, "backward_from_logits") else "backward"
        self._backward = getattr(cls, self._backward_name)
        layer._lora = self
        layer.forward = self.forward
        setattr(layer, self._backward_name, self.backward)
        layer._weight_items = self.weight_items
        layer.lora_enabled, layer.lora_rank, layer.lora_alpha = True, rank, alpha
        from ..variables import WeightVariable
        setattr(layer, self.a_key, WeightVariable(layer, self.a_key))
        setattr(layer, self.b_key, WeightVariable(layer, self.b_key))
        _relayout_models_of(layer)

    def merged(self):
        """The effective kernel ``W0 + scale * A @ B``, a new array of the kernel's shape."""
        layer = self.layer
        w0, a, b = layer.state[self.key], layer.params[self.a_key], layer.params[self.b_key]
        delta = a.reshape(-1, a.shape[-1]) @ b
        delta *= self.scale
        return w0 + delta.reshape(w0.shape)

    def weight_items(self):
        """Keras' order: the kernel, the layer's other weights (the bias), then ``A`` and ``B``."""
        layer = self.layer
        return [(k, layer.params[k] if k in layer.params else layer.state[k]) for k in self.order]

    def forward(self, x, training=False):
        layer = self.layer
        self._kernel = kernel = self.merged()
        params = layer.params
        layer.params = {**params, self.key: kernel}
        try:
            return self._forward(layer, x, training)
        finally:
            layer.params = params

    def backward(self, grad):
        layer = self.layer
        kernel = self._kernel
        if self._kernel_grad is None or self._kernel_grad.shape != kernel.shape or \
                self._kernel_grad.dtype != kernel.dtype:
            self._kernel_grad = backend.get_array_module(kernel).zeros_like(kernel)
        params, grads = layer.params, layer.grads
        layer.params, layer.grads = {**params, self.key: kernel}, {**grads, self.key: self._kernel_grad}
        try:
            grad_input = self._backward(layer, grad)
        finally:
            layer.params, layer.grads = params, grads
        a, b = params[self.a_key], params[self.b_key]
        dw = self._kernel_grad.reshape(-1, b.shape[-1])
        grads[self.a_key][...] = (self.scale * (dw @ b.T)).reshape(a.shape)
        grads[self.b_key][...] = self.scale * (a.reshape(-1, a.shape[-1]).T @ dw)
        return grad_input

    # -- Keras' files: the kernel merged, no A or B (Keras' save_own_variables) --------------------
    def keras_weights(self):
        """What Keras 3.15 writes for the layer: the merged kernel, then its other weights."""
        merged = backend.to_numpy(self.merged())
        return [merged, *(backend.to_numpy(a).copy() for k, a in self.weight_items()[1:-2])]

    def set_keras_weights(self, arrays):
        """Read what ``keras_weights`` lists: the kernel becomes the frozen one and ``A``, ``B`` are
        zeroed, as Keras' ``load_own_variables`` does (so they train no more: both zero, each gets a
        zero gradient)."""
        layer = self.layer
        own = [(k, a) for k, a in self.weight_items()[:-2]]
        from .base import _assign
        _assign(own, arrays, f"{layer.describe()}: Keras weights")
        layer.params[self.a_key][...] = 0
        layer.params[self.b_key][...] = 0


class RowsLoraAdapter(LoraAdapter):
    """The LoRA of a table looked up by rows (Embedding): only the rows the indices ``i`` pick,
    never the whole merged table, so a large vocabulary costs what its batch reads::

        out = W0[i] + s * A[i] @ B        dB = s * A[i].T @ g        dA[r] = s * sum over i == r of g @ B.T

    with ``g`` the output gradient (positions, out). The values equal the merged table's rows
    (``LoraAdapter``) up to rounding; W0 gets no gradient (frozen), the indices none (categories)."""

    def __init__(self, layer, key, rank, alpha, a_initializer, b_initializer):
        super().__init__(layer, key, rank, alpha, a_initializer, b_initializer)
        from .embedding import sum_rows
        self._sum_rows, self._rows_a = sum_rows, None

    def forward(self, x, training=False):
        layer = self.layer
        params = layer.params
        # the class's own forward over the frozen table: W0's rows, the mask and the kept indices
        layer.params = {**params, self.key: layer.state[self.key]}
        try:
            out = self._forward(layer, x, training)
        finally:
            layer.params = params
        xp = backend.get_array_module(out)
        self._rows_a = rows_a = xp.take(params[self.a_key], layer.indices, axis=0)     # (..., rank)
        delta = rows_a @ params[self.b_key]
        delta *= self.scale
        out += delta
        return out

    def backward(self, grad):
        layer = self.layer
        a, b = layer.params[self.a_key], layer.params[self.b_key]
        rows = grad.reshape(-1, b.shape[-1])
        layer.grads[self.b_key][...] = self.scale * (self._rows_a.reshape(-1, a.shape[-1]).T @ rows)
        d_rows = rows @ b.T
        d_rows *= self.scale
        self._sum_rows(layer.grads[self.a_key], layer.indices.reshape(-1), d_rows)
        if not layer.needs_input_gradient:
            return None
        return backend.get_array_module(grad).zeros(layer.x.shape, dtype=grad.dtype)


def _relayout_models_of(layer):
    """Every model laying out ``layer``'s trained weights lays them out anew now (its optimizer
    state starts again, as for a layer frozen): their flat buffers held the kernel, which is no
    longer trained, and not A or B; reading ``model.trainable_weights`` or stepping before the next
    ``fit`` would otherwise find the old layout."""
    from .. import _tape_state
    for model in list(_tape_state.OWNERS.values()):
        if any(held is layer for held, *_ in getattr(model, "_views", ())):
            model._apply_trainable_flags()


def keras_weights(layer):
    """The weights Keras 3.15's file holds for ``layer``: its ``get_weights()``, or with LoRA the
    merged kernel and the bias (glassnet._keras_h5 writes and reads these)."""
    lora = layer.__dict__.get("_lora")
    return layer.get_weights() if lora is None else lora.keras_weights()


def set_keras_weights(layer, arrays):
    """Set what ``keras_weights`` lists (``layer.set_weights`` without LoRA)."""
    lora = layer.__dict__.get("_lora")
    if lora is None:
        layer.set_weights(arrays)
    else:
        lora.set_keras_weights(arrays)


_MERGED = []        # the MergedKernel class, made on first use (glassnet.variables is imported lazily)


def _merged_class():
    if not _MERGED:
        from ..variables import WeightVariable

        class MergedKernel(WeightVariable):
            """Keras' ``kernel`` of a layer with LoRA: read-only, computed at every use."""

            def _live(self):
                return self._layer._lora.merged()

            @property
            def trainable(self):
                return False

            def assign(self, value):
                lora = self._layer._lora
                raise TypeError(f"{self.path}: with LoRA on, {lora.key} is the merged W0 + (lora_alpha / rank) * "
                                f"A @ B, which cannot be assigned (Keras' is a tensor too): assign {lora.a_key} "
                                f"or {lora.b_key}, or set the frozen {lora.key} with set_weights")
        MergedKernel.__qualname__ = "MergedKernel"
        _MERGED.append(MergedKernel)
    return _MERGED[0]


def merged_attribute(layer, name):
    """Keras' ``layer.kernel`` (``embedding.embeddings``) with LoRA on: the effective kernel
    ``W0 + scale * A @ B``, computed at every read, not assignable (Keras' is a tensor too); None
    where ``name`` is not the weight LoRA adapts (the caller then reads it as usual)."""
    lora = layer.__dict__.get("_lora")
    if lora is None or name != lora.key:
        return None
    return _merged_class()(layer, name)


@contextlib.contextmanager
def merged_kernel(layer):
    """Within it, ``layer.params`` holds the merged kernel under the kernel's name when LoRA is on
    (nothing changes otherwise): for code that reads a layer's weights to write them elsewhere
    (glassnet's ONNX export), which then writes what the layer computes with."""
    lora = layer.__dict__.get("_lora")
    if lora is None:
        yield layer
        return
    params = layer.params
    layer.params = {**params, lora.key: lora.merged()}
    try:
        yield layer
    finally:
        layer.params = params
