"""Keras' ``keras.Function(inputs, outputs, name=None)``: a graph of symbolic tensors, from
``Input``s to outputs, that can be called on arrays, without being a model (no ``fit``, no
``weights`` of its own: it runs the layers it was drawn with, whose weights stay theirs).

Built on the functional graph code: it holds a ``glassnet.Model`` of the same tensors, flattened,
and calls it in inference mode (``training=False``). Inputs and outputs take any nesting of lists,
tuples and dicts, as Keras' (``{"p": [a, b], "q": c}``); calling it takes arrays in the inputs'
structure and gives NumPy arrays in the outputs' structure (a list of one output: a list of one
array, as Keras').

>>> import numpy as np, glassnet as gn
>>> x = gn.Input((3,))
>>> f = gn.Function(x, gn.ops.relu(x) * 2.0)
>>> f(np.array([[-1.0, 0.5, 2.0]], "float32"))
array([[0., 1., 4.]], dtype=float32)
"""
from . import tree
from .layers.symbolic import is_symbolic

__all__ = ["Function"]


def _flat(structure):
    # Keras' Function takes any nesting of lists, tuples and dicts (keras.tree's order)
    return tree.flatten(structure)


class Function:
    """``Function(inputs, outputs, name=None)``: see the module docstring.

    Attributes
    ----------
    name : str
    inputs, outputs : as given (one tensor, a list or a dict)
    operations : list
        The graph's nodes, Inputs first then the layers (op nodes included) in drawing order.
    """

    def __init__(self, inputs, outputs, name=None):
        from .layers.input import InputLayer
        for label, given, kind in (("inputs", inputs, InputLayer), ("outputs", outputs, None)):
            flat = _flat(given)
            bad = [t for t in flat if not (isinstance(t, kind) if kind else is_symbolic(t) or isinstance(t, InputLayer))]
            if not flat or bad:
                what = "Inputs (glassnet.Input)" if kind else "symbolic tensors (layer calls on Inputs)"
                got = type(bad[0]).__name__ if bad else "nothing"
                raise TypeError(f"Function: {label}: expected {what}, alone, in a list or in a dict, got {got}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Function: name: expected a string, got {type(name).__name__}")
        from .graph import Model
        self.name = name or "function"
        self.inputs, self.outputs = inputs, outputs
        # the Model of the flat lists: a Model takes no deeper nesting, and gives a list of one
        # output as its array alone, where Keras' Function keeps the outputs' structure
        # (each tensor once: Keras' outputs may repeat one, a Model's may not)
        flat = _flat(outputs)
        unique = list({id(t): t for t in flat}.values())
        self._places = [[id(t) for t in unique].index(id(t)) for t in flat]
        self._model = Model(_flat(inputs), unique, name=self.name)

    @property
    def operations(self):
        return [*_flat(self.inputs), *self._model.layers]

    def call(self, inputs):
        """The outputs for ``inputs`` (arrays in the form the Inputs were given), in inference mode."""
        flat = _flat(inputs)
        expected = len(_flat(self.inputs))
        if len(flat) != expected:
            raise ValueError(f"{self.name}: expected arrays in the structure of the Function's inputs "
                             f"({expected} in all), got {len(flat)}")
        outputs = self._model(flat, training=False)
        if len(self._model.outputs) == 1:
            outputs = [outputs]
        return tree.pack_sequence_as(self.outputs, [outputs[i] for i in self._places])

    def __call__(self, inputs):
        return self.call(inputs)

    def __repr__(self):
        return f"<Function name={self.name}, {len(_flat(self.inputs))} input(s), {len(_flat(self.outputs))} output(s)>"
