"""keras.io examples ported to glassnet and run beside Keras 3.15 on the same data and weights (round
ports4): "Classification with Gated Residual and Variable Selection Networks" (its Keras 3 form:
GatedLinearUnit, GatedResidualNetwork and VariableSelection as Layer subclasses with call, ops.clip,
expand_dims, stack, transpose, matmul, squeeze), "Image segmentation with a U-Net-like architecture",
"Timeseries anomaly detection using an Autoencoder" and "Structured data learning with
TabTransformer".

What the ports met: the GRN example's Keras 3 port gives each block ``def build(self): self.built =
True`` ("to remove the build warnings"), a build that takes no shape. Keras 3.15 hands ``build``
only the shapes its signature names, so it calls that one without arguments; glassnet called
``build(input_shape)`` and failed with Python's bare "takes 1 positional argument but 2 were given".

Where the ports differ from Keras by design (docs/keras_parity.md), they are written as glassnet's
docs say: Keras' ``Input(shape=())`` is ``(1,)`` here, so its ``ops.expand_dims(x, -1)`` is left out
and an Embedding of such an Input is squeezed (or flattened) to ``(output_dim,)``; training is
compared with SGD, since Adam/AdamW put ``epsilon`` where torch.optim does (the U-Net's biases before
BatchNormalization, whose gradients are about 1e-7, take visibly different Adam steps) and an
Embedding's repeated ids are squared one by one under Keras on TensorFlow; Dropout rates are 0 in
training comparisons (the two draw different masks)."""
from functools import partial

import numpy as np

import glassnet as gn


def _close_histories(theirs, ours, atol):
    assert sorted(theirs) == sorted(ours)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=atol, err_msg=key)


def _close_weights(theirs, ours, atol=1e-5):
    theirs, ours = theirs.get_weights(), ours.get_weights()
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=atol)


# --- Gated Residual and Variable Selection Networks (keras.io structured_data, Keras 3 form) ---

_CATEGORICAL = {"c1": 4, "c2": 3}
_FEATURES = ["n1", "c1", "n2", "c2"]


