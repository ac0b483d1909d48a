"""Keras' example programs ported to glassnet, round 3e (keras.io: the U-Net segmenter of Oxford
pets, the miniature GPT, named entity recognition with a transformer, ESPCN super-resolution):
what the ports met.

The miniature GPT compiles as ``model.compile("adam", loss=[loss_fn, None])``: Keras' optimizer by
position and the loss by keyword. On glassnet's ``compile(loss, optimizer)`` Python said only
"got multiple values for argument 'loss'"; it now says why, as the positional form already does."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _models():
    sequential = gn.Sequential([gn.Input((3,)), L.Dense(2)], seed=0)
    inputs = gn.Input((3,))
    functional = gn.Model(inputs, L.Dense(2)(inputs), seed=0)

    class Sub(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.head = L.Dense(2)

        def call(self, x):
            return self.head(x)

    return [sequential, functional, Sub(seed=0)]


@pytest.mark.parametrize("optimizer", ["adam", gn.optimizers.SGD(0.1)], ids=["name", "object"])
def test_keras_compile_with_the_optimizer_by_position_and_the_loss_by_keyword(optimizer):
    # refused by name while Keras' positional order was; taken as Keras' order since it is
    # (tests/test_review_smallsrev.py compares it with Keras 3.15)
    for model in _models():
        model.compile(optimizer, loss="mse")
        assert type(model.optimizer).__name__ == ("Adam" if isinstance(optimizer, str) else "SGD")
        model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
        with pytest.raises(TypeError, match=r"compile: got loss= and a positional argument, .*; compile takes "
                                            r"\(loss, optimizer\), Keras' compile \(optimizer, loss\): pass them "
                                            r"by keyword, compile\(loss=\.\.\., optimizer=\.\.\.\)"):
            model.compile("mae", loss="sparse_categorical_crossentropy")


def test_compile_keeps_its_signature_and_positional_form():
    import inspect
    for cls in (gn.Sequential, gn.Model):
        assert list(inspect.signature(cls.compile).parameters)[:3] == ["self", "loss", "optimizer"]
    model = _models()[0]
    model.compile("mse", "sgd")                                 # glassnet's own order, by position
    assert model.loss.name in ("mse", "mean_squared_error")
