"""keras.io's recommender and structured-data examples ported to glassnet beside Keras 3.15
(collaborative filtering for movie recommendations; structured data classification with
FeatureSpace): what the ports met."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


class _SlicesInCall(gn.Model):
    """RecommenderNet's ``call`` as Keras writes it: ``inputs[:, 0]``, ``inputs[:, 1]``."""
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.users, self.movies = L.Embedding(5, 2), L.Embedding(7, 2)

    def call(self, inputs):
        return L.Dot(axes=1)([self.users(inputs[:, 0]), self.movies(inputs[:, 1])])


def test_the_recommenders_call_slices_its_inputs_as_keras_writes_it():
    # keras.io's RecommenderNet takes inputs[:, 0] and inputs[:, 1] in call: refused at review
    # time, now a TensorOp each (layers/tensor_ops.py), with the Lambda port below still working
    model, x = _SlicesInCall(seed=0), np.array([[0, 1], [4, 6], [2, 2]])
    out = model.predict(x)
    u, m = model.users.get_weights()[0], model.movies.get_weights()[0]
    np.testing.assert_allclose(out, (u[x[:, 0]] * m[x[:, 1]]).sum(1, keepdims=True), rtol=1e-6)


def test_the_ported_recommender_slices_with_lambdas_and_matches_the_dot_of_its_rows():
    class RecommenderNet(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.users, self.movies = L.Embedding(5, 2), L.Embedding(7, 2)

        def call(self, inputs):
            users, movies = L.Lambda(lambda x: x[:, 0])(inputs), L.Lambda(lambda x: x[:, 1])(inputs)
            return L.Dot(axes=1)([self.users(users), self.movies(movies)])

    model, x = RecommenderNet(seed=0), np.array([[0, 1], [4, 6], [2, 2]])
    out = model.predict(x)
    u, m = model.users.get_weights()[0], model.movies.get_weights()[0]
    np.testing.assert_allclose(out, (u[x[:, 0]] * m[x[:, 1]]).sum(1, keepdims=True), rtol=1e-6)


def _tutorial_space():
    space = gn.utils.FeatureSpace({"age": "float_normalized", "sex": "integer_categorical",
                                   "thal": "string_categorical"}, crosses=[("sex", "thal")], crossing_dim=4)
    space.adapt({"age": np.array([40.0, 50.0, 60.0]), "sex": np.array([0, 1, 1]),
                 "thal": np.array(["normal", "fixed", "normal"])})
    return space


@pytest.mark.parametrize("dict_mode", [False, True], ids=["concat", "dict"])
def test_a_model_starting_at_encoded_features_says_how_to_write_it(dict_mode):
    # keras.io's FeatureSpace tutorial: keras.Model(inputs=encoded_features, outputs=predictions).
    # was "inputs[0] must be what glassnet.Input(shape) returned, got SymbolicTensor", not saying
    # that a layer's output cannot start a model here, nor what to write instead
    space = _tutorial_space()
    encoded = space.get_encoded_features()
    if dict_mode:
        encoded = {"thal": space.one_hot_encoders["thal"](space.preprocessors["thal"](space.get_inputs()["thal"]))}
    head = gn.layers.Dense(1)(encoded["thal"] if dict_mode else encoded)
    label = r"inputs\['thal'\]" if dict_mode else r"inputs\[0\]"
    width = 3 if dict_mode else 1 + 3 + 3 + 4      # thal's one-hot; or age, sex, thal, the cross
    expected = (r" must be what glassnet.Input\(shape\) returned, got a layer's output.*start at Inputs"
                rf".*gn\.Input\(\({width},\)\)")
    with pytest.raises(TypeError, match=label + expected):
        gn.Model(encoded, head)


def test_the_tutorials_training_model_on_an_input_of_the_width_serves_raw_dicts():
    # what the message says to write: the model trained on the encoded arrays, called on the
    # encoded features for the inference model of raw dicts
    space = _tutorial_space()
    width = space.get_encoded_features().shape[1:]
    features = gn.Input(width)
    training_model = gn.Model(features, gn.layers.Dense(1, activation="sigmoid")(features), seed=0)
    inference_model = gn.Model(space.get_inputs(), training_model(space.get_encoded_features()))
    sample = {"age": np.array([55.0]), "sex": np.array([1]), "thal": np.array(["fixed"])}
    np.testing.assert_allclose(inference_model.predict(sample), training_model.predict(space(sample)), rtol=1e-6)


def test_a_feature_space_mapped_over_a_tf_dataset_says_what_to_do_instead():
    # the tutorial's train_ds.map(lambda x, y: (feature_space(x), y)) hands the call symbolic
    # tf.Tensors: was TensorFlow's "Cannot convert a symbolic tf.Tensor to a numpy array"
    tf = pytest.importorskip("tensorflow")
    space = _tutorial_space()
    data = {"age": np.array([41.0, 52.0]), "sex": np.array([0, 1]), "thal": np.array(["fixed", "normal"])}
    dataset = tf.data.Dataset.from_tensor_slices((data, np.array([0, 1]))).batch(2)
    with pytest.raises(TypeError, match=r"FeatureSpace: data\['age'\] is a symbolic tf.Tensor.*NumPy.*get_inputs"):
        dataset.map(lambda x, y: (space(x), y))
    # eager tensors (one batch of the dataset) are encoded as their arrays are
    x, _ = next(iter(dataset))
    np.testing.assert_array_equal(space(x), space(data))