def _grn_vsn_model(lib, keras, units=4, dropout_rate=0.0):
    """The example's classes as written there, ``lib`` Keras or glassnet; only the two lines on
    ``Input(shape=())`` differ (see the module docstring)."""
    layers, ops = lib.layers, lib.ops
    on_keras = lib is keras

    class GatedLinearUnit(layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.linear = layers.Dense(units)
            self.sigmoid = layers.Dense(units, activation="sigmoid")

        def call(self, inputs):
            return self.linear(inputs) * self.sigmoid(inputs)

        # Remove build warnings
        def build(self):
            self.built = True

    class GatedResidualNetwork(layers.Layer):
        def __init__(self, units, dropout_rate):
            super().__init__()
            self.units = units
            self.elu_dense = layers.Dense(units, activation="elu")
            self.linear_dense = layers.Dense(units)
            self.dropout = layers.Dropout(dropout_rate)
            self.gated_linear_unit = GatedLinearUnit(units)
            self.layer_norm = layers.LayerNormalization()
            self.project = layers.Dense(units)

        def call(self, inputs):
            x = self.elu_dense(inputs)
            x = self.linear_dense(x)
            x = self.dropout(x)
            if inputs.shape[-1] != self.units:
                inputs = self.project(inputs)
            x = inputs + self.gated_linear_unit(x)
            x = self.layer_norm(x)
            return x

        def build(self):
            self.built = True

    class VariableSelection(layers.Layer):
        def __init__(self, num_features, units, dropout_rate):
            super().__init__()
            self.units = units
            self.embeddings = dict()
            for input_ in _CATEGORICAL:
                self.embeddings[input_] = layers.Embedding(input_dim=_CATEGORICAL[input_], output_dim=self.units,
                                                           name=input_)
            self.proj_layer = dict()
            for input_ in _FEATURES:
                if input_ not in _CATEGORICAL:
                    self.proj_layer[input_] = layers.Dense(units=self.units)
            self.grns = list()
            for idx in range(num_features):
                self.grns.append(GatedResidualNetwork(units, dropout_rate))
            self.grn_concat = GatedResidualNetwork(units, dropout_rate)
            self.softmax = layers.Dense(units=num_features, activation="softmax")

        def call(self, inputs):
            concat_inputs = []
            for input_ in inputs:
                if input_ in _CATEGORICAL:
                    max_index = self.embeddings[input_].input_dim - 1
                    embedded = self.embeddings[input_](ops.clip(inputs[input_], 0, max_index))
                    concat_inputs.append(embedded if on_keras else ops.squeeze(embedded, axis=1))
                else:
                    proj_feature = ops.expand_dims(inputs[input_], -1) if on_keras else inputs[input_]
                    concat_inputs.append(self.proj_layer[input_](proj_feature))
            v = layers.concatenate(concat_inputs)
            v = self.grn_concat(v)
            v = ops.expand_dims(self.softmax(v), axis=-1)
            x = []
            for idx, input in enumerate(concat_inputs):
                x.append(self.grns[idx](input))
            x = ops.stack(x, axis=1)
            return ops.squeeze(ops.matmul(ops.transpose(v, axes=[0, 2, 1]), x), axis=1)

        def build(self):
            self.built = True

    inputs = {name: layers.Input(name=name, shape=(), dtype="int64" if name in _CATEGORICAL else "float32")
              for name in _FEATURES}
    features = VariableSelection(len(inputs), units, dropout_rate)(inputs)
    outputs = layers.Dense(units=1, activation="sigmoid")(features)
    return lib.Model(inputs=inputs, outputs=outputs)


def test_grn_and_vsn_example_with_keras3_shapeless_builds_trains_as_keras(keras):
    keras.utils.set_random_seed(0)          # Keras' initial weights, whatever ran before
    rng = np.random.default_rng(0)
    n = 32
    data = {name: rng.integers(0, _CATEGORICAL[name], n) if name in _CATEGORICAL
            else rng.normal(size=n).astype("float32") for name in _FEATURES}
    y = ((data["n1"] + data["c1"]) > 1).astype("float32")
    theirs = _grn_vsn_model(keras, keras)
    ours = _grn_vsn_model(gn, keras)                # TypeError: build() takes 1 positional argument
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), atol=1e-6)
    histories = []
    for model, lib in ((theirs, keras), (ours, gn)):
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.5), loss=lib.losses.BinaryCrossentropy(),
                      metrics=[lib.metrics.BinaryAccuracy(name="accuracy")])
        stop = lib.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
        histories.append(model.fit(data, y, epochs=4, batch_size=8, validation_split=0.25, shuffle=False,
                                   callbacks=[stop], verbose=0).history)
    _close_histories(*histories, atol=2e-6)
    np.testing.assert_allclose(ours.evaluate(data, y, verbose=0), theirs.evaluate(data, y, verbose=0), rtol=1e-5,
                               atol=2e-6)
    _close_weights(theirs, ours)


def test_a_build_taking_no_shape_is_called_without_one():
    """Keras 3.15 calls ``build()`` with the shapes its signature names: none here. Both kinds of
    glassnet layer take it, a block drawn from ``call`` and a layer computing in ``forward``."""
    built = []

    class Block(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def build(self):
            built.append("block")
            self.built = True

        def call(self, inputs):
            return self.dense(inputs) * 2.0

    class Twice(gn.layers.Layer):
        def build(self):
            built.append("twice")
            self.built = True

        def forward(self, x, training=False):
            return 2.0 * x

        def backward(self, grad_output):
            return 2.0 * grad_output

    x = np.arange(12.0).reshape(4, 3)
    inputs = gn.Input((3,))
    model = gn.Model(inputs, Twice()(Block()(inputs)), seed=0)
    assert built == ["block", "twice"]
    dense = next(layer for layer in model.layers if isinstance(layer, gn.layers.Dense))
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), 4.0 * (x @ kernel + bias), rtol=1e-6)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, np.zeros((4, 2)), epochs=1, verbose=0)
    sequential = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2), Twice()], seed=0)
    assert sequential.predict(x, verbose=0).shape == (4, 2)


# --- U-Net-like segmenter (keras.io vision/oxford_pets_image_segmentation), filters cut down ---

def _unet(lib, img_size, num_classes, down=(4, 4, 8, 8), up=(8, 8, 4, 4)):
    layers = lib.layers
    inputs = lib.Input(shape=img_size + (3,))
    x = layers.Conv2D(down[0], 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x
    for filters in down[1:]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])
        previous_block_activation = x
    for filters in up:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.UpSampling2D(2)(x)
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])
        previous_block_activation = x
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)
    return lib.Model(inputs, outputs)


