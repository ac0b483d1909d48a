"""Review of TimeDistributed(model) (rev38c): a functional outer model holding one rebuilt from its
config (save/load, clone_model, from_config, to_json); the inner model also called outside the
wrapper in the same model; an unbuilt call-block wrapped in a functional model."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def mlp(lib):
    inp = lib.Input((6,))
    h = lib.layers.Dense(8, activation="tanh")(inp)
    out = lib.layers.Dense(4)(lib.layers.Concatenate()([h, inp]))
    return gn.Model(inp, out) if lib is gn else lib.Model(inp, out)


def seq(lib):
    return lib.Sequential([lib.layers.Dense(5, activation="relu"), lib.layers.Dense(6)])


def functional(lib, inner):
    inp = lib.Input((4, 6))
    out = lib.layers.Dense(1)(lib.layers.GRU(3)(lib.layers.TimeDistributed(inner(lib))(inp)))
    return gn.Model(inp, out, seed=0) if lib is gn else lib.Model(inp, out)


@pytest.mark.parametrize("inner", [mlp, seq])
def test_functional_model_holding_td_model_rebuilds_from_its_config(tmp_path, inner):
    """A functional model drawn anew from a config calls the wrapper before building it: the wrapper
    of a model from a config refused it ('output shape is known once it is built'), so save/load,
    clone_model, from_config and model_from_json of any such functional model failed."""
    model = functional(gn, inner)
    x = np.random.default_rng(0).normal(size=(5, 4, 6)).astype("float32")
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, np.ones((5, 1), "float32"), epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    model.save(path)
    back = [gn.load_model(path), gn.models.clone_model(model), gn.Model.from_config(model.get_config()),
            gn.models.model_from_json(model.to_json())]
    for other in back[1:]:
        other.set_weights(model.get_weights())
    for other in back:
        assert [w.shape for w in other.get_weights()] == [w.shape for w in model.get_weights()]
        np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_functional_model_holding_td_model_from_config_matches_keras(keras):
    ours, theirs = functional(gn, mlp), functional(keras, mlp)
    ours = gn.Model.from_config(ours.get_config())
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(1).normal(size=(3, 4, 6)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("order", ["wrapped_first", "plain_first"])
@pytest.mark.parametrize("steps", [5, 1])
def test_inner_model_also_called_unwrapped_is_refused(keras, order, steps):
    """Keras shares the inner model's weights between TimeDistributed(m) and m(y) in one model (listed
    once). glassnet listed them twice and each call ran with the other's forward cache: backward
    crashed (matmul sizes) or, with one step, gave wrong gradients silently. Refused by name now."""
    def build(lib):
        inner = lib.Sequential([lib.layers.Dense(6, activation="tanh"), lib.layers.Dense(4)])
        sequence, one = lib.Input((steps, 3)), lib.Input((3,))
        if order == "wrapped_first":
            a = lib.layers.Flatten()(lib.layers.TimeDistributed(inner)(sequence))
            b = inner(one)
        else:
            b = inner(one)
            a = lib.layers.Flatten()(lib.layers.TimeDistributed(inner)(sequence))
        out = lib.layers.Dense(1)(lib.layers.Concatenate()([a, b]))
        return (gn.Model if lib is gn else lib.Model)([sequence, one], out)
    assert [w.shape for w in build(keras).get_weights()][:4] == [(3, 6), (6,), (6, 4), (4,)]
    assert len(build(keras).get_weights()) == 6        # shared: listed once
    with pytest.raises(ValueError, match="held by .*TimeDistributed.*called in this model too"):
        build(gn)


def test_unbuilt_block_in_functional_model_says_what_to_do():
    class Block(gn.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = L.Dense(6)

        def call(self, x):
            return self.dense(x) + x
    inp = gn.Input((4, 6))
    with pytest.raises(ValueError, match=r"not drawn yet.*model.build\(\(None, \*frame_shape\)\)"):
        L.TimeDistributed(Block())(inp)
    block = Block()
    block.build((None, 6))
    model = gn.Model(inp, L.GRU(3)(L.TimeDistributed(block)(inp)), seed=0)
    assert model.predict(np.ones((2, 4, 6), "float32"), verbose=0).shape == (2, 3)
