"""The node that makes a ``call`` branching on ``training`` run its pass's branch (glassnet._training_branch).

glassnet draws a block's ``call`` once on symbolic tensors. A ``call`` that tests its ``training``
argument (keras.io's stochastic depth, ``if training: ... keras.random.uniform(...)``) is drawn
twice instead, with ``training=True`` and ``training=False``, on the same layers (their weights
shared); each of its outputs is then a ``TrainingSwitch`` called on ``[the training draw's, the
inference draw's]``: fit, ``train_on_batch`` and ``model(x, training=True)`` give the first,
predict, evaluate and ``model(x)`` the second, as Keras runs ``call`` with its pass's flag.
"""
from .merging import _Merge


class TrainingSwitch(_Merge):
    """``inputs[0]`` in a training pass, ``inputs[1]`` in an inference pass (you rarely make one
    yourself: a drawn ``call`` branching on ``training`` does). No weights.

    Shapes: [(batch, *shape), (batch, *shape)] -> (batch, *shape). Backward hands the gradient to
    the input it gave and None to the other (nothing reached that branch: its calls get no gradient).
    In a model's pass the other input is None: the calls only it needs are not run
    (glassnet._switch_skips).

    >>> import numpy as np
    >>> TrainingSwitch()([np.ones((2, 3)), np.zeros((2, 3))], training=True)[0]
    array([1., 1., 1.], dtype=float32)
    """
    most_inputs = 2
    passes_unread_inputs = True     # backward's None for the branch not taken (callgraph._graph_backward)

    @staticmethod
    def unread_inputs(training):
        """The input a pass in ``training``'s mode does not read (glassnet._switch_skips)."""
        return (1,) if training else (0,)

    def forward(self, inputs, training=False):
        self._taken = 0 if training else 1
        if inputs[0] is None or inputs[1] is None:     # a model's pass skipped the other branch's calls
            if inputs[self._taken] is None:
                raise ValueError(f"{self.describe()}: forward got None for input {self._taken}, the one "
                                 f"{'a training' if training else 'an inference'} pass reads; expected an array")
            return inputs[self._taken]
        self._check_arrays(inputs)
        return inputs[self._taken]

    def backward(self, grad_output):
        grads = [None, None]
        grads[self._taken] = grad_output
        return grads
