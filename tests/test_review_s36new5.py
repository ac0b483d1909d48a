"""Review s36new5: every route by which a subclass' call, drawn once, reaches a layer with weights
on a constant array is refused by name (it would compute once, at the draw, and its weights would
neither train nor be the model's: Keras runs call on every batch); the refusal is this thread's
draw only, so another thread's eager calls are never refused."""
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


def _subclass(held, use):
    """A subclass of Model holding ``held`` (made when it is) and a Dense, whose call adds
    ``use(held)`` (a constant computed by ``held``, shape (1, 4)) to the Dense's output."""
    class Block(gn.Model):
        def __init__(self):
            super().__init__()
            self.held = held()
            self.dense = L.Dense(4)

        def call(self, x):
            return self.dense(x) + use(self.held)
    return Block()


class _Inner(gn.Model):
    def __init__(self):
        super().__init__()
        self.dense = L.Dense(4)

    def call(self, x):
        return self.dense(x)


CONSTANT = np.ones((1, 3), "float32")
ROUTES = {
    # an attention layer takes a list: Layer._call_on_list, past Layer.__call__'s check
    "attention": (lambda: L.MultiHeadAttention(num_heads=2, key_dim=2),
                  lambda mha: ops.sum(mha(np.ones((1, 3, 4), "float32"), np.ones((1, 3, 4), "float32")), axis=1)),
    "sequential": (lambda: gn.Sequential([L.Dense(4)]), lambda seq: seq(CONSTANT)),
    "functional": (lambda: (lambda i: gn.Model(i, L.Dense(4)(i)))(gn.Input((3,))), lambda model: model(CONSTANT)),
    "nested subclass": (_Inner, lambda inner: inner(CONSTANT)),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_weights_reached_on_a_constant_in_a_drawn_call_are_refused(route):
    # each computed the constant once, silently: the model had 2 weights (its Dense's), the held
    # layer's were neither trained nor listed
    model = _subclass(*ROUTES[route])
    with pytest.raises(TypeError, match=r"called on (a )?constant arrays? .* while Block\.call is drawn"):
        model(np.ones((2, 5), "float32"))


@pytest.mark.parametrize("held", ["attention", "sequential"])
def test_without_weights_the_constant_is_still_computed(held):
    # Keras computes the same constant on every batch: nothing to train, nothing lost
    make = {"attention": lambda: L.Attention(), "sequential": lambda: gn.Sequential([L.Activation("relu")])}[held]
    use = {"attention": lambda att: ops.sum(att([np.ones((1, 3, 4), "float32")] * 2), axis=1),
           "sequential": lambda seq: seq(np.ones((1, 4), "float32"))}[held]
    model = _subclass(make, use)
    assert model(np.ones((2, 5), "float32")).shape == (2, 4)
    assert len(model.get_weights()) == 2


def test_eager_models_outside_a_draw_are_not_refused():
    seq, inner = gn.Sequential([L.Dense(4)]), _Inner()
    assert seq(CONSTANT).shape == (1, 4) and inner(CONSTANT).shape == (1, 4)
    assert inner.predict(CONSTANT, verbose=0).shape == (1, 4)


def test_another_threads_draw_refuses_nothing_here():
    # the draw in progress was one list for the whole process: a layer called on an array in one
    # thread while another thread drew a subclass' call was refused as if inside that call
    entered, release, errors = threading.Event(), threading.Event(), []

    class Slow(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            entered.set()
            release.wait(10)
            return self.dense(x)

    def draw():
        try:
            Slow().build((None, 3))
        except Exception as exc:        # (reported below, in the main thread)
            errors.append(exc)
    thread = threading.Thread(target=draw)
    thread.start()
    try:
        assert entered.wait(10)
        assert L.Dense(2)(CONSTANT).shape == (1, 2)
        assert gn.Sequential([L.Dense(2)])(CONSTANT).shape == (1, 2)
    finally:
        release.set()
        thread.join(10)
    assert not errors
