"""Weights that got no gradient in a step: the update leaves them, and their state, as they are.

Keras 3's optimizers drop a weight whose gradient is None before they step
(``BaseOptimizer._filter_empty_gradients``): no ``weight_decay``, no update of the weight or of its
state (SGD's momentum, Adam's moments), no constraint. glassnet steps a model's weights as one flat
buffer, in which such a weight (a block's call on a branch reaching no output, glassnet._dead_calls;
a None of ``tape.gradient`` given to ``apply_gradients``) has gradient 0, and a zero gradient is not
nothing: the decay shrinks the weight, a momentum carries it on, Adam's moments decay, Ftrl pulls
it to 0.

So the caller names those weights' runs in the flat buffers (``{key: [(start, stop), ...]}``, each
run whole weights) for the duration of the call (``ungraded``); the update copies them and their
state before it steps (``kept``) and writes the copies back after it (``put_back``), before the
moving average of ``use_ema`` reads them (Keras averages every weight, updated or not). A state
array first made by this very step holds what a zero gradient gave it: the rule's starting value
for every built-in rule but Adafactor's, whose factored moments take ``epsilon_1`` (1e-30).
"""
import contextlib


@contextlib.contextmanager
def ungraded(optimizer, spans):
    """While open, ``optimizer``'s updates leave the weights of ``spans`` (``{key: [(start, stop),
    ...]}`` in the flat arrays of the triples of that key) and their state as they are."""
    optimizer._ungraded = spans or None
    try:
        yield optimizer
    finally:
        optimizer._ungraded = None


def kept(optimizer, triples):
    """Copies of the ungraded runs of ``triples``' weights and of their state arrays, as
    ``[(array, [(start, stop, copy), ...]), ...]`` for ``put_back`` (nothing for a key without runs)."""
    copies = []
    for key, param, _ in triples:
        runs = optimizer._ungraded.get(key)
        if not runs:
            continue
        arrays = [(param, runs)]
        for name, slot in optimizer.slots.get(key, {}).items():
            slot_runs = optimizer._slot_runs(name, key, slot, param, runs)
            if slot_runs:
                arrays.append((slot, slot_runs))
        for array, array_runs in arrays:
            flat = array.reshape(-1)        # (the flat buffers and their state: contiguous, a view)
            copies.append((flat, [(start, stop, flat[start:stop].copy()) for start, stop in array_runs]))
    return copies


def put_back(copies):
    """Write back what ``kept`` copied."""
    for flat, runs in copies:
        for start, stop, copy in runs:
            flat[start:stop] = copy
