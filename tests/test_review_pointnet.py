"""keras.io's "Structured data learning with Wide, Deep, and Cross networks" ported to glassnet: what
the port met (PointNet's port, its T-Net and activity regularizer, met nothing new: see
test_review_ports3c.py).

The tutorial declares each numeric column ``Input(shape=(), dtype="float32")`` (one number per
sample) and adds its axis with ``keras.ops.expand_dims(x, -1)``: glassnet refused the shape ``()``,
undocumented, while it took ``()`` for a string Input. A model of one such column was also fed its
column ``(n,)`` as Keras 3 takes it only when it had several inputs."""
import math

import numpy as np
import pytest

import glassnet as gn

L = gn.layers
NUMERIC = ("Elevation", "Slope")
VOCAB = {"Soil_Type": [f"soil_type_{i + 1}" for i in range(9)]}


def _deep_and_cross(lib, keras=None):
    """The tutorial's deep and cross model, narrowed (hidden_units [8, 8], dropout 0): numeric Inputs of
    shape (), a StringLookup + Embedding per string column, two cross layers x0 * Dense(x) + x, a
    BatchNormalization, the deep Dense/BN/ReLU stack and a softmax. Returns the model and its
    weighted layers in order."""
    made = []

    def keep(layer):
        made.append(layer)
        return layer

    inputs = {f: lib.layers.Input(name=f, shape=(), dtype="float32") for f in NUMERIC}
    inputs.update({f: lib.layers.Input(name=f, shape=(), dtype="string") for f in VOCAB})
    encoded = []
    for f, tensor in inputs.items():
        if f in VOCAB:
            ids = lib.layers.StringLookup(vocabulary=VOCAB[f], mask_token=None, num_oov_indices=0)(tensor)
            vectors = keep(lib.layers.Embedding(len(VOCAB[f]), int(math.sqrt(len(VOCAB[f])))))(ids)
            # glassnet's StringLookup gives one id per sample as (1,): its Embedding (1, 3)
            encoded.append(vectors if keras else lib.layers.Flatten()(vectors))
        else:       # keras.ops.expand_dims(x, -1), ported as the layer glassnet has
            encoded.append(keras.ops.expand_dims(tensor, -1) if keras else lib.layers.Reshape((1,))(tensor))
    x0 = lib.layers.concatenate(encoded)
    cross = x0
    for _ in range(2):
        x = keep(lib.layers.Dense(x0.shape[-1]))(cross)
        cross = x0 * x + cross if keras else lib.layers.Add()([lib.layers.Multiply()([x0, x]), cross])
    cross = keep(lib.layers.BatchNormalization())(cross)
    deep = x0
    for units in (8, 8):
        deep = keep(lib.layers.BatchNormalization())(keep(lib.layers.Dense(units))(deep))
        deep = lib.layers.Dropout(0.0)(lib.layers.ReLU()(deep))
    outputs = keep(lib.layers.Dense(4, activation="softmax"))(lib.layers.concatenate([cross, deep]))
    return lib.Model(inputs=inputs, outputs=outputs, **({} if keras else {"seed": 0})), made


def test_wide_deep_cross_tutorials_scalar_inputs_train_as_keras(keras):
    # glassnet: "Input: shape must hold positive integer sizes ...; got ()"
    rng = np.random.default_rng(0)
    data = {f: rng.normal(size=64).astype("float32") for f in NUMERIC}
    data["Soil_Type"] = np.array(VOCAB["Soil_Type"], dtype=object)[rng.integers(0, 9, 64)]
    y = (data["Elevation"] > 0).astype(int) * 2 + rng.integers(0, 2, 64)
    keras.utils.set_random_seed(0)
    theirs, their_layers = _deep_and_cross(keras, keras)
    ours, our_layers = _deep_and_cross(gn)
    for mine, keras_layer in zip(our_layers, their_layers):
        mine.set_weights(keras_layer.get_weights())
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), atol=1e-6)
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    ours.compile(optimizer=gn.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    expected = theirs.fit(data, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(data, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    for mine, keras_layer in zip(our_layers, their_layers):
        for a, b in zip(mine.get_weights(), keras_layer.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_scalar_input_is_one_number_per_sample():
    column = gn.Input(shape=(), name="price")
    # the batch axis first, as Keras' (None,): glassnet's sample keeps its axis
    assert column.shape == (None, 1) and column.sample_shape == (1,) and column.dtype == "float32"
    assert gn.Input(batch_shape=(None,)).shape == (None, 1)
    assert gn.Input((), dtype="string").shape == (None,)    # texts, as before: Keras' (None,)
    with pytest.raises(ValueError, match=r"Input: shape must hold positive integer sizes .*got \(0,\)"):
        gn.Input((0,))


def test_a_model_of_one_column_takes_it_as_keras(keras):
    # glassnet: "x['price']: expected a 2-D array (n_samples, n_features), got shape (3,)", where a
    # model of two columns took each (n,) and Keras 3 takes it for one as well
    column = np.array([1.0, 2.0, -1.0], dtype="float32")
    inputs = gn.Input(shape=(1,), name="price")
    ours = gn.Model(inputs, L.Dense(2)(inputs), seed=0)
    theirs_input = keras.Input((1,), name="price")
    dense = keras.layers.Dense(2)
    theirs = keras.Model(theirs_input, dense(theirs_input))
    ours.set_weights(dense.get_weights())
    expected = theirs.predict(column, verbose=0)       # Keras 3 adds the axis
    for x in (column, {"price": column}, column[:, None]):
        np.testing.assert_allclose(ours.predict(x, verbose=0), expected, atol=1e-6)
    sequential = gn.Sequential([gn.Input(()), L.Dense(2)], seed=0)
    sequential.set_weights(dense.get_weights())
    np.testing.assert_allclose(sequential.predict(column, verbose=0), expected, atol=1e-6)
    sequential.compile(loss="mse", optimizer="sgd")
    assert np.isfinite(sequential.evaluate(column, np.zeros((3, 2)), verbose=0))
    with pytest.raises(ValueError, match=r"expected a 2-D array .*got shape \(3,\)"):
        gn.Sequential([L.Dense(2)]).predict(column, verbose=0)   # no Input: (n,) says nothing of the features


def test_a_numeric_layer_on_a_string_input_names_the_lookups():
    # "call a TextVectorization on it first", where the tutorial's StringLookup is what it needs
    with pytest.raises(ValueError, match=r"this Input holds texts .*TextVectorization, StringLookup or Hashing on "
                                         r"the Input itself"):
        L.Reshape((1,))(gn.Input((), dtype="string"))
