"""Small Keras 3.15 parity points, each checked against Keras itself: count_params of a layer not
built yet, default model names numbered per session, the attention layers' positional call
arguments, and the CLI's --loss ce."""
import inspect

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


# -- default model names, numbered per session ----------------------------------------------------
def _names_made(module, clear):
    """The default names of models made in one order, after a fresh session: Sequentials,
    functional Models, subclasses, and models given a name (which count nothing)."""
    clear()
    x = module.Input((3,))
    y = module.layers.Dense(2)(x)

    class MyCNNModel(module.Model):
        def call(self, inputs):
            return inputs

    made = [module.Sequential(), module.Sequential(), module.Sequential(name="sequential"), module.Sequential(),
            module.Model(x, y), module.Model(inputs=x, outputs=y), module.Model(x, y, name="functional"),
            MyCNNModel(), MyCNNModel(), module.Model(x, y)]
    names = [model.name for model in made]
    clear()
    return names + [module.Sequential().name, module.Model(x, y).name, MyCNNModel().name]


def test_default_model_names_are_numbered_per_session_as_keras(keras):
    theirs = _names_made(keras, keras.utils.clear_session)
    assert _names_made(gn, gn.utils.clear_session) == theirs
    assert theirs[:4] == ["sequential", "sequential_1", "sequential", "sequential_2"]


def test_backend_clear_session_is_the_utils_one(keras):
    assert keras.backend.clear_session is keras.utils.clear_session
    gn.Sequential()
    gn.backend.clear_session()
    assert gn.Sequential().name == "sequential"


def test_a_loaded_model_keeps_its_name_and_takes_no_number(tmp_path):
    gn.utils.clear_session()
    gn.Sequential()
    model = gn.Sequential([L.Input((2,)), L.Dense(1)])
    assert model.name == "sequential_1"
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").name == "sequential_1"
    assert gn.Sequential().name == "sequential_2"


# -- the attention layers' call arguments, in Keras' order ----------------------------------------
def _attention_pair(keras, rng, grouped=False):
    q, v, k = (rng.standard_normal(shape).astype("float32") for shape in ((2, 4, 8), (2, 5, 8), (2, 5, 8)))
    if grouped:
        ours, theirs = L.GroupQueryAttention(2, 4, 1, seed=0), keras.layers.GroupQueryAttention(2, 4, 1)
    else:
        ours, theirs = L.MultiHeadAttention(2, 3, seed=0), keras.layers.MultiHeadAttention(2, 3)
    ours(q, v, k)
    theirs(q, v, k)
    theirs.set_weights(ours.get_weights())
    return ours, theirs, (q, v, k)


@pytest.mark.filterwarnings("ignore:.*query_mask is ignored")
@pytest.mark.parametrize("grouped", [False, True], ids=["MultiHeadAttention", "GroupQueryAttention"])
def test_masks_given_by_position_mean_what_they_mean_in_keras(keras, rng, grouped):
    ours, theirs, (q, v, k) = _attention_pair(keras, rng, grouped)
    assert list(inspect.signature(type(theirs).call).parameters)[1:] == list(ours._CALL_ARGUMENTS)
    value_mask = rng.random((2, 5)) > 0.3
    key_mask = rng.random((2, 5)) > 0.3
    attention_mask = rng.random((2, 4, 5)) > 0.2
    value_mask[:, 0] = key_mask[:, 0] = attention_mask[:, :, 0] = True     # every query attends somewhere
    # (Keras 3.15 fills a query_mask, value_mask or key_mask given None by position with the
    # tensor's own mask, by keyword, and then fails with "multiple values": given masks only here;
    # a padded query step: Keras' MultiHeadAttention ignores its query_mask, as glassnet's does with
    # a warning, and its GroupQueryAttention reads it)
    query_mask = np.ones((2, 4), bool)
    query_mask[1, 2] = False
    for args in ((q, v, k, query_mask, value_mask), (q, v, k, query_mask, value_mask, key_mask),
                 (q, v, k, query_mask, value_mask, key_mask, attention_mask)):
        out, scores = ours(*args, return_attention_scores=True)
        expected, expected_scores = theirs(*args, return_attention_scores=True)
        np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(scores, np.asarray(expected_scores), rtol=1e-5, atol=1e-6)
    # and the masks change the output (the test above would pass if they were dropped otherwise)
    assert not np.allclose(ours(q, v, k, query_mask, value_mask), ours(q, v, k))
    # None by position is no mask (where Keras fails, as said above)
    np.testing.assert_allclose(ours(q, v, k, None, value_mask), ours(q, v, k, value_mask=value_mask), rtol=1e-6)


