"""The tape's refusal of NumPy functions on recorded values names the glassnet.ops function to use
when that function is recorded by its mark (``composed``: written with ops' functions, or control
flow; ``no_gradient``: computed on the plain values): it said "exists but the tape does not record
it" for every function marked in its own module (nansum, moveaxis, hypot, isin, ...)."""
import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("function, args", [
    (np.nansum, lambda out: (out,)), (np.moveaxis, lambda out: (out, 0, 1)), (np.hypot, lambda out: (out, out)),
    (np.isin, lambda out: (out, [1.0])), (np.copy, lambda out: (out,))])
def test_numpy_refusal_names_the_marked_ops_function_the_tape_records(function, args):
    layer = gn.layers.Dense(3)
    x = np.ones((2, 4), np.float32)
    layer(x)
    with gn.GradientTape():
        out = layer(x)
        with pytest.raises(TypeError, match=rf"use glassnet\.ops\.{function.__name__}, which the tape records"):
            function(*args(out))

