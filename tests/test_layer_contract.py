"""The layer contract (design.md), run over every built-in layer from one table.

For each layer: float32 in, float32 out, of the shape ``output_shape`` declares; ``backward`` returns
a gradient of the input's shape, fills a gradient for every parameter (same keys, shapes, dtype)
and leaves ``grad_output`` as it was; finite differences agree in float64; and the layer rebuilt
from ``get_config`` computes the same outputs. A new layer class without a row here fails the first
test, so none is left out by forgetting.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers
from glassnet.gradcheck import check_layer

# class name -> (factory, shape of one input sample, training mode for the checks)
TABLE = {
    "Dense": (lambda **kw: layers.Dense(4, activation="tanh", **kw), (5,), False),
    "EinsumDense": (lambda **kw: layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", activation="tanh",
                                                    bias_initializer="random_normal", **kw), (3, 4), False),
    "SimpleRNN": (lambda **kw: layers.SimpleRNN(3, return_sequences=True, **kw), (4, 2), False),
    "LSTM": (lambda **kw: layers.LSTM(3, go_backwards=True, dropout=0.3, recurrent_dropout=0.2, **kw), (4, 2), True),
    "GRU": (lambda **kw: layers.GRU(3, return_sequences=True, recurrent_dropout=0.3, **kw), (5, 2), True),
    "ConvLSTM2D": (lambda **kw: layers.ConvLSTM2D(2, 2, padding="same", return_sequences=True, bias_initializer="random_normal",
                                                  dropout=0.3, recurrent_dropout=0.2, **kw), (3, 3, 4, 2), True),
    "ConvLSTM1D": (lambda **kw: layers.ConvLSTM1D(2, 3, strides=2, go_backwards=True, **kw), (3, 7, 2), False),
    "ConvLSTM3D": (lambda **kw: layers.ConvLSTM3D(2, 2, recurrent_dropout=0.3, **kw), (2, 3, 3, 2, 1), True),
    "Bidirectional": (lambda **kw: layers.Bidirectional(layers.GRU(3, return_sequences=True, dropout=0.2), merge_mode="mul",
                                                         **kw), (4, 2), True),
    # a stack of cells with dropout in the middle one, reading the input from its end
    "RNN": (lambda **kw: layers.RNN([layers.SimpleRNNCell(2), layers.LSTMCell(3, recurrent_dropout=0.2),
                                     layers.GRUCell(2, dropout=0.3)], return_sequences=True, go_backwards=True, **kw),
            (4, 2), True),
    "Pipeline": (lambda **kw: layers.Pipeline([layers.Rescaling(0.5, offset=-1.0), layers.Dense(3, activation="tanh"),
                                               layers.Dense(2)], **kw), (4,), False),
    "TimeDistributed": (lambda **kw: layers.TimeDistributed(layers.Conv1D(2, 2, activation="tanh"), **kw), (3, 5, 2), False),
    "SpectralNormalization": (lambda **kw: layers.SpectralNormalization(layers.Conv1D(3, 2, activation="tanh"), **kw), (5, 2), False),
    "Embedding": (lambda **kw: layers.Embedding(6, 3, embeddings_initializer="random_normal", **kw), (5, 2), False),
    # the lookup (its reverse call's contract, gradients and torch parity: test_reversible_embedding.py);
    # untied, so that the lookup's backward must zero reverse_embeddings' gradient
    "ReversibleEmbedding": (lambda **kw: layers.ReversibleEmbedding(6, 3, tie_weights=False, logit_soft_cap=2.0,
                                                                     embeddings_initializer="random_normal", **kw),
                            (5, 2), False),
    "Masking": (lambda **kw: layers.Masking(0.5, **kw), (4, 3), False),
    "Activation": (lambda **kw: layers.Activation("elu", **kw), (3, 4), False),
    "LeakyReLU": (lambda **kw: layers.LeakyReLU(0.2, **kw), (3, 4), False),
    "Conv2D": (lambda **kw: layers.Conv2D(3, 3, strides=2, padding="same", activation="relu", **kw), (7, 6, 2), False),
    "Conv2DTranspose": (lambda **kw: layers.Conv2DTranspose(3, (3, 2), strides=(2, 3), padding="same", output_padding=(1, 1),
                                                             activation="tanh", **kw), (3, 4, 2), False),
    "Conv1DTranspose": (lambda **kw: layers.Conv1DTranspose(2, 3, strides=2, **kw), (4, 3), False),
    "DepthwiseConv2D": (lambda **kw: layers.DepthwiseConv2D((3, 2), strides=(2, 1), padding="same", depth_multiplier=2,
                                                             activation="tanh", **kw), (5, 4, 3), False),
    "DepthwiseConv1D": (lambda **kw: layers.DepthwiseConv1D(3, depth_multiplier=2, dilation_rate=2, **kw), (6, 2), False),
    "SeparableConv2D": (lambda **kw: layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, **kw), (4, 4, 3), False),
    "SeparableConv1D": (lambda **kw: layers.SeparableConv1D(3, 2, strides=2, activation="elu", **kw), (7, 2), False),
    "Conv3D": (lambda **kw: layers.Conv3D(2, (2, 3, 2), strides=(1, 2, 1), padding="same", activation="tanh", **kw),
               (3, 5, 4, 2), False),
    "Conv3DTranspose": (lambda **kw: layers.Conv3DTranspose(2, (2, 3, 2), strides=(2, 1, 2), padding="same",
                                                             output_padding=(1, 0, 1), **kw), (2, 3, 2, 3), False),
    "Conv1D": (lambda **kw: layers.Conv1D(3, 3, padding="causal", dilation_rate=2, **kw), (8, 2), False),
    "MaxPooling2D": (lambda **kw: layers.MaxPooling2D(2, **kw), (5, 4, 2), False),
    "AveragePooling2D": (lambda **kw: layers.AveragePooling2D(2, padding="same", **kw), (5, 4, 2), False),
    "MaxPooling1D": (lambda **kw: layers.MaxPooling1D(3, strides=2, **kw), (9, 2), False),
    "AveragePooling1D": (lambda **kw: layers.AveragePooling1D(2, **kw), (6, 3), False),
    "MaxPooling3D": (lambda **kw: layers.MaxPooling3D((2, 2, 3), strides=(1, 2, 2), padding="same", **kw), (3, 4, 5, 2), False),
    "AveragePooling3D": (lambda **kw: layers.AveragePooling3D(2, padding="same", **kw), (3, 4, 3, 2), False),
    "GlobalAveragePooling3D": (lambda **kw: layers.GlobalAveragePooling3D(**kw), (2, 3, 2, 2), False),
    "GlobalMaxPooling3D": (lambda **kw: layers.GlobalMaxPooling3D(keepdims=True, **kw), (2, 3, 2, 2), False),
    "AdaptiveAveragePooling1D": (lambda **kw: layers.AdaptiveAveragePooling1D(3, **kw), (7, 2), False),
    "AdaptiveMaxPooling1D": (lambda **kw: layers.AdaptiveMaxPooling1D(4, **kw), (6, 2), False),
    "AdaptiveAveragePooling2D": (lambda **kw: layers.AdaptiveAveragePooling2D((2, 3), **kw), (5, 4, 2), False),
    "AdaptiveMaxPooling2D": (lambda **kw: layers.AdaptiveMaxPooling2D((3, 2), **kw), (5, 5, 2), False),
    "AdaptiveAveragePooling3D": (lambda **kw: layers.AdaptiveAveragePooling3D((2, 1, 3), **kw), (3, 2, 4, 2), False),
    "AdaptiveMaxPooling3D": (lambda **kw: layers.AdaptiveMaxPooling3D(2, **kw), (3, 3, 2, 2), False),
    "GlobalAveragePooling2D": (lambda **kw: layers.GlobalAveragePooling2D(keepdims=True, **kw), (3, 3, 2), False),
    "GlobalAveragePooling1D": (lambda **kw: layers.GlobalAveragePooling1D(**kw), (5, 2), False),
    "GlobalMaxPooling2D": (lambda **kw: layers.GlobalMaxPooling2D(**kw), (3, 3, 2), False),
    "GlobalMaxPooling1D": (lambda **kw: layers.GlobalMaxPooling1D(keepdims=True, **kw), (5, 2), False),
    "Flatten": (lambda **kw: layers.Flatten(**kw), (3, 2, 2), False),
    "Reshape": (lambda **kw: layers.Reshape((4, 3), **kw), (12,), False),
    "Permute": (lambda **kw: layers.Permute((3, 1, 2), **kw), (2, 3, 4), False),
    "RepeatVector": (lambda **kw: layers.RepeatVector(3, **kw), (4,), False),
    "DepthToSpace": (lambda **kw: layers.DepthToSpace(2, **kw), (4, 6, 8), False),
    "SpaceToDepth": (lambda **kw: layers.SpaceToDepth(2, **kw), (4, 6, 3), False),
    "Dropout": (lambda **kw: layers.Dropout(0.5, **kw), (6,), True),
    "GaussianNoise": (lambda **kw: layers.GaussianNoise(0.3, **kw), (6,), True),
    "AlphaDropout": (lambda **kw: layers.AlphaDropout(0.3, **kw), (2, 3), True),
    "GaussianDropout": (lambda **kw: layers.GaussianDropout(0.3, **kw), (2, 3), True),
    "StochasticDepth": (lambda **kw: layers.StochasticDepth(0.4, **kw), (2, 3), True),
    "LayerScale": (lambda **kw: layers.LayerScale(0.3, 3, **kw), (2, 3), False),
    "BatchNormalization": (lambda **kw: layers.BatchNormalization(**kw), (4,), True),
    "GroupNormalization": (lambda **kw: layers.GroupNormalization(groups=2, **kw), (3, 2, 4), False),
    "UnitNormalization": (lambda **kw: layers.UnitNormalization(axis=[1, 2], **kw), (2, 3), False),
    "RMSNormalization": (lambda **kw: layers.RMSNormalization(axis=[-2, -1], epsilon=0.1, **kw), (2, 3, 4), False),
    "LayerNormalization": (lambda **kw: layers.LayerNormalization(axis=[-2, -1], **kw), (2, 3, 4), False),
    "ReLU": (lambda **kw: layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2, **kw), (3, 4), False),
    "ELU": (lambda **kw: layers.ELU(0.7, **kw), (3, 4), False),
    "Softmax": (lambda **kw: layers.Softmax(axis=[1, 2], **kw), (2, 3), False),
    "PReLU": (lambda **kw: layers.PReLU(alpha_initializer="random_normal", shared_axes=[1], **kw), (3, 4), False),
    "ZeroPadding2D": (lambda **kw: layers.ZeroPadding2D(((1, 0), (2, 1)), **kw), (3, 4, 2), False),
    "ZeroPadding3D": (lambda **kw: layers.ZeroPadding3D(((1, 0), 2, (0, 1)), **kw), (2, 3, 2, 2), False),
    "ZeroPadding1D": (lambda **kw: layers.ZeroPadding1D((0, 2), **kw), (3, 2), False),
    "Cropping2D": (lambda **kw: layers.Cropping2D(((1, 0), (0, 2)), **kw), (4, 5, 2), False),
    "Cropping3D": (lambda **kw: layers.Cropping3D(((1, 0), (0, 1), 1), **kw), (3, 3, 4, 2), False),
    "Cropping1D": (lambda **kw: layers.Cropping1D(**kw), (5, 2), False),
    "UpSampling2D": (lambda **kw: layers.UpSampling2D((2, 3), **kw), (2, 2, 2), False),
    "UpSampling3D": (lambda **kw: layers.UpSampling3D((2, 1, 3), **kw), (2, 2, 2, 2), False),
    "UpSampling1D": (lambda **kw: layers.UpSampling1D(3, **kw), (3, 2), False),
    "SpatialDropout2D": (lambda **kw: layers.SpatialDropout2D(0.5, **kw), (3, 3, 4), True),
    "SpatialDropout3D": (lambda **kw: layers.SpatialDropout3D(0.5, **kw), (2, 3, 2, 4), True),
    "SpatialDropout1D": (lambda **kw: layers.SpatialDropout1D(0.5, **kw), (3, 4), True),
    "Resizing": (lambda **kw: layers.Resizing(5, 3, crop_to_aspect_ratio=True, **kw), (4, 6, 2), False),
    "CenterCrop": (lambda **kw: layers.CenterCrop(2, 3, **kw), (4, 4, 2), False),
    "RandomCrop": (lambda **kw: layers.RandomCrop(3, 4, **kw), (5, 6, 2), True),
    "RandomFlip": (lambda **kw: layers.RandomFlip(**kw), (3, 4, 2), True),
    "RandomTranslation": (lambda **kw: layers.RandomTranslation(0.3, (-0.2, 0.4), **kw), (4, 5, 2), True),
    "RandomRotation": (lambda **kw: layers.RandomRotation(0.2, fill_mode="constant", fill_value=0.5, **kw), (4, 5, 2), True),
    "RandomZoom": (lambda **kw: layers.RandomZoom(0.3, (-0.2, 0.1), fill_mode="wrap", interpolation="nearest", **kw), (4, 5, 2), True),
    "RandomShear": (lambda **kw: layers.RandomShear(0.4, (0.1, 0.3), fill_mode="constant", fill_value=0.5, **kw), (4, 5, 2), True),
    "RandomPerspective": (lambda **kw: layers.RandomPerspective((0.5, 1.0), 0.8, fill_value=0.5, **kw), (4, 5, 2), True),
    "RandomGaussianBlur": (lambda **kw: layers.RandomGaussianBlur((0.5, 1.0), 3, (0.5, 1.5), value_range=(-2.5, 2.5), **kw),
                           (4, 5, 2), True),
    "RandomSharpness": (lambda **kw: layers.RandomSharpness((0.0, 1.0), value_range=(-2.5, 2.5), **kw), (4, 5, 2), True),
    "RandomErasing": (lambda **kw: layers.RandomErasing((1.0, 1.0), (0.1, 0.5), 0.5, value_range=(-2.5, 2.5), **kw),
                      (4, 5, 2), True),
    "RandomElasticTransform": (lambda **kw: layers.RandomElasticTransform((1.0, 1.0), (1.0, 1.0), fill_mode="constant", fill_value=0.5,
                                                                          value_range=(-4, 4), **kw), (6, 7, 2), True),
    "MixUp": (lambda **kw: layers.MixUp(0.7, **kw), (3, 4, 2), True),
    "CutMix": (lambda **kw: layers.CutMix((0.5, 1.0), **kw), (4, 5, 2), True),
    "RandomContrast": (lambda **kw: layers.RandomContrast(0.5, value_range=(-2.5, 2.5), **kw), (3, 4, 2), True),
    "RandomBrightness": (lambda **kw: layers.RandomBrightness(0.2, value_range=(-2.5, 2.5), **kw), (3, 4, 2), True),
    "RandomGrayscale": (lambda **kw: layers.RandomGrayscale(0.6, **kw), (3, 4, 3), True),
    "RandomInvert": (lambda **kw: layers.RandomInvert((0.5, 1.0), value_range=(-2.5, 2.5), **kw), (3, 4, 2), True),
    "Solarization": (lambda **kw: layers.Solarization((0.2, 0.4), (0.3, 0.7), value_range=(-2.5, 2.5), **kw), (3, 4, 2), True),
    "RandomColorDegeneration": (lambda **kw: layers.RandomColorDegeneration((0.2, 0.9), value_range=(-2.5, 2.5), **kw), (3, 4, 3), True),
    "RandomSaturation": (lambda **kw: layers.RandomSaturation((0.3, 0.9), value_range=(-2.5, 2.5), **kw), (3, 4, 3), True),
    "RandomHue": (lambda **kw: layers.RandomHue(0.8, value_range=(-2.5, 2.5), **kw), (3, 4, 3), True),
    "RandomColorJitter": (lambda **kw: layers.RandomColorJitter((-2.5, 2.5), 0.2, 0.5, (0.3, 0.9), 0.8, **kw), (3, 4, 3), True),
    "RandAugment": (lambda **kw: layers.RandAugment((-2.5, 2.5), num_ops=4, factor=(0.1, 0.3), **kw), (4, 5, 3), True),
    # seeded so that the blend m is 0.76 and the chains run shear, colour degeneration, solarization and sharpness
    "AugMix": (lambda **kw: layers.AugMix((-2.5, 2.5), num_chains=3, chain_depth=2, factor=(0.1, 0.3), alpha=3.0, **kw),
               (4, 5, 3), True),
    "RandomPosterization": (lambda **kw: layers.RandomPosterization((3, 6), value_range=(-2.5, 2.5), **kw), (3, 4, 2), True),
    "AutoContrast": (lambda **kw: layers.AutoContrast(value_range=(-1, 2), **kw), (3, 4, 2), False),     # inference too
    # not random, applied at inference too; finite differences see its flat steps (0) as its backward does
    "Equalization": (lambda **kw: layers.Equalization(value_range=(-3, 3), bins=64, **kw), (3, 4, 2), False),
    # the same for CLAHE (its tables are counts of whole levels); a 2 x 2 grid of 3 x 2 tiles, one row mirrored
    "ContrastLimitedAdaptiveHistogramEqualization": (lambda **kw: layers.ContrastLimitedAdaptiveHistogramEqualization(
        value_range=(-3, 3), clip_limit=2.0, tile_grid_size=(2, 2), **kw), (5, 4, 2), False),
    "Discretization": (lambda **kw: layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.7], output_mode="one_hot", **kw), (3, 1), False),
    "Identity": (lambda **kw: layers.Identity(**kw), (3, 4), False),
    # the identity on arrays (it pads the boxes of Keras' dict form: test_bounding_boxes.py)
    "MaxNumBoundingBoxes": (lambda **kw: layers.MaxNumBoundingBoxes(3, fill_value=-2, bounding_box_format="xyxy", **kw),
                            (3, 4), False),
    # in a model its forward pass hands on the ids the model made from the texts: the identity
    # IntegerLookup takes any integers (no input_dim): the checks draw them from 0-7, its vocabulary's
    "IntegerLookup": (lambda **kw: layers.IntegerLookup(vocabulary=[3, 7, 0, 5, 1], num_oov_indices=2, mask_token=6,
                                                        output_mode="count", **kw), (4,), False),
    "CategoryEncoding": (lambda **kw: layers.CategoryEncoding(6, output_mode="count", **kw), (5,), False),
    # as TextVectorization: in a model its forward pass hands on the vectors the model made of the strings
    "StringLookup": (lambda **kw: layers.StringLookup(vocabulary=["b", "a", "c"], output_mode="count", **kw), (4,), False),
    "Hashing": (lambda **kw: layers.Hashing(6, output_mode="multi_hot", **kw), (6,), False),
    "TextVectorization": (lambda **kw: layers.TextVectorization(output_sequence_length=5, vocabulary=["b", "a"], **kw),
                          (5,), False),
    "Normalization": (lambda **kw: layers.Normalization(axis=[1, -1], mean=[[1.0, -2.0, 0.5, 3.0]], variance=[[2.0, 0.3, 1.0, 4.0]], **kw),
                      (2, 3, 4), False),
    "Rescaling": (lambda **kw: layers.Rescaling(0.5, offset=-1.0, **kw), (3, 4), False),
    # what x * c makes while a model is drawn (its other ops: tests/test_tensor_ops.py)
    "TensorOp": (lambda **kw: layers.TensorOp("multiply", [[1.0, -2.0, 0.5, 3.0]], **kw), (3, 4), False),
    # what ops.softmax(x, axis=1) makes while a model is drawn (its other ops: tests/test_ops.py)
    "TensorFunction": (lambda **kw: layers.TensorFunction("softmax", {"axis": 1}, **kw), (3, 4), False),
    # what gn.random.dropout(x, 0.4, seed=3) makes in a drawn call (an int seed: the same mask at every pass;
    # its draws of a shape: tests/test_random.py)
    "RandomDraw": (lambda **kw: layers.RandomDraw("dropout", None, {"rate": 0.4, "noise_shape": None}, draw_seed=3, **kw),
                   (3, 4), False),
    # a short window in a longer FFT, the top_db floor active (the floored values follow each sample's peak)
    "MelSpectrogram": (lambda **kw: layers.MelSpectrogram(fft_length=16, sequence_stride=5, sequence_length=12, num_mel_bins=4,
                                                           sampling_rate=100, top_db=10.0, **kw), (40,), False),
    # both kernels and the log of the magnitude, "same" padding, a window in a longer FFT
    "STFTSpectrogram": (lambda **kw: layers.STFTSpectrogram(frame_length=6, frame_step=4, fft_length=8, padding="same", **kw),
                        (13, 2), False),
    "ActivityRegularization": (lambda **kw: layers.ActivityRegularization(0.01, 0.02, **kw), (5,), False),
}
BATCH = 4


def built_in_layer_classes():
    # the merge layers take lists of inputs: test_merging.py is their table; LastState reads a
    # recurrent layer's states inside a model alone: test_recurrent_states.py checks it there;
    # Lambda holds code (no config rebuilds it) and passes no gradient back: test_lambda.py
    return sorted(name for name, cls in layers.LAYERS.items()
                  if cls.__module__.startswith("glassnet.layers.") and name != "Layer"
                  and not getattr(cls, "merges", False) and not getattr(cls, "graph_only", False)
                  and not getattr(cls, "holds_code", False))


def test_every_built_in_layer_has_a_row():
    assert built_in_layer_classes() == sorted(TABLE)


def _layer_and_input(name, dtype, seed=0):
    factory, shape, training = TABLE[name]
    layer = factory(dtype=dtype, seed=seed)
    layer.build(shape)
    if getattr(layer, "discrete_input", False):      # Embedding: indices into its table
        x = np.random.default_rng(seed).integers(0, getattr(layer, "input_dim", 8), (BATCH, *shape)).astype(dtype)
    else:
        x = np.random.default_rng(seed).standard_normal((BATCH, *shape)).astype(dtype)
    return layer, x, training


@pytest.mark.parametrize("name", sorted(TABLE))
def test_forward_and_backward_keep_dtype_shapes_and_their_inputs(name):
    layer, x, training = _layer_and_input(name, "float32")
    x_before = x.copy()
    out = layer.forward(x, training=training)
    assert out.dtype == np.float32
    assert out.shape == (BATCH, *layer.output_shape(x.shape[1:]))
    grad_output = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    grad_before = grad_output.copy()
    grad_input = layer.backward(grad_output)
    np.testing.assert_array_equal(grad_output, grad_before)          # backward must not write into it
    np.testing.assert_array_equal(x, x_before)                       # nor forward into its input
    assert grad_input.shape == x.shape and grad_input.dtype == np.float32
    assert set(layer.grads) == set(layer.params)
    for key, param in layer.params.items():
        assert layer.grads[key].shape == param.shape and layer.grads[key].dtype == np.float32, key


@pytest.mark.parametrize("name", sorted(TABLE))
def test_gradients_agree_with_finite_differences(name):
    layer, x, training = _layer_and_input(name, "float64")
    # Dropout: the same mask on every pass, from a generator reset before each forward
    random = ("Dropout", "StochasticDepth", "GaussianNoise", "GaussianDropout", "SpatialDropout2D", "SpatialDropout1D", "SpatialDropout3D", "AlphaDropout", "RandomFlip", "RandomCrop", "LSTM", "GRU", "Bidirectional", "RNN",
              "ConvLSTM2D", "ConvLSTM3D",
              "RandomTranslation", "RandomRotation", "RandomZoom", "RandomShear", "RandomPerspective", "RandomGaussianBlur", "RandomSharpness", "RandomErasing", "RandomContrast",
              "RandomBrightness", "MixUp", "CutMix", "RandomElasticTransform")
    random += ("RandomGrayscale", "RandomInvert", "Solarization", "RandomColorDegeneration", "RandomSaturation", "RandomHue",
               "RandomPosterization", "RandomColorJitter", "RandAugment", "AugMix")
    reset = (lambda: setattr(layer, "rng", np.random.default_rng(0))) if name in random else None
    report = check_layer(layer, x, training=training, before_forward=reset)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_rebuilt_from_its_config_it_computes_the_same(name):
    layer, x, _ = _layer_and_input(name, "float32")
    copy = type(layer).from_config(layer.get_config())
    copy.dtype = layer.dtype
    copy.build(x.shape[1:])
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(copy.forward(x, training=False), layer.forward(x, training=False))
    assert copy.get_config() == layer.get_config()


# -- keyword arguments: a layer's own, then Layer.__init__'s --------------------------------------
@pytest.mark.parametrize("name", sorted(TABLE))
def test_an_unknown_keyword_argument_names_the_layer_and_the_accepted_ones(name):
    # Python's own message named Layer.__init__, where **kwargs ends, not the layer that was called
    with pytest.raises(TypeError, match=rf"^{name}: unexpected keyword argument 'colour'; {name} takes "
                                        r".*name, input_shape, input_dim, dtype, seed, activity_regularizer, trainable, autocast$"):
        TABLE[name][0](colour="red")


@pytest.mark.parametrize("make,message", [
    (lambda: layers.BatchNormalization(renorm_rate=True),
     r"^BatchNormalization: unexpected keyword argument 'renorm_rate'; BatchNormalization takes axis, momentum, "
     r"epsilon, center, scale, beta_initializer, .*, renorm, renorm_clipping, renorm_momentum, synchronized and, "
     r"like every layer, name, input_shape"),
    # (a misspelt argument: lora_rank, the example here before, is taken now: layers/lora.py)
    (lambda: layers.Embedding(10, 2, embeddings_initialiser="uniform"),
     r"^Embedding: unexpected keyword argument 'embeddings_initialiser'; Embedding takes output_dim, .* and, like "
     r"every layer"),
    # (Keras' Cropping1D has no data_format either, though Cropping2D's has: named)
    (lambda: layers.Cropping1D(data_format="channels_last"),
     r"^Cropping1D: unexpected keyword argument 'data_format'; Cropping1D takes cropping and, like every layer, "
     r"name, input_shape, input_dim, dtype, seed, activity_regularizer, trainable, autocast$"),
], ids=["BatchNormalization", "Embedding", "Flatten"])
def test_keras_arguments_glassnet_lacks_are_named(make, message):
    with pytest.raises(TypeError, match=message):
        make()


# -- input_shape / input_dim, which every layer takes through Layer.__init__ ----------------------
@pytest.mark.parametrize("name", sorted(TABLE))
def test_an_int_input_shape_is_refused_with_the_tuple_to_write(name):
    factory = TABLE[name][0]
    with pytest.raises(ValueError, match=r"input_shape must be a tuple such as \(3,\), got the integer 3"):
        factory(input_shape=3)


@pytest.mark.parametrize("bad", ["32", b"32", True, 3.0, (3.5,), (3.0,), (0,), (-2, 2), (), ["3"],
                                 (True,), np.array(3)],
                         ids=repr)
def test_bad_input_shape_names_the_argument(bad):
    # a string used to pass as a sequence ("32" -> (3, 2)); None (Keras' "any size") is taken:
    # tests/test_variable_length.py
    with pytest.raises(ValueError, match=r"^Dense: input_shape must .*got "):
        layers.Dense(1, input_shape=bad)


@pytest.mark.parametrize("bad", ["3", 3.0, 0, -1, True, (3,)], ids=repr)
def test_bad_input_dim_names_the_argument(bad):
    with pytest.raises(ValueError, match=r"^Dense: input_dim: expected a positive integer, got "):
        layers.Dense(1, input_dim=bad)


@pytest.mark.parametrize("shape,expected", [((3,), (3,)), ([28, 28, 1], (28, 28, 1)),
                                            ((np.int64(5), 2), (5, 2)), (np.array([4]), (4,))], ids=repr)
def test_good_input_shapes_become_tuples_of_python_ints(shape, expected):
    layer = layers.Flatten(input_shape=shape)
    assert layer.input_shape == expected and all(type(d) is int for d in layer.input_shape)
    assert layers.Dense(1, input_dim=np.int64(3)).input_shape == (3,)
    assert layers.Dense(1, input_shape=(None, np.int64(3))).input_shape == (None, 3)     # any length


@pytest.mark.parametrize("name", sorted(TABLE))
def test_compute_output_shape_before_building_equals_the_built_model_s(name):
    make, sample, _ = TABLE[name]
    unbuilt = gn.Sequential([make()], seed=0)
    predicted = unbuilt.compute_output_shape((None, *sample))
    # a model whose first layer takes texts is built when it is made: its samples are the ids
    assert unbuilt.built == getattr(make(), "takes_text", False)
    built = gn.Sequential([make(input_shape=sample)], seed=0)
    assert predicted == built.output_shape           # both with the batch axis, as Keras'
