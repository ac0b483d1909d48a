"""Two follow-ups of the training-default work (glassnet._flagless), each against Keras 3.15 live.

1. The image preprocessing layers and Pipeline declare Keras' ``call(self, data,
   training=True)`` default (``Layer.training_default``): called alone they augment, and in a
   Sequential, a functional model, a subclass, a nested model or a model file, a pass given no
   flag (``model(x)``) runs them in training mode while ``predict`` and ``model(x,
   training=False)`` do not; ``layer(x, training=None)`` given None is inference, as Keras hands
   None to ``call``. The check is deterministic: ``RandomTranslation((0.5, 0.5), (0, 0))``
   always shifts by half the height, so values compare with Keras' to 1e-5; RandomFlip's
   statistics too.
2. (below) Sequential subclasses with Keras' steps of their own.
"""
import inspect

import numpy as np
import pytest

import glassnet as gn

SHAPE = (6, 6, 1)


def _images(n=8, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, size=(n, *SHAPE)).astype(np.float32)


def _shift(K):
    """A translation by half the height, every call: deterministic in training, the identity in inference."""
    return K.layers.RandomTranslation((0.5, 0.5), (0.0, 0.0), fill_mode="constant")


def _models(K, form):
    """The model of ``form`` built with Keras' API ``K`` (keras or glassnet): the shift, alone or
    inside, then a Flatten."""
    if form == "alone":
        return _shift(K)
    if form == "sequential":
        return K.Sequential([K.Input(SHAPE), _shift(K), K.layers.Flatten()])
    if form == "functional":
        inputs = K.Input(SHAPE)
        return K.Model(inputs, K.layers.Flatten()(_shift(K)(inputs)))
    if form == "nested_sequential":          # keras.io's data_augmentation = Sequential([...]) in a functional model
        augmentation = K.Sequential([_shift(K), K.layers.Identity()])
        inputs = K.Input(SHAPE)
        return K.Model(inputs, K.layers.Flatten()(augmentation(inputs)))
    if form == "sequential_in_sequential":
        return K.Sequential([K.Input(SHAPE), K.Sequential([_shift(K)]), K.layers.Flatten()])
    if form == "pipeline":
        return K.Sequential([K.Input(SHAPE), K.layers.Pipeline([_shift(K)]), K.layers.Flatten()])
    base = K.Model

    class TakesNoFlag(base):          # Keras' predict_step calls self(x): no flag, so it shifts there too
        def __init__(self):
            super().__init__()
            self.shift, self.flat = _shift(K), K.layers.Flatten()

        def call(self, x):
            return self.flat(self.shift(x))

    class HandsNoneOn(base):          # shift(x, training=None): None given, inference in model(x)
        def __init__(self):
            super().__init__()
            self.shift, self.flat = _shift(K), K.layers.Flatten()

        def call(self, x, training=None):
            return self.flat(self.shift(x, training=training))

    class KeepsIt(base):              # takes training, hands nothing on: the layer's default in model(x)
        def __init__(self):
            super().__init__()
            self.shift, self.flat = _shift(K), K.layers.Flatten()

        def call(self, x, training=None):
            return self.flat(self.shift(x))

    model = {"takes_no_flag": TakesNoFlag, "hands_none_on": HandsNoneOn, "keeps_it": KeepsIt}[form]()
    model.build((None, *SHAPE))
    return model


FORMS = ["alone", "sequential", "functional", "nested_sequential", "sequential_in_sequential", "pipeline",
         "takes_no_flag", "hands_none_on", "keeps_it"]


def _passes(model, x, alone=False):
    """Each pass's output: model(x), given None, given False, given True, and predict."""
    out = {"no flag": model(x), "None": model(x, training=None), "False": model(x, training=False),
           "True": model(x, training=True)}
    if not alone:
        out["predict"] = model.predict(x, verbose=0)
    return {key: np.asarray(value) for key, value in out.items()}


