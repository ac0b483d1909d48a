"""A layer run on one step of a sequence at a time, as Keras 3.15's ``TimeDistributed`` runs the
layer it wraps (a Python loop over the steps, ``layer.call(inputs[i])``).

For most layers that is the layer on the ``batch * steps`` rows at once, which TimeDistributed
computes instead. Not for ``BatchNormalization`` in training: run step by step, each step is
normalised by its own batch's mean and variance (over the batch only, per step and feature), and
the moving statistics take one update per step, in the steps' order (``moving = moving *
momentum + mean_t * (1 - momentum)`` for t = 0, 1, ...), which Keras 3.15 does (measured).

A layer that needs it names, in ``_step_cache``, the attributes its forward leaves for its
backward; they are kept per step here and put back before each step's backward.
"""
from .. import backend


def forward_by_step(layer, x, training):
    """``layer.forward`` on each step of ``x`` (batch, steps, *sample) in turn: the output (batch,
    steps, *layer's output), and what each step left for its backward (``backward_by_step``)."""
    outputs, caches = [], []
    for step in range(x.shape[1]):
        outputs.append(layer.forward(x[:, step], training))
        caches.append({name: layer.__dict__.get(name) for name in layer._step_cache})
    return backend.get_array_module(x).stack(outputs, axis=1), caches


def backward_by_step(layer, grad_output, caches):
    """dL/dx (batch, steps, *sample), or None, from ``grad_output`` (batch, steps, *output): each
    step's backward from its own forward's values; the layer's weight gradients summed over the
    steps (its backward writes one step's)."""
    xp = backend.get_array_module(grad_output)
    totals = {name: xp.zeros_like(grad) for name, grad in layer.grads.items()}
    inputs = []
    for step, cache in enumerate(caches):
        layer.__dict__.update(cache)
        inputs.append(layer.backward(xp.ascontiguousarray(grad_output[:, step])))
        for name, total in totals.items():
            total += layer.grads[name]
    for name, total in totals.items():
        layer.grads[name][...] = total
    return None if inputs[0] is None else xp.stack(inputs, axis=1)
