"""One training step laid bare: every intermediate of a forward and backward pass (seed 003).

``model.trace(X, y)`` runs the same forward and backward pass as training, without updating anything,
and keeps for each layer: its input, Z (the pre-activation), A (the output), dA = dL/dA, dZ = dL/dZ
and the parameter gradients. ``print(trace)`` shows them rounded like the tutorial's figures.

>>> trace = model.trace(X, y)                    # doctest: +SKIP
>>> trace.loss, trace[0]["dZ"], trace[0]["grads"]["bias"]   # doctest: +SKIP
"""
import numpy as np

from .layers.base import StateSnapshot, missing_input_gradient


class Trace(list):
    """A list with one dict per layer (keys: layer, input, Z, A, dA, dZ, grads) and ``.loss``."""

    def __init__(self, records, loss, decimals=3):
        super().__init__(records)
        self.loss, self.decimals = loss, decimals

    def __str__(self):
        smallest_shown = 10.0 ** -self.decimals

        def row(label, array):
            head = f"  {label:<8}"            # continuation lines align under the first
            array = np.asarray(array)
            # tiny entries beside big ones print as 0., as in the tutorial's figures; but an array
            # whose every entry is tiny (the gradients deep in a network) keeps them, in e-notation,
            # rather than look like zeros
            tiny = array.size > 0 and float(np.max(np.abs(array))) < smallest_shown
            return head + np.array2string(array, precision=self.decimals, suppress_small=not tiny,
                                          floatmode="maxprec", separator=", ", prefix=head)
        lines = []
        for record in self:
            lines.append(f"== {record['layer']}")
            lines += [row(key, record[key]) for key in ("input", "Z", "A", "dA", "dZ")
                      if record.get(key) is not None]
            lines += [row("d" + name, grad) for name, grad in record["grads"].items()]
        tiny_loss = 0 < abs(self.loss) < smallest_shown
        lines.append(f"loss {self.loss:.{self.decimals}{'e' if tiny_loss else 'f'}}")
        return "\n".join(lines)


def trace(model, x, y):
    """Forward and backward through ``model`` on (x, y) without an update; see the module docstring.
    Training-mode side effects are undone: BatchNormalization's moving statistics and Dropout's
    generators are as they were, so a later ``fit`` runs exactly as it would have without the trace."""
    model._require_compiled("trace")
    x, y = model._prepare_xy(x, y)
    snapshot = StateSnapshot(model.layers)
    try:
        return _trace(model, x, y)
    finally:
        snapshot.restore()


def _trace(model, x, y):
    records, out = [], x
    for layer in model.layers:
        inputs = out
        out = layer.forward(inputs, training=True)
        records.append({"layer": layer.describe(), "input": inputs.copy(),
                        "Z": _copy(getattr(layer, "z", None)), "A": out.copy()})
    loss = model._loss_from_output(out, y)
    # dA of the output is the loss's own derivative, even where training fuses it into dZ
    grad = model.loss.gradient(out, y)
    last = model.layers[-1]
    for i in range(len(model.layers) - 1, -1, -1):
        layer, record = model.layers[i], records[i]
        record["dA"] = grad.copy()
        if layer is last and model._fused:
            grad = layer.backward_from_logits(model.loss.gradient_from_logits(out, y))
        else:
            grad = layer.backward(grad)
        record["dZ"] = _copy(getattr(layer, "grad_z", None))     # Dense and Activation keep dL/dZ
        record["grads"] = {name: g.copy() for name, g in layer.grads.items()}
        if grad is None:                 # the first layer skips its unused input gradient
            if i > 0:
                raise missing_input_gradient(layer)
            break
    return Trace(records, loss)


def _copy(array):
    return None if array is None else np.array(array, copy=True)