def test_unet_segmenter_trains_as_keras(keras):
    keras.utils.set_random_seed(0)          # Keras' initial weights, whatever ran before
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 32, 32, 3)).astype("float32")
    y = ((x[..., :1] > 0.3).astype("uint8") + (x[..., 1:2] > 0.5)).astype("uint8")     # (n, H, W, 1)
    theirs, ours = _unet(keras, (32, 32), 3), _unet(gn, (32, 32), 3)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=2e-6)
    histories = []
    for model, lib in ((theirs, keras), (ours, gn)):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        histories.append(model.fit(x[:6], y[:6], epochs=2, batch_size=3, shuffle=False, verbose=0,
                                   validation_data=(x[6:], y[6:])).history)
    _close_histories(*histories, atol=5e-6)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5, atol=5e-6)
    _close_weights(theirs, ours)
    # the example's read-out: each pixel's class
    np.testing.assert_array_equal(np.argmax(ours.predict(x, verbose=0), axis=-1),
                                  np.argmax(theirs.predict(x, verbose=0), axis=-1))


# --- Timeseries anomaly detection with a Conv1D/Conv1DTranspose autoencoder (keras.io timeseries) ---

_STEPS = 24


def _autoencoder(lib, rate):
    layers = lib.layers
    return lib.Sequential([
        layers.Input(shape=(_STEPS, 1)),
        layers.Conv1D(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Dropout(rate=rate),
        layers.Conv1D(filters=4, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(filters=4, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Dropout(rate=rate),
        layers.Conv1DTranspose(filters=8, kernel_size=7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
    ])


def _create_sequences(values, time_steps=_STEPS):
    output = []
    for i in range(len(values) - time_steps + 1):
        output.append(values[i: (i + time_steps)])
    return np.stack(output)


def _anomalies(model, x_train, x_test, test_length):
    """The example's read-out: the threshold (the largest training MAE) and the anomalous points."""
    train_mae_loss = np.mean(np.abs(np.asarray(model.predict(x_train, verbose=0)) - x_train), axis=1)
    threshold = np.max(train_mae_loss)
    test_mae_loss = np.mean(np.abs(np.asarray(model.predict(x_test, verbose=0)) - x_test), axis=1).reshape((-1))
    anomalies = test_mae_loss > threshold
    indices = [i for i in range(_STEPS - 1, test_length - _STEPS + 1) if np.all(anomalies[i - _STEPS + 1: i])]
    return threshold, anomalies, indices


def test_anomaly_autoencoder_trains_stops_and_flags_as_keras(keras):
    keras.utils.set_random_seed(0)          # Keras' initial weights, whatever ran before
    rng = np.random.default_rng(0)
    series = (np.sin(np.arange(200) / 5) + 0.1 * rng.normal(size=200)).astype("float32")
    mean, std = series.mean(), series.std()
    x_train = _create_sequences(((series - mean) / std)[:, None])
    test = series.copy()
    test[120:130] += 3.0
    x_test = _create_sequences(((test - mean) / std)[:, None])
    # Dropout 0.2, as the example, for inference; 0 for training beside Keras
    theirs, ours = _autoencoder(keras, 0.2), _autoencoder(gn, 0.2)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x_test, verbose=0), theirs.predict(x_test, verbose=0), atol=1e-6)
    keras.utils.set_random_seed(0)
    theirs, ours = _autoencoder(keras, 0.0), _autoencoder(gn, 0.0)
    ours.set_weights(theirs.get_weights())
    histories = []
    for model, lib in ((theirs, keras), (ours, gn)):
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse")
        stop = lib.callbacks.EarlyStopping(monitor="val_loss", patience=1, mode="min")
        histories.append(model.fit(x_train, x_train, epochs=10, batch_size=32, validation_split=0.1, shuffle=False,
                                   callbacks=[stop], verbose=0).history)
    assert len(histories[0]["loss"]) < 10           # it stopped early, at the same epoch in both
    _close_histories(*histories, atol=1e-5)
    _close_weights(theirs, ours)
    (t_theirs, a_theirs, i_theirs), (t_ours, a_ours, i_ours) = (
        _anomalies(model, x_train, x_test, len(test)) for model in (theirs, ours))
    np.testing.assert_allclose(t_ours, t_theirs, rtol=1e-5)
    np.testing.assert_array_equal(a_ours, a_theirs)
    assert i_theirs and i_ours == i_theirs


# --- TabTransformer (keras.io structured_data/tabtransformer), numeric ids for the categories ---

_TAB_CATEGORICAL = {"c1": 4, "c2": 3, "c3": 5}
_TAB_FEATURES = ["n1", "c1", "c2", "n2", "c3"]


def _tabtransformer(lib, keras, embedding_dims=4, dropout_rate=0.0):
    layers, ops = lib.layers, lib.ops
    on_keras = lib is keras

    def create_mlp(hidden_units, dropout_rate, activation, normalization_layer, name=None):
        mlp_layers = []
        for units in hidden_units:
            mlp_layers.append(normalization_layer())
            mlp_layers.append(layers.Dense(units, activation=activation))
            mlp_layers.append(layers.Dropout(dropout_rate))
        return lib.Sequential(mlp_layers, name=name)

    inputs = {name: layers.Input(name=name, shape=(), dtype="float32") for name in _TAB_FEATURES}
    categorical, numerical = [], []
    for name in inputs:
        if name in _TAB_CATEGORICAL:
            embedded = layers.Embedding(input_dim=_TAB_CATEGORICAL[name], output_dim=embedding_dims)(inputs[name])
            categorical.append(embedded if on_keras else layers.Flatten()(embedded))
        else:
            numerical.append(ops.expand_dims(inputs[name], -1) if on_keras else inputs[name])
    encoded = ops.stack(categorical, axis=1)
    numerical_features = layers.concatenate(numerical)
    for block_idx in range(2):
        attention_output = layers.MultiHeadAttention(num_heads=2, key_dim=embedding_dims, dropout=dropout_rate,
                                                     name=f"multihead_attention_{block_idx}")(encoded, encoded)
        x = layers.Add(name=f"skip_connection1_{block_idx}")([attention_output, encoded])
        x = layers.LayerNormalization(name=f"layer_norm1_{block_idx}", epsilon=1e-6)(x)
        feedforward_output = create_mlp([embedding_dims], dropout_rate, lib.activations.gelu,
                                        partial(layers.LayerNormalization, epsilon=1e-6),
                                        name=f"feedforward_{block_idx}")(x)
        x = layers.Add(name=f"skip_connection2_{block_idx}")([feedforward_output, x])
        encoded = layers.LayerNormalization(name=f"layer_norm2_{block_idx}", epsilon=1e-6)(x)
    categorical_features = layers.Flatten()(encoded)
    numerical_features = layers.LayerNormalization(epsilon=1e-6)(numerical_features)
    features = layers.concatenate([categorical_features, numerical_features])
    mlp_hidden_units = [factor * features.shape[-1] for factor in (2, 1)]
    features = create_mlp(mlp_hidden_units, dropout_rate, lib.activations.selu, layers.BatchNormalization,
                          name="MLP")(features)
    outputs = layers.Dense(units=1, activation="sigmoid", name="sigmoid")(features)
    return lib.Model(inputs=inputs, outputs=outputs)


def test_tabtransformer_trains_as_keras(keras):
    keras.utils.set_random_seed(0)          # Keras' initial weights, whatever ran before
    rng = np.random.default_rng(0)
    n = 24
    data = {name: rng.integers(0, _TAB_CATEGORICAL[name], n).astype("float32") if name in _TAB_CATEGORICAL
            else rng.normal(size=n).astype("float32") for name in _TAB_FEATURES}
    y = ((data["n1"] > 0) ^ (data["c1"] > 1)).astype("float32")
    theirs, ours = _tabtransformer(keras, keras), _tabtransformer(gn, keras)
    assert ours.count_params() == theirs.count_params()
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(data, verbose=0), theirs.predict(data, verbose=0), atol=1e-6)
    histories = []
    for model, lib in ((theirs, keras), (ours, gn)):
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss=lib.losses.BinaryCrossentropy(),
                      metrics=[lib.metrics.BinaryAccuracy(name="accuracy")])
        histories.append(model.fit(data, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
                                   validation_data=(data, y)).history)
    _close_histories(*histories, atol=5e-6)
    np.testing.assert_allclose(ours.evaluate(data, y, verbose=0), theirs.evaluate(data, y, verbose=0), rtol=1e-5,
                               atol=5e-6)
    _close_weights(theirs, ours)
