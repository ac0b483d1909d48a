"""Float64 central differences, the oracle the gradient tests of the tape and of drawn calls share."""
import numpy as np


def numeric(f, arrays, eps=1e-6):
    """d f() / d each array of ``arrays`` by central differences: each entry moved by +-eps in
    place (and put back), ``f()`` read as one number. Returns one gradient per array, of its shape."""
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            keep = array[i]
            array[i] = keep + eps
            up = float(f())
            array[i] = keep - eps
            down = float(f())
            array[i] = keep
            grad[i] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads
