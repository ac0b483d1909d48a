"""Review "readme35": today's features read as a new user reads the README and the docs it links
(train_step GANs, the image utilities, saving's functions, resize interpolations, STFT, the PyTorch
DCGAN and Transformers sections), each snippet run as written."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


# ---- glassnet.preprocessing.image / .sequence import as Keras' modules do --------------------------

def test_keras_from_import_forms_of_preprocessing_image_and_sequence_port():
    # Keras code reads `from keras.preprocessing.image import load_img, img_to_array`; the README
    # gives the functions "also as glassnet.preprocessing.image.*": the same statement must port
    from glassnet.preprocessing.image import array_to_img, img_to_array, load_img, save_img, smart_resize
    from glassnet.preprocessing.sequence import pad_sequences
    import glassnet.preprocessing.image as image

    assert (load_img, img_to_array, array_to_img, save_img, smart_resize) == (
        gn.utils.load_img, gn.utils.img_to_array, gn.utils.array_to_img, gn.utils.save_img, gn.utils.smart_resize)
    assert image is gn.preprocessing.image and pad_sequences is gn.utils.pad_sequences


# ---- a train_step model without call (Keras' GAN) ---------------------------------------------------

class _Steps(gn.Model):
    def train_step(self, data):
        return {"loss": 0.0}


def test_count_params_of_a_model_without_call_is_refused_not_zero():
    # its weights are its sub-models': 0 was silently wrong (get_weights, summary refuse by name;
    # Keras 3.15 refuses count_params of such a model too, as not built)
    with pytest.raises(ValueError, match=r"count_params: _Steps has no call.*gan\.generator\.count_params\(\)"):
        _Steps().count_params()


@pytest.mark.parametrize("attribute", ["weights", "trainable_weights", "non_trainable_weights"])
def test_a_weights_attribute_of_a_model_without_call_lists_its_sub_models(attribute):
    # it was refused with a hint (gan.generator.trainable_weights); since the GradientTape, a step's
    # tape.gradient(loss, self.trainable_weights) reads them, as Keras tracks them: the held models'
    # and layers' own lists, in the order assigned, each once
    class Held(_Steps):
        def __init__(self):
            super().__init__()
            self.generator = gn.Sequential([gn.Input((3,)), L.Dense(2), L.BatchNormalization()])
            self.head = L.Dense(1)
            self.head.build((2,))
            self.head.trainable = False
            self.again = [self.head]

    model = Held()
    expected = getattr(model.generator, attribute) + getattr(model.head, attribute)
    got = getattr(model, attribute)
    assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected))
    assert len(_Steps().weights) == 0


# ---- evaluate's list for a model with its own test_step: Keras' order -----------------------------

class _OwnTest(gn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(1)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        return self.train_on_batch(*data, return_dict=True)

    def test_step(self, data):
        logs = self.test_on_batch(*data, return_dict=True)       # loss and the compiled metrics
        logs.update({"zeta": 3.0, "alpha": 4.0})
        return logs


def test_evaluate_of_a_test_step_lists_the_loss_first_as_keras():
    # Keras 3.15's model.metrics starts with its "loss" tracker once compiled, then the compiled
    # metrics, and evaluate lists those first, then the other logs by sorted key: [loss, mae, alpha,
    # zeta] (loss came after mae and alpha, silently taken for another value by index)
    x = np.random.default_rng(0).random((8, 3))
    y = x.sum(axis=1, keepdims=True)
    model = _OwnTest(seed=0)
    model.compile(loss="mse", optimizer="sgd", metrics=["mae"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.evaluate(x, y, verbose=0) == [logs["loss"], logs["mae"], 4.0, 3.0]
    model = _OwnTest(seed=0)
    model.compile()                                     # Keras' super().compile(): the tracker is there too
    model.test_step = lambda data: {"zeta": 3.0, "alpha": 4.0, "loss": 1.0}
    assert model.evaluate(x, y, verbose=0) == [1.0, 4.0, 3.0]


def test_a_gans_own_metrics_property_keeps_its_order():
    class GAN(gn.Model):
        def __init__(self):
            super().__init__()
            self.g, self.d = gn.metrics.Mean(name="g_loss"), gn.metrics.Mean(name="d_loss")

        @property
        def metrics(self):
            return [self.g, self.d]

        def train_step(self, data):
            return {}

        def test_step(self, data):
            return {"loss": 5.0, "d_loss": 1.0, "g_loss": 2.0}

    gan = GAN()
    gan.compile()
    assert gan.evaluate(np.zeros((4, 2)), verbose=0) == [2.0, 1.0, 5.0]     # Keras: the property's, then by key
