"""Review portsx: keras.io examples not ported before (Grad-CAM class activation maps, ...) run
beside Keras 3.15 from the same weights: what the ports met."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


# -- keras.io's Grad-CAM: ``model.layers[-1].activation = None`` ------------------------------------
_ACTIVATED = [
    (lambda a: L.Dense(3, activation=a), (2, 4)),
    (lambda a: L.Conv2D(3, 2, activation=a), (2, 5, 5, 2)),
    (lambda a: L.Conv1D(3, 2, activation=a), (2, 5, 2)),
    (lambda a: L.Conv2DTranspose(3, 2, activation=a), (2, 4, 4, 2)),
    (lambda a: L.DepthwiseConv2D(2, activation=a), (2, 5, 5, 2)),
    (lambda a: L.SeparableConv2D(3, 2, activation=a), (2, 5, 5, 2)),
    (lambda a: L.EinsumDense("ab,bc->ac", 3, activation=a), (2, 4)),
    (lambda a: L.SimpleRNN(3, activation=a), (2, 4, 2)),
    (lambda a: L.LSTM(3, activation=a), (2, 4, 2)),
    (lambda a: L.GRU(3, activation=a), (2, 4, 2)),
    (lambda a: L.ConvLSTM2D(2, 2, activation=a), (2, 3, 4, 4, 1)),
]


@pytest.mark.parametrize("make, shape", _ACTIVATED)
@pytest.mark.parametrize("value", [None, "linear", gn.activations.linear])
def test_an_activation_set_after_construction_is_the_one_computed(make, shape, value):
    # keras.io's Grad-CAM and integrated gradients take the logits by `model.layers[-1].activation =
    # None` on a built model; glassnet kept the None and the next call failed with "'NoneType' object
    # has no attribute 'forward'"
    x = np.random.default_rng(0).normal(size=shape)
    layer, plain = make("tanh"), make(None)
    plain(x), layer(x)
    layer.set_weights(plain.get_weights())
    layer.activation = value
    np.testing.assert_allclose(layer(x), plain(x), rtol=1e-6, atol=1e-7)
    assert layer.get_config()["activation"] == "linear"
    layer.activation = "relu"
    assert layer.activation.name == "relu"


def test_a_recurrent_activation_set_after_construction_is_the_one_computed():
    x = np.random.default_rng(1).normal(size=(2, 4, 2))
    layer, plain = L.LSTM(3), L.LSTM(3, recurrent_activation="hard_sigmoid")
    plain(x), layer(x)
    layer.set_weights(plain.get_weights())
    layer.recurrent_activation = gn.activations.hard_sigmoid
    np.testing.assert_allclose(layer(x), plain(x), rtol=1e-6, atol=1e-7)


def test_an_activation_set_to_something_unknown_is_refused_by_name():
    layer = L.Dense(2)
    with pytest.raises(ValueError, match=r"Dense: activation: expected one of .*got 'rleu'"):
        layer.activation = "rleu"
    with pytest.raises(ValueError, match=r"GRU: recurrent_activation: expected one of"):
        L.GRU(2).recurrent_activation = "sigmoidd"
    assert layer.activation.name == "linear"


def _gradcam_model(lib):
    Ls = lib.layers
    inp = lib.Input((12, 12, 3))
    x = Ls.Rescaling(1 / 255.0)(inp)
    x = Ls.Conv2D(6, 3, activation="relu")(x)
    x = Ls.SeparableConv2D(8, 3, padding="same")(x)
    x = Ls.BatchNormalization()(x)
    x = Ls.Activation("relu", name="last_conv")(x)
    x = Ls.GlobalAveragePooling2D()(x)
    return lib.Model(inp, Ls.Dense(5, activation="softmax", name="predictions")(Ls.Dropout(0.5)(x)))


def test_keras_io_grad_cam_heatmap_as_keras(keras):
    tf = pytest.importorskip("tensorflow")

    def make_gradcam_heatmap(lib, tape_class, img_array, model, last_conv_layer_name, pred_index=None):
        # keras.io's function, tf.* written as keras.ops (glassnet.ops) and the tape passed in
        grad_model = lib.models.Model(model.inputs, [model.get_layer(last_conv_layer_name).output, model.output])
        with tape_class() as tape:
            last_conv_layer_output, preds = grad_model(img_array)
            if pred_index is None:
                pred_index = lib.ops.argmax(preds[0])
            class_channel = preds[:, pred_index]
        grads = tape.gradient(class_channel, last_conv_layer_output)
        pooled_grads = lib.ops.mean(grads, axis=(0, 1, 2))
        last_conv_layer_output = last_conv_layer_output[0]
        heatmap = last_conv_layer_output @ pooled_grads[..., None]
        heatmap = lib.ops.squeeze(heatmap)
        heatmap = lib.ops.maximum(heatmap, 0) / lib.ops.max(heatmap)
        return lib.ops.convert_to_numpy(heatmap)

    kmodel, gmodel = _gradcam_model(keras), _gradcam_model(gn)
    gmodel.set_weights(kmodel.get_weights())
    img = np.random.default_rng(0).uniform(0, 255, (1, 12, 12, 3)).astype("float32")
    kmodel.layers[-1].activation = None
    gmodel.layers[-1].activation = None
    np.testing.assert_allclose(gmodel.predict(img, verbose=0), kmodel(img), rtol=1e-5, atol=1e-6)
    for index in (None, 2):
        expected = make_gradcam_heatmap(keras, tf.GradientTape, img, kmodel, "last_conv", index)
        got = make_gradcam_heatmap(gn, gn.GradientTape, img, gmodel, "last_conv", index)
        assert got.shape == expected.shape == (10, 10)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
