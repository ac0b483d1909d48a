"""Review of glassnet._nested_build: a model nested before it was built waits for its outer model."""
import threading

import glassnet as gn

L = gn.layers


class Gate(L.Layer):
    """Passes its input on; its build waits for ``release`` (set by the test), so that the model
    building it stays midway through its build, its earlier layers built."""

    def __init__(self, started, release, **kwargs):
        super().__init__(**kwargs)
        self._started, self._release = started, release

    def build(self, input_shape):
        self._started.set()
        assert self._release.wait(60)
        super().build(input_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output

    def output_shape(self, input_shape):
        return input_shape


def test_a_model_built_in_another_thread_does_not_build_a_model_nested_in_one_still_building():
    # the outer Sequential builds in a thread and stops midway (the nested model's layers built,
    # its own draw of them not made yet); meanwhile this thread builds an unrelated model, whose
    # build used to build the nested one then: its draw became its layers' first calls, and the
    # outer model's feature extractor (Model(seq.inputs, seq.get_layer(name).output)) failed
    started, release = threading.Event(), threading.Event()
    enc = gn.Sequential([L.Dense(3, name="d1")])
    outer = gn.Sequential([L.Dense(4), enc, Gate(started, release), L.Dense(1)], seed=0)
    thread = threading.Thread(target=outer.build, args=((4,),))
    thread.start()
    try:
        assert started.wait(60)
        gn.Sequential([gn.Input((2,)), L.Dense(1)], seed=1)
        assert not enc.built            # its outer model has not finished building: it waits for it
    finally:
        release.set()
        thread.join()
    assert outer.built and enc.built and enc.input_shape == (None, 4)
    features = gn.Model(outer.inputs, outer.get_layer("d1").output)
    assert features.output_shape == (None, 3)
