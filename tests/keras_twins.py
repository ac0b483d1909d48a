"""The same network drawn in glassnet and in Keras 3, for the oracle tests of functional models:
drawn by one ``build(lib)`` function for both libraries, Keras' weights set to glassnet's layer by
layer name, and trained side by side on the same batches."""
import numpy as np

import glassnet as gn


def xyw(rng, n=24):
    """``(x, y, w)`` float32 of n samples: x (n, 3), y (n, 2), weights (n,) in [0.2, 2] (the data
    of the Sequential list, dict and dict-output forms' tests)."""
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.standard_normal((n, 2)).astype(np.float32)
    w = rng.uniform(0.2, 2, n).astype(np.float32)
    return x, y, w


def assert_same_logs(mine, their, rtol=2e-5, atol=0):
    """Two dicts of logs (``evaluate(return_dict=True)``, a history) with the same keys and values."""
    assert sorted(mine) == sorted(their)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=rtol, atol=atol, err_msg=key)


def copy_weights(ours, theirs):
    """Each of ``ours``' layers with weights gives them to ``theirs``' layer of the same name."""
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())


def twins(build, keras, **kwargs):
    """``build(lib)`` -> (inputs, outputs), made in glassnet (seed 0, ``kwargs``) and in Keras,
    Keras' weights set to ours."""
    ours, theirs = gn.Model(*build(gn), seed=0, **kwargs), keras.Model(*build(keras))
    copy_weights(ours, theirs)
    return ours, theirs


def train_both(ours, theirs, x, y, loss, learning_rate, batch_size, epochs=3):
    """Both compiled with ``loss`` and plain SGD, trained on the same batches in order: the two
    loss histories."""
    import keras
    ours.compile(loss=loss, optimizer=gn.optimizers.SGD(learning_rate))
    theirs.compile(loss=loss, optimizer=keras.optimizers.SGD(learning_rate))
    mine = ours.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0).history["loss"]
    return mine, their
