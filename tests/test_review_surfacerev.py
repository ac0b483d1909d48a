"""Review of the Keras Layer surface (feat_layerapi): add_weight's naming of many weights (kept
linear: benchmarks, not this suite, time it; here the names), a wrapped layer's add_weight takes
NumPy's True as Layer's does, and TimeDistributed's compute_output_shape refuses samples without
a steps axis, as Keras' and its own build do."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as G


class ManyScalars(G.Layer):
    """``n`` unnamed scalar weights, the number from the config (as a layer of ``num_experts``)."""

    def __init__(self, n=2, **kwargs):
        super().__init__(**kwargs)
        self.n = n

    def get_config(self):
        return {**super().get_config(), "n": self.n}

    def build(self, input_shape):
        for _ in range(self.n):
            self.add_weight(initializer="zeros")
        self.add_weight(shape=(), initializer="zeros", trainable=False)
        super().build(input_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output


def test_many_unnamed_weights_keep_their_names(tmp_path):
    # the search for a free name resumes where the last ended (it restarted at "variable": 22 s for
    # 4000 weights, a stall a model file could ask for); the names are the first free ones still
    layer = ManyScalars(400)
    layer.build((2,))
    assert list(layer.params)[:3] == ["variable", "variable_1", "variable_2"]
    assert list(layer.params)[-1] == "variable_399" and list(layer.state) == ["variable_400"]
    # a name freed (the dict replaced) is found again: the first free one, as documented
    layer.params, layer.grads = {}, {}
    layer.add_weight(shape=(2,))
    assert list(layer.params) == ["variable"]
    # reloaded, the same names
    model = gn.Sequential([G.Input((2,)), ManyScalars(5)])
    model.save(tmp_path / "m.npz")
    same = gn.load_model(tmp_path / "m.npz")
    assert [n for n, _ in same._weight_items()] == [n for n, _ in model._weight_items()]


def test_many_named_weights_keep_their_names_and_refuse_a_repeat():
    class Named(ManyScalars):
        def build(self, input_shape):
            for i in range(self.n):
                self.add_weight(f"w{i}", (), "zeros")
            G.Layer.build(self, input_shape)
    layer = Named(300)
    layer.build((2,))
    assert list(layer.params) == [f"w{i}" for i in range(300)]
    with pytest.raises(ValueError, match="a weight named 'w7' exists already"):
        layer.add_weight("w7", (), "zeros")


def test_a_wrapped_layer_takes_numpy_true_as_trainable():
    class Flagged(G.Layer):
        def build(self, input_shape):
            self.add_weight(shape=input_shape[-1:], initializer="ones", trainable=np.bool_(True))
            super().build(input_shape)

        def forward(self, x, training=False):
            return x * self.params["variable"]

        def backward(self, grad_output):
            return grad_output * self.params["variable"]
    plain = Flagged()
    plain.build((3,))                                   # Layer.add_weight takes it
    wrapped = G.TimeDistributed(Flagged())
    wrapped.build((5, 3))                               # was refused as "trainable=True (state)"
    assert list(wrapped.params) == ["variable"]
    with pytest.raises(TypeError, match="trainable: expected True or False"):
        class Worded(Flagged):
            def build(self, input_shape):
                self.add_weight(shape=(3,), trainable="yes")
        G.TimeDistributed(Worded()).build((5, 3))


def test_time_distributed_compute_output_shape_needs_the_steps_axis():
    # Keras refuses it; glassnet gave (None, 5, 3): Dense applied to 5 "steps" of scalars
    with pytest.raises(ValueError, match=r"expected samples of shape \(steps, \.\.\.\), got \(5,\)"):
        G.TimeDistributed(G.Dense(3)).compute_output_shape((None, 5))
    assert G.TimeDistributed(G.Dense(3)).compute_output_shape((None, None, 5)) == (None, None, 3)
