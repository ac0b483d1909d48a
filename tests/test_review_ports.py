"""Keras example programs ported to glassnet: what a port keeps from its Keras source.

A layer of one's own ported from Keras keeps its weights as attributes (``self.w =
self.add_weight(...)``) and declares its shape with Keras' ``compute_output_shape``; Keras'
examples import the dataset builders from ``keras.preprocessing``."""
import numpy as np
import pytest

import glassnet as gn


class KerasStyleLinear(gn.Layer):
    """Keras' guide's ``Linear``, ported: the weights kept as attributes and read through them,
    the output shape given by Keras' ``compute_output_shape``."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (self.units,)

    def forward(self, x, training=False):
        self.x = x
        return x @ self.w + self.b

    def backward(self, grad_output):
        self.grads["w"][...] = self.x.T @ grad_output
        self.grads["b"][...] = grad_output.sum(axis=0)
        return grad_output @ self.w.T

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class AttributeLinear(KerasStyleLinear):
    """The same with glassnet's ``output_shape``: weights read as attributes only."""

    def output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


class ParamsLinear(AttributeLinear):
    """The same layer reading its weights from ``params``, glassnet's rule."""

    def forward(self, x, training=False):
        self.x = x
        return x @ self.params["w"] + self.params["b"]

    def backward(self, grad_output):
        self.grads["w"][...] = self.x.T @ grad_output
        self.grads["b"][...] = grad_output.sum(axis=0)
        return grad_output @ self.params["w"].T


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, :1] - 2 * x[:, 1:2] > 0).astype("float32")
    return x, y


def _sequential(cls):
    model = gn.Sequential([gn.Input((3,)), cls(4), gn.layers.Activation("tanh"),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.5))
    return model


def _functional(cls):
    inputs = gn.Input((3,))
    outputs = gn.layers.Dense(1, activation="sigmoid")(gn.layers.Activation("tanh")(cls(4)(inputs)))
    model = gn.Model(inputs, outputs, seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(learning_rate=0.5))
    return model


@pytest.mark.parametrize("make", [_sequential, _functional])
def test_a_layer_reading_its_weights_as_attributes_trains_as_one_reading_params(make):
    # self.w was the array add_weight returned, which the model's flat buffer replaced: forward
    # read the initial weights for ever while the optimizer moved params["w"] (silently wrong)
    x, y = _data()
    ported, reference = make(AttributeLinear), make(ParamsLinear)
    history = ported.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    expected = reference.fit(x, y, epochs=5, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ported.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    layer = ported.layers[0]
    assert layer.w is layer.params["w"] and layer.b is layer.params["b"]


def test_weight_attributes_follow_a_freeze_a_pop_and_a_reload(tmp_path):
    x, y = _data()
    model = _sequential(AttributeLinear)
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable = False
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    layer = model.layers[0]
    assert layer.w is layer.params["w"]
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = gn.load_model(path)
    assert loaded.layers[0].w is loaded.layers[0].params["w"]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    last = model.pop()
    assert last.params["kernel"] is not None
    first = model.layers[0]
    popped = gn.Sequential([gn.Input((3,)), AttributeLinear(2)], seed=1)
    inner = popped.pop()
    assert inner.w is inner.params["w"] and inner.b is inner.params["b"]
    assert first.w is first.params["w"]


def test_keras_compute_output_shape_of_a_layer_of_ones_own_builds_the_layers_after_it():
    # glassnet asked output_shape only, which kept the input's shape: the Dense after it was
    # built for 3 features and fit failed with "output_shape() declared (3,)"
    layer = KerasStyleLinear(4)
    assert layer.output_shape((3,)) == (4,)
    assert layer.compute_output_shape((None, 3)) == (None, 4)
    assert layer.compute_output_shape((7, 3)) == (7, 4)
    model = _sequential(KerasStyleLinear)
    assert model.layers[2].params["kernel"].shape == (4, 1)
    x, y = _data()
    assert model.predict(x, verbose=0).shape == (64, 1)


def test_compute_output_shape_calling_super_and_a_bad_answer():
    class Same(gn.Layer):
        def compute_output_shape(self, input_shape):
            return super().compute_output_shape(input_shape)

    assert Same().output_shape((5, 2)) == (5, 2)
    assert Same().compute_output_shape((None, 5, 2)) == (None, 5, 2)

    class Bad(gn.Layer):
        def compute_output_shape(self, input_shape):
            return 4

    with pytest.raises(TypeError, match="compute_output_shape returned 4"):
        Bad().output_shape((3,))


def test_keras_preprocessing_names_the_dataset_builders():
    assert gn.preprocessing.timeseries_dataset_from_array is gn.utils.timeseries_dataset_from_array
    assert gn.preprocessing.text_dataset_from_directory is gn.utils.text_dataset_from_directory
    assert gn.preprocessing.image_dataset_from_directory is gn.utils.image_dataset_from_directory
    np.testing.assert_array_equal(gn.preprocessing.sequence.pad_sequences([[1, 2], [3]]), [[1, 2], [0, 3]])
    data = np.arange(20, dtype="float32").reshape(10, 2)
    dataset = gn.preprocessing.timeseries_dataset_from_array(data, np.arange(10), sequence_length=3, batch_size=4)
    x, y = dataset[0]
    assert x.shape == (4, 3, 2) and list(y) == [0, 1, 2, 3]