@pytest.mark.parametrize("grouped", [False, True], ids=["MultiHeadAttention", "GroupQueryAttention"])
def test_a_flag_given_by_position_is_refused_as_keras_refuses_it(keras, rng, grouped):
    ours, theirs, (q, v, k) = _attention_pair(keras, rng, grouped)
    with pytest.raises(ValueError, match="Only input tensors may be passed as positional arguments"):
        theirs(q, v, k, True)
    # (glassnet's call took training 4th before: now the query's mask's place, as Keras')
    with pytest.raises(TypeError, match=r"got True by position for query_mask.*give a flag by keyword \(training="):
        ours(q, v, k, True)
    with pytest.raises(TypeError, match="return_attention_scores= by keyword"):
        ours(q, v, k, None, None, None, None, True)
    with pytest.raises(TypeError, match="got key by position and by keyword"):
        ours(q, v, k, key=k)
    with pytest.raises(TypeError, match="at most 10 arguments by position"):
        ours(q, v, k, None, None, None, None, None, None, None, None)


@pytest.mark.parametrize("cls", ["Attention", "AdditiveAttention"])
def test_dot_attention_takes_the_mask_second_as_keras(keras, rng, cls):
    q, v = rng.standard_normal((2, 4, 3)).astype("float32"), rng.standard_normal((2, 5, 3)).astype("float32")
    ours, theirs = getattr(L, cls)(), getattr(keras.layers, cls)()
    ours([q, v])
    theirs([q, v])
    theirs.set_weights(ours.get_weights())
    assert list(inspect.signature(type(theirs).call).parameters)[1:3] == ["inputs", "mask"]
    mask = [rng.random((2, 4)) > 0.3, rng.random((2, 5)) > 0.3]
    mask[1][:, 0] = True
    np.testing.assert_allclose(ours([q, v], mask), np.asarray(theirs([q, v], mask)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours([q, v], mask), ours([q, v]))
    with pytest.raises(ValueError, match="Only input tensors"):
        theirs([q, v], None, True)
    with pytest.raises(TypeError, match="got True by position for training.*give training= by keyword"):
        ours([q, v], None, True)


def test_an_eager_attention_called_with_a_key_then_without_takes_the_value_as_key(keras, rng):
    ours, theirs, (q, v, k) = _attention_pair(keras, rng)
    np.testing.assert_allclose(ours(q, v), np.asarray(theirs(q, v)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(q, v, k), np.asarray(theirs(q, v, k)), rtol=1e-5, atol=1e-6)


def test_positional_masks_keep_their_gradients(rng):
    # the mask given by position reaches backward as the keyword one does: central differences
    from glassnet.gradcheck import numerical_gradient
    layer = L.MultiHeadAttention(2, 3, seed=0, dtype="float64")
    q, v = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6))
    value_mask = rng.random((2, 5)) > 0.4
    value_mask[:, 0] = True
    out = layer(q, v, None, None, value_mask)
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)

    def loss():
        return float(np.sum(layer(q, v, None, None, value_mask) * upstream))
    for x, grad in zip((q, v), grads):
        np.testing.assert_allclose(grad, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


# -- the CLI's --loss ce ----------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, concrete", [("iris", "sparse_categorical_crossentropy"),
                                                ("moons", "binary_crossentropy")])
def test_cli_loss_ce_trains_as_the_loss_keras_would_pick(tmp_path, capsys, dataset, concrete):
    from glassnet.cli import main
    from glassnet.losses.picked import picked_class
    printed = {}
    for loss in ("ce", "CrossEntropy", concrete):
        assert main(["train", dataset, "--loss", loss, "--epochs", "3", "--seed", "0", "--out",
                     str(tmp_path / loss), "--verbose", "0"]) == 0
        printed[loss] = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("train:", "test:"))]
    assert printed["ce"] == printed["CrossEntropy"] == printed[concrete]
    model = gn.load_model(tmp_path / "ce" / "model.npz")
    # the file keeps the name given (Keras' compile config does), and Keras' rule picks the same loss
    # for the CLI's integer labels (n,) and this output
    assert model.get_compile_config()["loss"] == "ce"
    assert picked_class((5,), (5, *model.output_shape[1:])).__name__ == type(gn.losses.get(concrete)).__name__
