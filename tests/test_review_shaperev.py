"""Review of the Keras-form shapes (``model.input_shape`` / ``output_shape`` batch axis first,
``Input(...).shape``): code ported from Keras as written, against Keras 3.15."""
import pytest

import glassnet as gn

L = gn.layers


def _dict_input_model(lib):
    x = lib.Input((5,), name="x")
    w = lib.Input((2,), name="w")
    return lib.Model({"x": x, "w": w}, lib.layers.Concatenate()([x, w]))


def test_compute_output_shape_takes_a_dict_of_input_shapes(keras):
    # was: AttributeError: 'Model' object has no attribute '_draw_dict'
    ours, theirs = _dict_input_model(gn), _dict_input_model(keras)
    for shapes in ({"x": (None, 5), "w": (None, 2)}, {"w": (3, 2), "x": (3, 5)}):
        assert ours.compute_output_shape(shapes) == tuple(theirs.compute_output_shape(shapes))
    # Keras' ported form: the model's own input_shape (a list, the keys sorted) fed back
    assert ours.compute_output_shape(ours.input_shape) == tuple(theirs.compute_output_shape(theirs.input_shape))


def test_compute_output_shape_dict_of_wrong_keys_is_refused_by_name():
    with pytest.raises(ValueError, match="inputs are a dict by \\['w', 'x'\\]"):
        _dict_input_model(gn).compute_output_shape({"x": (None, 5), "v": (None, 2)})


def test_compute_output_shape_dict_draws_a_subclass_taking_a_dict():
    class Joined(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(3)

        def call(self, inputs):
            return self.dense(L.Concatenate()([inputs["a"], inputs["b"]]))

    assert Joined().compute_output_shape({"a": (None, 2), "b": (None, 4)}) == (None, 3)


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_input_and_output_shape_keep_a_fixed_batch_size(keras, kind):
    # a stateful RNN's port reads batch_size = model.input_shape[0]: Keras gives the Input's (8, ...)
    def make(lib):
        if kind == "sequential":
            return lib.Sequential([lib.Input(batch_shape=(8, 5)), lib.layers.Dense(3)])
        x = lib.Input((5,), batch_size=8)
        y = lib.Input((2,), batch_size=8)
        h = lib.layers.Concatenate()([x, y])
        return lib.Model([x, y], [lib.layers.Dense(3)(h), lib.layers.Dense(1)(h)])

    ours, theirs = make(gn), make(keras)
    assert ours.input_shape == theirs.input_shape
    assert ours.output_shape == theirs.output_shape


def test_batch_size_of_one_input_only_is_not_given_to_the_outputs(keras):
    def make(lib):
        x, y = lib.Input((5,), batch_size=8), lib.Input((2,))
        return lib.Model([x, y], lib.layers.Dense(3)(lib.layers.Concatenate()([x, y])))

    ours, theirs = make(gn), make(keras)
    assert ours.input_shape == theirs.input_shape == [(8, 5), (None, 2)]
    assert ours.output_shape == (None, 3)


def test_ported_shape_reads_build_the_same_models(keras):
    # transfer head, autoencoder decoder, Reshape of an output, compute_output_shape(input_shape)
    def port(lib):
        base = lib.Sequential([lib.Input((4, 4, 1)), lib.layers.Flatten(), lib.layers.Dense(6)])
        inp = lib.Input(shape=base.input_shape[1:])
        head = lib.Model(inp, lib.layers.Dense(base.output_shape[-1] // 2)(base(inp)))
        dec = lib.Sequential([lib.Input(head.output_shape[1:]), lib.layers.Dense(16),
                              lib.layers.Reshape(base.input_shape[1:])])
        return [head.input_shape, head.output_shape, dec.input_shape, dec.output_shape,
                tuple(dec.compute_output_shape(dec.input_shape)), inp.shape]

    assert port(gn) == port(keras)
