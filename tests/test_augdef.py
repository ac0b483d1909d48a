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


# -- 2. Sequential subclasses with Keras' steps of their own ------------------------------------
def _guide_classes(K, GradientTape):
    """keras.io's "Customizing what happens in fit()" written on a Sequential subclass, with
    Keras' API ``K`` and its tape: the guide's own train_step and test_step (section 1 and 4), and
    a class ending its step with ``super().train_step`` over a ``compute_loss`` override."""

    class CustomSequential(K.Sequential):
        def train_step(self, data):
            x, y = data
            with GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    class HalvedSequential(K.Sequential):
        def train_step(self, data):
            return super().train_step(data)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return 0.5 * super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

        def predict_step(self, data):
            return 2.0 * self(data[0] if isinstance(data, tuple) else data, training=False)

    return {"CustomSequential": CustomSequential, "HalvedSequential": HalvedSequential}


def _steps_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(40, 1))).astype(np.float32)
    return x, y


def _steps_model(K, cls, **kwargs):
    return cls([K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(1)], **kwargs)


def _steps_pair(keras, name):
    import tensorflow as tf
    mine = _steps_model(gn, _guide_classes(gn, gn.GradientTape)[name], seed=0)
    theirs = _steps_model(keras, _guide_classes(keras, tf.GradientTape)[name])
    theirs.set_weights(mine.get_weights())
    for model, K in ((mine, gn), (theirs, keras)):
        model.compile(optimizer=K.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return mine, theirs


def _close(a, b, tol=1e-5):
    assert set(a) == set(b), (sorted(a), sorted(b))
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=tol, atol=tol, err_msg=key)


@pytest.mark.parametrize("name", ["CustomSequential", "HalvedSequential"])
def test_the_guide_on_a_sequential_subclass_fits_as_keras(keras, name):
    """fit (with validation: test_step, the guide's or the default over compute_loss), evaluate
    and predict (predict_step) of the guide's steps on a Sequential subclass, as Keras 3.15's:
    histories, evaluate's numbers, predictions and weights to 1e-5."""
    x, y = _steps_data()
    mine, theirs = _steps_pair(keras, name)
    fits = [model.fit(x, y, epochs=3, batch_size=8, shuffle=False, validation_data=(x[:16], y[:16]), verbose=0)
            for model in (mine, theirs)]
    _close(fits[0].history, fits[1].history)
    _close(mine.evaluate(x, y, verbose=0, return_dict=True), theirs.evaluate(x, y, verbose=0, return_dict=True))
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    for a, b in zip(mine.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # the steps ran: the halved loss is half the compiled one, the guide's loss is the compiled one
    plain = gn.Sequential([gn.Input((3,)), gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    plain.set_weights(mine.get_weights())
    factor = 0.5 if name == "HalvedSequential" else 1.0
    np.testing.assert_allclose(mine.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)["loss"],
                               factor * plain.evaluate(x, y, batch_size=40, verbose=0), rtol=1e-5)


def test_the_default_step_s_gradient_over_a_compute_loss_override_is_the_central_difference():
    """One step of HalvedSequential in float64 (SGD, rate 1): each weight moves by minus the
    gradient of half the mse, which central differences of that loss give."""
    x, y = (a.astype(np.float64) for a in _steps_data())
    model = _steps_model(gn, _guide_classes(gn, gn.GradientTape)["HalvedSequential"], seed=0, dtype="float64")
    model.compile(optimizer=gn.optimizers.SGD(1.0), loss="mse")
    before = [w.copy() for w in model.get_weights()]

    def loss():
        return 0.5 * float(np.mean((model(x, training=False) - y) ** 2))

    numeric = []
    for weight in model.trainable_weights:
        grad = np.zeros(weight.shape)
        for index in np.ndindex(weight.shape):
            saved = weight[index]
            weight[index] = saved + 1e-6
            up = loss()
            weight[index] = saved - 1e-6
            grad[index] = (up - loss()) / 2e-6
            weight[index] = saved
        numeric.append(grad)
    model.train_on_batch(x, y)
    for old, new, grad in zip(before, model.get_weights(), numeric):
        np.testing.assert_allclose(old - new, grad, rtol=1e-6, atol=1e-9)


def test_a_model_file_of_the_subclass_continues_fit_with_its_step(keras, tmp_path):
    """Saved after a fit and loaded with custom_objects, the subclass comes back and a further fit
    runs its own train_step: the history and weights of Keras 3.15's model fit on, to 1e-5."""
    x, y = _steps_data()
    mine, theirs = _steps_pair(keras, "HalvedSequential")
    for model in (mine, theirs):
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    mine.save(tmp_path / "halved.npz")
    cls = type(mine)
    loaded = gn.load_model(tmp_path / "halved.npz", custom_objects={"HalvedSequential": cls})
    assert type(loaded) is cls and loaded._own_steps
    _close(loaded.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history,
           theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history)
    for a, b in zip(loaded.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # without the class: a plain Sequential (warned), whose fit is the compiled step: twice the loss
    with pytest.warns(UserWarning, match="HalvedSequential"):
        plain = gn.load_model(tmp_path / "halved.npz")
    assert type(plain) is gn.Sequential
    fresh = gn.load_model(tmp_path / "halved.npz", custom_objects={"HalvedSequential": cls})
    np.testing.assert_allclose(plain.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)["loss"],
                               2 * fresh.evaluate(x, y, batch_size=40, verbose=0, return_dict=True)["loss"], rtol=1e-5)


def test_a_sequential_subclass_still_refuses_a_call_of_its_own():
    with pytest.raises(TypeError, match="a subclass of Sequential defines call"):
        type("WithCall", (gn.Sequential,), {"call": lambda self, x: x})
