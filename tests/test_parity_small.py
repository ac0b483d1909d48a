"""Small Keras 3.15 parity points, each checked against Keras itself: count_params of a layer not
built yet, default model names numbered per session, the attention layers' positional call
arguments, and the CLI's --loss ce."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


# -- count_params before build ------------------------------------------------------------------
# constructor arguments for the layers that need some, the same for Keras' class and glassnet's;
# None: made around another layer, left to test_wrapper.py and friends
ARGS = {"Dense": (3,), "EinsumDense": ("ab,bc->ac", 3), "Conv1D": (2, 2), "Conv2D": (2, 2), "Conv3D": (2, 2),
        "Conv1DTranspose": (2, 2), "Conv2DTranspose": (2, 2), "Conv3DTranspose": (2, 2), "DepthwiseConv1D": (2,),
        "DepthwiseConv2D": (2,), "SeparableConv1D": (2, 2), "SeparableConv2D": (2, 2), "Embedding": (5, 2),
        "SimpleRNN": (2,), "LSTM": (2,), "GRU": (2,), "SimpleRNNCell": (2,), "LSTMCell": (2,), "GRUCell": (2,),
        "ConvLSTM1D": (2, 2), "ConvLSTM2D": (2, 2), "ConvLSTM3D": (2, 2), "MultiHeadAttention": (2, 2),
        "Activation": ("relu",), "Dropout": (0.5,), "SpatialDropout1D": (0.5,), "SpatialDropout2D": (0.5,),
        "SpatialDropout3D": (0.5,), "AlphaDropout": (0.5,), "GaussianDropout": (0.5,), "GaussianNoise": (0.5,),
        "Reshape": ((2, 2),), "Permute": ((2, 1),), "RepeatVector": (2,), "Rescaling": (0.5,), "Resizing": (4, 4),
        "CenterCrop": (2, 2), "RandomCrop": (2, 2), "RandomRotation": (0.1,), "RandomZoom": (0.1,),
        "RandomTranslation": (0.1, 0.1), "RandomContrast": (0.1,), "RandomBrightness": (0.1,), "Hashing": (4,),
        "HashedCrossing": (4,), "Discretization": ([0.0, 1.0],), "CategoryEncoding": (3,), "Lambda": (lambda x: x,),
        "ReversibleEmbedding": (5, 2), "RandomShear": (0.1, 0.1), "RandomPosterization": (2,), "RandomHue": (0.1,),
        "RandomSaturation": (0.1,), "RandomColorDegeneration": (0.1,), "RandomSharpness": (0.1,),
        "GroupNormalization": (1,), "Dot": (1,), "AveragePooling1D": (2,), "AveragePooling2D": (2,),
        "AveragePooling3D": (2,), "AdaptiveAveragePooling1D": (2,), "AdaptiveAveragePooling2D": (2,),
        "AdaptiveAveragePooling3D": (2,), "AdaptiveMaxPooling1D": (2,), "AdaptiveMaxPooling2D": (2,),
        "AdaptiveMaxPooling3D": (2,), "RandomColorJitter": None, "Pipeline": None, "Bidirectional": None,
        "TimeDistributed": None, "RNN": None, "StackedRNNCells": None, "SpectralNormalization": None, "Wrapper": None}


def _count_unbuilt(module, name):
    """count_params of a layer just made: its number, "refused" (ValueError), or None when it cannot
    be made with ARGS."""
    try:
        layer = getattr(module, name)(*ARGS.get(name, ()))
    except (TypeError, ValueError):
        return None
    try:
        return layer.count_params()
    except ValueError:
        return "refused"


def test_count_params_before_build_answers_as_keras_for_every_layer_both_have(keras):
    # Keras builds a few weightless layers when they are made (count_params 0: ReLU, Dropout,
    # MaxPooling2D, Reshape) and refuses count_params on every other before its build
    names = sorted(name for name in L.LAYERS if isinstance(getattr(keras.layers, name, None), type)
                   and name not in ("Layer", "InputLayer") and ARGS.get(name, ()) is not None)
    compared, differ = 0, []
    for name in names:
        theirs = _count_unbuilt(keras.layers, name)
        if theirs is None:
            continue
        compared += 1
        ours = _count_unbuilt(L, name)
        if ours != theirs:
            differ.append((name, theirs, ours))
    assert differ == [] and compared > 100


@pytest.mark.parametrize("make", [lambda m: m.Dense(3), lambda m: m.Conv2D(2, 3), lambda m: m.BatchNormalization(),
                                  lambda m: m.Embedding(5, 2), lambda m: m.ReLU(), lambda m: m.Dropout(0.5),
                                  lambda m: m.MaxPooling2D(), lambda m: m.Reshape((2, 2)), lambda m: m.Add(),
                                  lambda m: m.RandomFlip(), lambda m: m.Flatten(), lambda m: m.LayerNormalization()],
                         ids=["Dense", "Conv2D", "BatchNormalization", "Embedding", "ReLU", "Dropout",
                              "MaxPooling2D", "Reshape", "Add", "RandomFlip", "Flatten", "LayerNormalization"])
def test_count_params_of_a_layer_made_not_built_answers_as_keras(keras, make):
    theirs, ours = make(keras.layers), make(L)
    try:
        expected = theirs.count_params()
    except ValueError as exc:
        assert "isn't built" in str(exc)
        with pytest.raises(ValueError, match=r"count_params: layer .* is not built yet.*layer\.build\(input_shape\)"):
            ours.count_params()
    else:
        assert ours.count_params() == expected == 0


def test_count_params_once_built_is_keras_count(keras):
    theirs, ours = keras.layers.Dense(3), L.Dense(3)
    theirs.build((None, 4))
    ours.build((4,))
    assert ours.count_params() == theirs.count_params() == 15


def test_a_custom_layer_is_refused_before_its_build_with_or_without_a_build_method(keras):
    class Plain(L.Layer):
        def forward(self, x, training=False):
            return x

    class Weighted(L.Layer):
        def build(self, input_shape):
            self.add_weight("w", (input_shape[-1],))

        def forward(self, x, training=False):
            return x * self.params["w"]

    class KPlain(keras.layers.Layer):
        def call(self, x):
            return x

    class KWeighted(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],))

        def call(self, x):
            return x * self.w

    # Keras refuses both before their build (its _build_at_init is for a few built-in layers only)
    for theirs, ours in ((KPlain(), Plain()), (KWeighted(), Weighted())):
        with pytest.raises(ValueError, match="isn't built"):
            theirs.count_params()
        with pytest.raises(ValueError, match=r"count_params: layer .* is not built yet"):
            ours.count_params()
    layer = Weighted()
    layer(np.ones((2, 3), "float32"))
    assert layer.count_params() == 3


def test_summary_of_a_built_model_counts_as_keras(keras):
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.5),
                               keras.layers.Dense(2)])
    model = gn.Sequential([L.Input((4,)), L.Dense(3), L.Dropout(0.5), L.Dense(2)], name="counted")
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Total params: {theirs.count_params()}" in lines[0] and model.count_params() == theirs.count_params()