@pytest.mark.parametrize("form", FORMS)
def test_each_pass_as_keras(keras, form):
    """model(x) given no flag shifts (the layers' call default) where Keras' does, in every form;
    predict and training=False never do, training=True always does; values to 1e-5."""
    if form == "pipeline" and not hasattr(keras.layers, "Pipeline"):
        pytest.skip("Keras without Pipeline")
    x = _images()
    theirs = _passes(_models(keras, form), x, alone=form == "alone")
    ours = _passes(_models(gn, form), x, alone=form == "alone")
    flat = x if form == "alone" else x.reshape(len(x), -1)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, err_msg=f"{form}: {key}")
        assert ours[key].dtype == np.float32
    # the check is not empty: Keras shifts in some passes and not in others
    assert not np.allclose(theirs["True"], flat) and np.allclose(theirs["False"], flat)
    shifted = {key for key in theirs if not np.allclose(theirs[key], flat)}
    # a model given None resolves as given nothing; a layer given None hands it to call (inference)
    expected = {"no flag", "None", "True"} | ({"predict"} if form == "takes_no_flag" else set())
    if form == "hands_none_on":
        expected = {"True"}             # the layer is handed the model's None, or predict's False
    if form == "alone":
        expected = {"no flag", "True"}
    assert shifted == expected, form


def test_dropout_beside_an_augmentation_stays_in_inference_in_model_x(keras):
    """Keras' Dropout defaults to training=False: in model(x) the shift runs, the dropout does not."""
    x = _images(4)
    theirs = keras.Sequential([keras.Input(SHAPE), _shift(keras), keras.layers.Dropout(0.9), keras.layers.Flatten()])
    ours = gn.Sequential([gn.Input(SHAPE), _shift(gn), gn.layers.Dropout(0.9), gn.layers.Flatten()], seed=0)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), atol=1e-5)
    assert not np.allclose(ours(x), x.reshape(4, -1))


def test_random_flip_statistics_as_keras(keras):
    """RandomFlip in a Sequential: model(x) flips about half the images, Keras' and ours; predict none."""
    x = np.random.default_rng(3).uniform(size=(200, 4, 5, 1)).astype(np.float32)

    def fraction(model):
        flipped = np.asarray(model(x))
        same = np.all(flipped == x, axis=(1, 2, 3))
        mirrored = np.all(np.isclose(flipped, x[:, :, ::-1]), axis=(1, 2, 3))
        assert np.all(same | mirrored)
        np.testing.assert_array_equal(model.predict(x, verbose=0), x)
        return mirrored.mean()

    theirs = fraction(keras.Sequential([keras.Input((4, 5, 1)), keras.layers.RandomFlip("horizontal", seed=2)]))
    ours = fraction(gn.Sequential([gn.Input((4, 5, 1)), gn.layers.RandomFlip("horizontal")], seed=2))
    # binomial(200, 1/2): 5 standard deviations are 0.18
    assert abs(theirs - 0.5) < 0.18 and abs(ours - 0.5) < 0.18


def test_random_crop_model_x_crops_a_window_as_keras_and_predict_resizes(keras):
    """RandomCrop in a Sequential given no flag: a window of the image, as Keras' training crops;
    predict: the image resized to the window's size (Keras 3.15's Sequential here hands the 6 x 6
    images back whole: glassnet keeps its documented resize)."""
    x = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6, 1)
    theirs = keras.Sequential([keras.Input(SHAPE), keras.layers.RandomCrop(4, 4, seed=0)])
    ours = gn.Sequential([gn.Input(SHAPE), gn.layers.RandomCrop(4, 4)], seed=0)
    np.testing.assert_array_equal(ours.predict(x, verbose=0), gn.layers.Resizing(4, 4, crop_to_aspect_ratio=True)(x))
    windows = {x[i, r:r + 4, c:c + 4].tobytes() for i in range(2) for r in range(3) for c in range(3)}
    for model in (theirs, ours):
        out = np.asarray(model(x))
        assert out.shape == (2, 4, 4, 1) and all(image.tobytes() in windows for image in out)


