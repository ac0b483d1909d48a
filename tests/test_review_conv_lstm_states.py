"""Review of ConvLSTM's states: the initial states are checked against the frames of the call
(the layer runs on frames of any size with its channels), as a model drawn checks them."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def test_initial_state_follows_the_frames_of_the_call():
    layer = L.ConvLSTM2D(2, 3, padding="same", seed=0)
    layer(np.ones((2, 3, 8, 8, 1)))                     # built on 8 x 8 frames
    assert layer(np.ones((2, 3, 6, 6, 1))).shape == (2, 6, 6, 2)    # runs on 6 x 6 ones
    start = [np.full((2, 6, 6, 2), 0.5)] * 2
    out = layer(np.ones((2, 3, 6, 6, 1)), initial_state=start)
    assert out.shape == (2, 6, 6, 2)
    assert not np.allclose(out, layer(np.ones((2, 3, 6, 6, 1))))


def test_a_shared_layer_takes_the_states_its_drawing_accepted():
    """The model is drawn (call_symbolic checks the 6 x 6 states against the 6 x 6 frames), so
    predict must not refuse them against the first call's 8 x 8 frames."""
    a, b = gn.Input((3, 8, 8, 1)), gn.Input((3, 6, 6, 1))
    h, c = gn.Input((6, 6, 2)), gn.Input((6, 6, 2))
    shared = L.ConvLSTM2D(2, 3, padding="same")
    model = gn.Model([a, b, h, c], [L.Flatten()(shared(a)), L.Flatten()(shared(b, initial_state=[h, c]))], seed=0)
    out = model.predict([np.ones((2, 3, 8, 8, 1)), np.ones((2, 3, 6, 6, 1)), np.zeros((2, 6, 6, 2)),
                         np.zeros((2, 6, 6, 2))])
    assert [o.shape for o in out] == [(2, 128), (2, 72)]


def test_a_stateful_layer_on_frames_of_another_size_says_why():
    layer = L.ConvLSTM2D(2, 3, padding="same", stateful=True, seed=0)
    layer(np.ones((2, 3, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"ConvLSTM2D.*stateful=True.*\(2, 8, 8, 2\).*reset_state"):
        layer(np.ones((2, 3, 6, 6, 1)))


def test_the_state_shape_error_names_the_state_shape_not_units():
    layer = L.ConvLSTM2D(2, 3, padding="same", seed=0)
    layer(np.ones((2, 3, 5, 5, 1)))
    with pytest.raises(ValueError) as info:
        layer(np.ones((2, 3, 5, 5, 1)), initial_state=[np.zeros((2, 5, 5, 3))] * 2)
    assert "units" not in str(info.value) and "(2, 5, 5, 2)" in str(info.value)
