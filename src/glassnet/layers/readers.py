"""Layers that read another call's values in a functional Model: ``LastState``, ``AttentionScores``.

Keras returns several tensors from some calls: a recurrent layer's output and its last states
(``return_state=True``), an attention layer's output and its weights (``return_attention_scores``).
A call in glassnet's graph has one output, so each extra tensor is a call of its own: a layer
without weights, called on the first call's output, that reads what that call kept (``CallReader``).
Its forward gives those values; its backward hands their gradient to the layer that made them,
whose own backward then adds it where the values came from, and sends nothing back along the
output it read (a gradient of zeros). Such layers are listed in ``model.layers`` and ``summary``,
and their values are there to inspect in ``trace``.
"""
from .. import backend
from .base import LAYERS, Layer


class CallReader(Layer):
    """What LastState and AttentionScores share: bound, when a model is drawn, to the call whose
    output it is called on (``bind_call``, by subclass: ``_bound`` holds that call's layer, in a
    tuple rather than as an attribute whose weights a model would look for), it gives what that
    layer kept (``_values``) and hands their gradient back (``_hand_back``)."""
    graph_only = True           # refused in a Sequential: it reads a layer's call, not its input
    reads = "the values of a layer's call"          # for messages, by subclass
    returns = "them"                                # what the source layer returns, for messages

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._bound = ()

    @property
    def source(self):
        """The layer whose call this one reads (None until a model binds it)."""
        return self._bound[0] if self._bound else None

    def bind_call(self, parent):
        """Read the call that made ``parent``, a symbolic tensor (by subclass)."""
        raise NotImplementedError

    def check_input_shape(self, sample_shape):
        pass                    # it reads the source's output, whose shapes that layer checks

    def _has_values(self, source):
        raise NotImplementedError

    def _values(self, source):
        raise NotImplementedError

    def _hand_back(self, source, grad_output):
        raise NotImplementedError

    def forward(self, x, training=False):
        source = self.source
        if source is None or not self._has_values(source):
            raise ValueError(f"{self.describe()}: reads {self.reads} in a model; used alone it has none")
        self.shape_read = x.shape
        return self._values(source).copy()

    def backward(self, grad_output):
        self._hand_back(self.source, grad_output)
        return backend.get_array_module(grad_output).zeros(self.shape_read, dtype=grad_output.dtype)


del LAYERS["CallReader"]        # a shared base, not a layer that configs may name