@pytest.mark.parametrize("form", ["sequential", "functional", "nested_sequential", "takes_no_flag"])
def test_model_files_keep_it(keras, form, tmp_path):
    """Saved and loaded (a subclass comes back as the functional model of its graph), model(x)
    still shifts and predict does not, as Keras' model before saving."""
    x = _images(4)
    theirs = _passes(_models(keras, form), x)
    model = _models(gn, form)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    ours = _passes(loaded, x)
    for key in ("no flag", "False", "True"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, err_msg=key)
    # a subclass whose call took no flag comes back as a functional model, which predict gives
    # training=False: it no longer shifts there (the file keeps the graph, not the class's call)
    np.testing.assert_allclose(ours["predict"], theirs["False"], atol=1e-5)


def test_a_pass_given_no_flag_has_the_gradient_of_what_it_computed():
    """GradientTape over model(x) (the shift in training mode) in float64: the kernel's gradient
    equals central differences of the same pass, and differs from inference's."""
    x = _images(3).astype(np.float64)
    model = gn.Sequential([gn.Input(SHAPE), _shift(gn), gn.layers.Flatten(), gn.layers.Dense(2)],
                          seed=0, dtype="float64")
    weights = np.random.default_rng(5).normal(size=(3, 2))

    def loss(training):
        return float(np.sum(np.asarray(model(x) if training is None else model(x, training=training)) * weights))

    with gn.GradientTape() as tape:
        value = gn.ops.sum(model(x) * weights)
    kernel = model.layers[-1].params["kernel"]
    grad = np.asarray(tape.gradient(value, model.trainable_weights)[0])
    numeric = np.zeros_like(kernel)
    for index in np.ndindex(kernel.shape):
        saved = kernel[index]
        kernel[index] = saved + 1e-6
        up = loss(None)
        kernel[index] = saved - 1e-6
        numeric[index] = (up - loss(None)) / 2e-6
        kernel[index] = saved
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    shifted = np.asarray(model.layers[0](x, training=True)).reshape(3, -1)        # (deterministic)
    assert not np.allclose(shifted, x.reshape(3, -1))
    np.testing.assert_allclose(grad, shifted.T @ weights, atol=1e-10)
    assert not np.allclose(grad, x.reshape(3, -1).T @ weights)


def test_training_defaults_are_keras_call_defaults(keras):
    """Every glassnet layer named as a Keras 3.15 layer declares the default of that layer's
    ``call(..., training=...)`` (True for the image preprocessing layers and Pipeline, else
    False); those without a Keras namesake that declare True are image augmentations."""
    checked = 0
    for name in dir(gn.layers):
        ours = getattr(gn.layers, name)
        if not (inspect.isclass(ours) and issubclass(ours, gn.layers.Layer)):
            continue
        theirs = getattr(keras.layers, name, None)
        if not (inspect.isclass(theirs) and hasattr(theirs, "call")):
            continue
        parameter = inspect.signature(theirs.call).parameters.get("training")
        default = parameter is not None and parameter.default is True
        assert ours.training_default is default, name
        checked += 1
    assert checked > 100
    for name in ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                 "RandomBrightness", "RandomCrop", "Resizing", "CenterCrop", "Pipeline", "RandAugment", "AugMix",
                 "MixUp", "CutMix", "Solarization", "RandomColorJitter"):
        assert getattr(gn.layers, name).training_default is True, name
    for name in ("Dropout", "BatchNormalization", "GaussianNoise", "Dense", "Rescaling", "Normalization"):
        assert getattr(gn.layers, name).training_default is False, name


def test_a_flag_that_is_not_a_bool_is_refused_by_name():
    x = _images(2)
    with pytest.raises(TypeError, match=r"RandomTranslation.*training must be True, False or None, got 'yes'"):
        _shift(gn)(x, training="yes")
    model = gn.Sequential([gn.Input(SHAPE), _shift(gn)])
    with pytest.raises(TypeError, match="training"):
        model(x, training="yes")
