"""Small gaps closed together, each against Keras 3.15: ``compile(loss=model.loss)`` on a model of
several outputs, wrappers (TimeDistributed, Bidirectional) around a layer whose call defaults to
``training=True``, the FFTs of a size-0 axis, and ``ops.arctan2``'s result dtype."""
import numpy as np
import pytest

import glassnet as gn


# -- 1. compile(loss=model.loss) ------------------------------------------------------------------

def _two_heads(lib, **kw):
    inputs = lib.Input((5,))
    h = lib.layers.Dense(6, activation="tanh", name="hidden", **kw)(inputs)
    cls = lib.layers.Dense(3, activation="softmax", name="cls", **kw)(h)
    reg = lib.layers.Dense(2, name="reg", **kw)(h)
    return inputs, [cls, reg]


def _pair(keras, outputs="list"):
    """A glassnet model of two outputs and Keras' of the same weights (one output: the first)."""
    def make(lib, **kw):
        inputs, heads = _two_heads(lib, **kw)
        heads = {"list": heads, "one": heads[0], "dict": {"cls": heads[0], "reg": heads[1]}}[outputs]
        return inputs, heads
    ours, theirs = gn.Model(*make(gn), seed=0), keras.Model(*make(keras))
    for layer in ours.layers:
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    return ours, theirs


@pytest.mark.parametrize("outputs, loss, weights", [
    ("list", ["sparse_categorical_crossentropy", "mse"], None),
    ("list", ["sparse_categorical_crossentropy", "mse"], [1.0, 0.3]),
    ("list", {"cls": "sparse_categorical_crossentropy", "reg": "mae"}, {"cls": 0.5, "reg": 2.0}),
    ("list", ["sparse_categorical_crossentropy", None], None),
    ("list", "mse", None),
    ("dict", {"cls": "sparse_categorical_crossentropy", "reg": "mse"}, {"cls": 2.0, "reg": 0.5}),
    ("one", "sparse_categorical_crossentropy", None),
    ("one", ["sparse_categorical_crossentropy"], 0.5),
])
def test_compiling_with_model_loss_trains_as_keras(keras, rng, outputs, loss, weights):
    ours, theirs = _pair(keras, outputs)
    x = rng.standard_normal((24, 5)).astype(np.float32)
    yc, yr = rng.integers(0, 3, 24), rng.standard_normal((24, 2)).astype(np.float32)
    if loss == "mse":
        yc = np.eye(3, dtype=np.float32)[yc]
    y = {"list": [yc, yr], "dict": {"cls": yc, "reg": yr}, "one": yc}[outputs]
    if isinstance(loss, list) and len(loss) == 2 and loss[1] is None:
        y = [yc]
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss=loss, loss_weights=weights)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, loss_weights=weights)
    # Keras' model.loss is what compile was given; glassnet's reads as it
    assert ours.loss == loss if outputs != "one" else True
    assert theirs.loss == loss
    # again with model.loss, and loss_weights as given (Keras' model.loss carries none)
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss=ours.loss, loss_weights=weights)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=theirs.loss, loss_weights=weights)
    mine = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    their = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    assert sorted(mine) == sorted(their)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for layer in ours.layers:
        for a, b in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_model_loss_reads_as_what_compile_was_given(keras):
    ours, theirs = _pair(keras)
    given = ["sparse_categorical_crossentropy", gn.losses.MeanSquaredError()]
    ours.compile(optimizer="sgd", loss=given, loss_weights=[1.0, 0.5])
    assert ours.loss == given and ours.loss != ["mse", "mse"] and len(ours.loss) == 2
    assert ours.loss[0] == "sparse_categorical_crossentropy" and ours.loss[1] is given[1]
    theirs.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    assert theirs.loss[0] == ours.loss[0] and len(theirs.loss) == len(ours.loss)
    ours.compile(optimizer="sgd", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"})
    assert ours.loss["reg"] == "mse" and ours.loss == {"cls": "sparse_categorical_crossentropy", "reg": "mse"}
    ours.compile(optimizer="sgd", loss="mse")
    assert ours.loss == "mse" and len(ours.loss) == 1
    with pytest.raises(TypeError, match="one loss for every output"):
        ours.loss[0]
    # a model's loss compiles another model of the same outputs
    other = gn.Model(*_two_heads(gn), seed=1)
    ours.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    other.compile(optimizer="sgd", loss=ours.loss)
    assert [head.loss.sparse for head in other._heads] == [True, False]
