"""Found by the regression differential of review regress41 (the session's start against today's tree)."""
import numpy as np

import glassnet as gn


def test_build_reads_a_numpy_shape_batch_axis_first_as_keras(keras):
    # build((8, 4)) now reads 8 as the batch axis, as Keras does; a NumPy array of the same sizes
    # (np.array(x.shape)) was still read as one sample's shape, silently building the model for
    # samples of shape (8, 4): Keras' standardize_shape makes a tuple of it
    shape = np.array([8, 4])
    ours = gn.Sequential([gn.layers.Dense(3)], seed=0)
    ours.build(shape)
    theirs = keras.Sequential([keras.layers.Dense(3)])
    theirs.build(shape)
    assert ours.input_shape == tuple(theirs.input_shape) == (8, 4)
    assert ours.output_shape == tuple(theirs.output_shape) == (8, 3)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert ours.predict(np.ones((5, 4), "float32"), verbose=0).shape == (5, 3)
