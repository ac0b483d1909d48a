"""keras.io examples ported to glassnet beside Keras 3.15, the same weights and data (review ports45):
"Customizing the convolution operation of a Conv2D layer" (StandardizedConv2D), "Trainer pattern",
"Standalone Mixture-of-Experts (MoE) Layers" (DenseMoE, Conv2DMoE), "Memory-efficient embeddings
for recommendation systems" (QREmbedding, MDEmbedding): what the ports met."""
import warnings

import numpy as np
import pytest

import glassnet as gn


# -- Customizing the convolution operation of a Conv2D layer ------------------------------------------

def test_a_convolution_op_override_is_refused_rather_than_silently_ignored():
    # keras.io's StandardizedConv2DWithOverride overrides Conv2D.convolution_op; glassnet's Conv2D
    # computes in forward and never called it, so the layer convolved with the raw kernel, silently
    with pytest.raises(TypeError, match=r"(?s)convolution_op\(\).*Conv2D's forward does not call.*forward\(x"):
        class StandardizedConv2DWithOverride(gn.layers.Conv2D):
            def convolution_op(self, inputs, kernel):
                return gn.ops.conv(inputs, kernel)
    with pytest.raises(TypeError, match=r"convolution_op\(\).*Conv1D's forward"):
        class Conv1DWithOverride(gn.layers.Conv1D):
            def convolution_op(self, inputs, kernel):
                return gn.ops.conv(inputs, kernel)

    class TransposedWithOp(gn.layers.Conv2DTranspose):   # Keras' transposes never call it either: taken
        def convolution_op(self, inputs, kernel):
            return inputs

    class DenseWithOp(gn.layers.Dense):             # nor does any other layer
        def convolution_op(self, inputs, kernel):
            return inputs
    assert TransposedWithOp(2, 3)(np.zeros((1, 4, 4, 1))).shape == (1, 6, 6, 2)
    assert DenseWithOp(2)(np.zeros((1, 3))).shape == (1, 2)

    class OwnForward(gn.layers.Conv2D):          # a forward of its own may keep any helper
        def convolution_op(self, inputs, kernel):
            return gn.ops.conv(inputs, kernel)

        def forward(self, x, training=False):
            return super().forward(x, training)
    assert OwnForward(2, 3)(np.zeros((1, 4, 4, 1))).shape == (1, 2, 2, 2)


class StandardizedConv2D(gn.layers.Conv2D):
    """keras.io's StandardizedConv2D as docs/layers.md ports it: each filter's kernel standardized
    (mean 0, variance 1 over its window and channels) before Conv2D's own forward and backward, the
    kernel's gradient then taken back through the standardization."""

    def forward(self, x, training=False):
        kernel = self.params["kernel"]
        mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
        self.inv_std = 1.0 / np.sqrt(kernel.var(axis=(0, 1, 2), keepdims=True) + 1e-10)
        self.standardized = (kernel - mean) * self.inv_std
        self.params["kernel"] = self.standardized
        try:
            return super().forward(x, training)
        finally:
            self.params["kernel"] = kernel

    def backward(self, grad_output):
        kernel, w = self.params["kernel"], self.standardized
        self.params["kernel"] = w
        try:
            grad_input = super().backward(grad_output)
        finally:
            self.params["kernel"] = kernel
        g, axes = self.grads["kernel"], (0, 1, 2)
        g[...] = self.inv_std * (g - g.mean(axis=axes, keepdims=True) - w * (g * w).mean(axis=axes, keepdims=True))
        return grad_input


def test_the_standardized_conv_port_passes_gradcheck():
    layer = StandardizedConv2D(3, 2, activation="tanh", dtype="float64")
    report = gn.gradcheck.check_layer(layer, np.random.default_rng(1).normal(size=(2, 5, 5, 2)))
    assert report["max_error"] < 1e-6


def test_the_standardized_conv_example_trains_as_keras(keras):
    layers, ops = keras.layers, keras.ops

    class StandardizedConv2DWithOverride(layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            mean, var = ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
            return ops.conv(inputs, (kernel - mean) / ops.sqrt(var + 1e-10), padding="valid",
                            strides=list(self.strides))

    class StandardizedConv2DWithCall(layers.Conv2D):
        def call(self, inputs):
            mean, var = ops.moments(self.kernel, axes=[0, 1, 2], keepdims=True)
            result = self.convolution_op(inputs, (self.kernel - mean) / ops.sqrt(var + 1e-10))
            if self.use_bias:
                result = result + self.bias
            return result

    with pytest.warns(UserWarning, match="input_shape"):
        keras_model = keras.Sequential([
            layers.InputLayer(input_shape=(12, 12, 1)),
            StandardizedConv2DWithCall(6, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            StandardizedConv2DWithOverride(8, kernel_size=(3, 3), activation="relu"),
            layers.Flatten(), layers.Dense(10, activation="softmax")])
    with pytest.warns(UserWarning, match="input_shape"):
        model = gn.Sequential([
            gn.layers.InputLayer(input_shape=(12, 12, 1)),
            StandardizedConv2D(6, kernel_size=(3, 3)),     # the example's call applies no activation
            gn.layers.MaxPooling2D(pool_size=(2, 2)),
            StandardizedConv2D(8, kernel_size=(3, 3), activation="relu"),
            gn.layers.Flatten(), gn.layers.Dense(10, activation="softmax")])
    model.set_weights(keras_model.get_weights())
    rng = np.random.default_rng(0)
    x = rng.random((48, 12, 12, 1)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 10, 48), 10)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0), atol=2e-6)
    keras_model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                        run_eagerly=True)
    model.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.Adam(rule="keras"), metrics=["accuracy"])
    expected = keras_model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_an_input_layer_takes_keras_2_input_shape_as_keras_3_does(keras):
    # the example's keras.layers.InputLayer(input_shape=input_shape): Keras 3.15 takes it with a
    # warning, glassnet failed with "unexpected keyword argument 'input_shape'"
    with pytest.warns(UserWarning, match="`input_shape` is deprecated"):
        layer = gn.layers.InputLayer(input_shape=(28, 28, 1))
    assert layer.shape == (None, 28, 28, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert keras.layers.InputLayer(input_shape=(28, 28, 1)).batch_shape == layer.shape
    assert gn.layers.InputLayer(batch_input_shape=(4, 3)).batch_shape == (4, 3)
    with pytest.raises(TypeError, match="shape or Keras 2's input_shape, not both"):
        gn.layers.InputLayer((3,), input_shape=(3,))
    with pytest.raises(TypeError, match="unexpected keyword argument 'sparse_shape'"):
        gn.layers.InputLayer((3,), sparse_shape=(3,))


# -- Standalone Mixture-of-Experts (MoE) layers -------------------------------------------------------

def _moe_classes(framework):
    """keras.io's DenseMoE and Conv2DMoE, as the example writes them (get_config left out)."""
    layers, ops, activations = framework.layers, framework.ops, framework.activations

    class DenseMoE(layers.Layer):
        def __init__(self, units, n_experts, expert_activation=None, gating_activation=None, **kwargs):
            super().__init__(**kwargs)
            self.units, self.n_experts = units, n_experts
            self.expert_activation = activations.get(expert_activation)
            self.gating_activation = activations.get(gating_activation)

        def build(self, input_shape):
            input_dim = input_shape[-1]
            self.expert_kernel = self.add_weight(name="expert_kernel", shape=(input_dim, self.units, self.n_experts),
                                                 initializer="glorot_uniform", trainable=True)
            self.expert_bias = self.add_weight(name="expert_bias", shape=(self.units, self.n_experts),
                                               initializer="zeros", trainable=True)
            self.gating_kernel = self.add_weight(name="gating_kernel", shape=(input_dim, self.n_experts),
                                                 initializer="glorot_uniform", trainable=True)
            self.gating_bias = self.add_weight(name="gating_bias", shape=(self.n_experts,), initializer="zeros",
                                               trainable=True)
            super().build(input_shape)

        def call(self, inputs):
            expert_outputs = ops.tensordot(inputs, self.expert_kernel, axes=1)
            expert_outputs = self.expert_activation(expert_outputs + self.expert_bias)
            gating_outputs = ops.tensordot(inputs, self.gating_kernel, axes=1)
            gating_outputs = self.gating_activation(gating_outputs + self.gating_bias)
            gating_outputs = ops.expand_dims(gating_outputs, axis=1)
            return ops.sum(expert_outputs * gating_outputs, axis=-1)

    class Conv2DMoE(layers.Layer):
        def __init__(self, filters, kernel_size, n_experts, padding="valid", expert_activation=None,
                     gating_activation=None, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.kernel_size, self.n_experts = filters, (kernel_size, kernel_size), n_experts
            self.strides, self.padding = (1, 1), padding
            self.expert_activation = activations.get(expert_activation)
            self.gating_activation = activations.get(gating_activation)

        def build(self, input_shape):
            input_channels = input_shape[-1]
            self.expert_kernel = self.add_weight(
                name="expert_kernel", shape=(*self.kernel_size, input_channels, self.filters, self.n_experts),
                initializer="glorot_uniform", trainable=True)
            self.expert_bias = self.add_weight(name="expert_bias", shape=(self.filters, self.n_experts),
                                               initializer="zeros", trainable=True)
            self.gating_kernel = self.add_weight(name="gating_kernel", shape=(1, 1, input_channels, self.n_experts),
                                                 initializer="glorot_uniform", trainable=True)
            self.gating_bias = self.add_weight(name="gating_bias", shape=(self.n_experts,), initializer="zeros",
                                               trainable=True)
            super().build(input_shape)

        def call(self, inputs):
            expert_kernel = ops.reshape(self.expert_kernel, (self.kernel_size[0], self.kernel_size[1],
                                                             ops.shape(inputs)[-1], self.filters * self.n_experts))
            expert_outputs = ops.conv(inputs, expert_kernel, strides=self.strides, padding=self.padding)
            output_shape = ops.shape(expert_outputs)
            expert_outputs = ops.reshape(expert_outputs, (output_shape[0], output_shape[1], output_shape[2],
                                                          self.filters, self.n_experts))
            expert_outputs = self.expert_activation(expert_outputs + self.expert_bias)
            gating_outputs = ops.conv(inputs, self.gating_kernel, strides=self.strides, padding=self.padding)
            gating_outputs = self.gating_activation(gating_outputs + self.gating_bias)
            gating_outputs = ops.expand_dims(gating_outputs, axis=-2)
            return ops.sum(expert_outputs * gating_outputs, axis=-1)

    return DenseMoE, Conv2DMoE


def _moe_model(framework):
    layers = framework.layers
    DenseMoE, Conv2DMoE = _moe_classes(framework)
    inputs = framework.Input(shape=(6, 6, 2))
    x = Conv2DMoE(3, 3, n_experts=2, padding="same", expert_activation="relu", gating_activation="softmax")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = DenseMoE(8, n_experts=3, expert_activation="relu", gating_activation="softmax")(x)
    outputs = layers.Dense(4, activation="softmax")(x)
    return framework.Model(inputs, outputs)


def test_the_mixture_of_experts_example_trains_as_keras(keras, tmp_path):
    # the MoE layers' ops.reshape of a 5-D kernel weight (into one convolution's kernel) and
    # ops.tensordot(inputs, w, axes=1) of a 3-D weight were refused (a weight was taken by +-*/,
    # matmul, a 2-D tensordot and the convolutions' kernels only), and activations.get("relu")(x)
    # failed with "'Activation' object is not callable"
    keras_model, model = _moe_model(keras), _moe_model(gn)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    model.set_weights(keras_model.get_weights())
    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 4, (40, 1))
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0), atol=1e-6)
    keras_model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"], run_eagerly=True)
    model.compile(optimizer=gn.optimizers.Adam(1e-2, rule="keras"), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    expected = keras_model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, shuffle=False, verbose=0).history
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, shuffle=False, verbose=0).history
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    model.save(tmp_path / "moe.npz")         # the reshaped weight's node config read back
    np.testing.assert_allclose(gn.load_model(tmp_path / "moe.npz").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=0)


def test_a_reshaped_weight_and_a_3d_tensordot_pass_gradcheck():
    DenseMoE, Conv2DMoE = _moe_classes(gn)
    inputs = gn.Input((4, 4, 2))
    x = Conv2DMoE(2, 3, n_experts=2, padding="same", expert_activation="tanh", gating_activation="softmax")(inputs)
    x = DenseMoE(3, n_experts=2, expert_activation="tanh", gating_activation="softmax")(gn.layers.Flatten()(x))
    model = gn.Model(inputs, x, dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(2)
    report = gn.gradcheck.check_model(model, rng.normal(size=(3, 4, 4, 2)), rng.normal(size=(3, 3)))
    assert report["max_error"] < 1e-6, report


def test_an_activation_from_get_is_callable_as_keras_returns_a_function():
    relu, softmax = gn.activations.get("relu"), gn.activations.get("softmax")
    np.testing.assert_array_equal(relu(np.array([-1.0, 2.0])), [0.0, 2.0])
    np.testing.assert_allclose(softmax(np.zeros((2, 4))), np.full((2, 4), 0.25))
    inputs = gn.Input((3,))
    model = gn.Model(inputs, gn.activations.get("tanh")(inputs))
    np.testing.assert_allclose(model.predict(np.ones((2, 3)), verbose=0), np.tanh(np.ones((2, 3))), rtol=1e-6)


def test_a_weight_reshaped_wrongly_or_indexed_after_reshape_is_refused():
    class Block(gn.layers.Layer):
        def __init__(self, how, **kwargs):
            super().__init__(**kwargs)
            self.how = how

        def build(self, input_shape):
            self.w = self.add_weight(shape=(2, 3), initializer="ones")

        def call(self, inputs):
            if self.how == "size":
                return inputs * gn.ops.reshape(self.w, (4,))
            return inputs * gn.ops.reshape(self.w, (3, 2))[0]
    for how, message in (("size", r"cannot reshape to \(4,\)"), ("index", "reshaped already; index the weight first")):
        with pytest.raises((TypeError, ValueError), match=message):
            gn.Sequential([gn.Input((2,)), Block(how)]).predict(np.ones((1, 2)), verbose=0)


# -- Memory-efficient embeddings for recommendation systems -------------------------------------------

def _recommender(framework, users, movies, num_buckets):
    """The example's memory-efficient model with its QREmbedding (ops.floor_divide and ops.mod of
    the StringLookup's ids, two Embeddings multiplied), and its baseline movie encoder."""
    layers, ops = framework.layers, framework.ops

    class QREmbedding(layers.Layer):
        def __init__(self, vocabulary, embedding_dim, num_buckets, name=None):
            super().__init__(name=name)
            self.num_buckets = num_buckets
            self.index_lookup = layers.StringLookup(vocabulary=vocabulary, mask_token=None, num_oov_indices=0)
            self.q_embeddings = layers.Embedding(num_buckets, embedding_dim)
            self.r_embeddings = layers.Embedding(num_buckets, embedding_dim)

        def call(self, inputs):
            embedding_index = self.index_lookup(inputs)
            quotient_index = ops.floor_divide(embedding_index, self.num_buckets)
            remainder_index = ops.mod(embedding_index, self.num_buckets)
            return self.q_embeddings(quotient_index) * self.r_embeddings(remainder_index)

    user_input = layers.Input(name="user_id", shape=(), dtype="string")
    movie_input = layers.Input(name="movie_id", shape=(), dtype="string")
    user_embedding = QREmbedding(users, 6, num_buckets, name="user_embedding")(user_input)
    movie_embedding = framework.Sequential([layers.StringLookup(vocabulary=movies, mask_token=None, num_oov_indices=0),
                                            layers.Embedding(len(movies), 6)], name="movie_embedding")(movie_input)
    if framework is gn:
        # glassnet's Input(shape=()) is (1,), so its Embedding gives (1, 6) per sample where Keras'
        # gives (6,): a Flatten after it ports Keras' model (docs/keras_parity.md, Input)
        user_embedding, movie_embedding = layers.Flatten()(user_embedding), layers.Flatten()(movie_embedding)
    logits = layers.Dot(axes=1, name="dot_similarity")([user_embedding, movie_embedding])
    prediction = framework.activations.sigmoid(logits) * 5
    return framework.Model(inputs=[user_input, movie_input], outputs=prediction)


def test_the_quotient_remainder_embedding_trains_as_keras(keras):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    users, movies = [f"user_{i}" for i in range(20)], [f"movie_{i}" for i in range(9)]
    u, m = np.array(users)[rng.integers(0, 20, 64)], np.array(movies)[rng.integers(0, 9, 64)]
    ratings = rng.integers(1, 6, 64).astype("float32")
    keras_model, model = _recommender(keras, users, movies, 5), _recommender(gn, users, movies, 5)
    model.set_weights(keras_model.get_weights())
    data, keras_data = {"user_id": u, "movie_id": m}, {"user_id": tf.constant(u), "movie_id": tf.constant(m)}
    np.testing.assert_allclose(model.predict(data, verbose=0), keras_model.predict(keras_data, verbose=0), atol=1e-5)
    # SGD: Keras-TF's Adam sums the squares of a repeated id's sparse gradient rows (docs/keras_parity.md)
    keras_model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
                        run_eagerly=True)
    model.compile(optimizer=gn.optimizers.SGD(0.5), loss="mse", metrics=[gn.metrics.MeanAbsoluteError(name="mae")])
    expected = keras_model.fit(keras_data, tf.constant(ratings), batch_size=16, epochs=3, shuffle=False, verbose=0).history
    history = model.fit(data, ratings, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    for key in ("loss", "mae"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)


def test_zeros_of_the_batch_in_a_drawn_call_are_a_tensor_as_keras_computes_them(keras):
    # the MDEmbedding's embeddings = ops.zeros(shape=(ops.shape(inputs)[0], dim)), then += each
    # block's: refused, since glassnet draws call once and ops.shape(inputs)[0] is None there
    def block(framework):
        ops = framework.ops

        class ZerosBlocks(framework.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.first, self.second = framework.layers.Dense(4), framework.layers.Dense(4)

            def call(self, inputs):
                embeddings = ops.zeros(shape=(ops.shape(inputs)[0], 4))
                embeddings += self.first(inputs) * ops.ones((ops.shape(inputs)[0], 1))
                return embeddings + self.second(inputs) * ops.full((ops.shape(inputs)[0], 4), 0.5, dtype="float32")
        inputs = framework.Input((3,))
        return framework.Model(inputs, ZerosBlocks()(inputs))
    keras_model, model = block(keras), block(gn)
    model.set_weights(keras_model.get_weights())
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0), atol=1e-6)
    for framework, each in ((keras, keras_model), (gn, model)):
        each.compile(loss="mse", optimizer=framework.optimizers.SGD(0.1))
    histories = [each.fit(x, x[:, :1] * np.ones((1, 4)), batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
                 for each in (keras_model, model)]
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
    with pytest.raises(TypeError, match=r"in a layer's or model's call being drawn"):
        gn.ops.zeros((None, 4))             # outside a call: no tensor gives the batch


# -- Trainer pattern -----------------------------------------------------------------------------------

def _trainer(framework, tape, model):
    """keras.io's MyTrainer: a Model wrapping another, its loss and metric made in __init__, its own
    metrics property, train_step and test_step (only the metric logged), call delegating."""
    class MyTrainer(framework.Model):
        def __init__(self, model):
            super().__init__()
            self.model = model
            self.loss_fn = framework.losses.SparseCategoricalCrossentropy()
            self.accuracy_metric = framework.metrics.SparseCategoricalAccuracy()

        @property
        def metrics(self):
            return [self.accuracy_metric]

        def train_step(self, data):
            x, y = data
            with tape() as recorded:
                y_pred = self.model(x, training=True)
                # glassnet's Loss call takes (y_pred, y_true): docs/keras_parity.md
                loss = self.loss_fn(y, y_pred) if framework is not gn else self.loss_fn(y_pred, y)
            trainable_vars = self.trainable_variables
            gradients = recorded.gradient(loss, trainable_vars)
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))
            for metric in self.metrics:
                metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self.model(x, training=False)
            for metric in self.metrics:
                metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def call(self, x):
            return self.model(x)
    return MyTrainer(model)


def test_the_trainer_pattern_trains_both_models_as_keras(keras):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 6, 6)), rng.integers(0, 10, 64)
    x_test, y_test = rng.random((32, 6, 6)), rng.integers(0, 10, 32)
    trainers = []
    for framework, tape in ((keras, tf.GradientTape), (gn, gn.GradientTape)):
        model_a = framework.models.Sequential([framework.layers.Flatten(), framework.layers.Dense(16, activation="relu"),
                                               framework.layers.Dropout(0.0),
                                               framework.layers.Dense(10, activation="softmax")])
        func_input = framework.Input(shape=(6, 6, 1))
        hidden = framework.layers.Dropout(0.0)(framework.layers.Dense(24, activation="relu")(
            framework.layers.Flatten()(func_input)))
        model_b = framework.Model(func_input, framework.layers.Dense(10, activation="softmax")(hidden))
        trainers.append((_trainer(framework, tape, model_a), _trainer(framework, tape, model_b)))
    for (keras_trainer, trainer), data, optimizer in zip(zip(*trainers), (x, x[..., None]), ("SGD", "Adam")):
        keras_trainer(data[:1]), trainer(data[:1])
        trainer.set_weights(keras_trainer.get_weights())
        keras_trainer.compile(optimizer=getattr(keras.optimizers, optimizer)(), run_eagerly=True)
        trainer.compile(optimizer=getattr(gn.optimizers, optimizer)(rule="keras"))
        test = (x_test, y_test) if data is x else (x_test[..., None], y_test)
        expected = keras_trainer.fit(data, y, epochs=2, batch_size=16, validation_data=test, shuffle=False,
                                     verbose=0).history
        history = trainer.fit(data, y, epochs=2, batch_size=16, validation_data=test, shuffle=False, verbose=0).history
        assert sorted(history) == sorted(expected) == ["sparse_categorical_accuracy", "val_sparse_categorical_accuracy"]
        for key in expected:
            np.testing.assert_allclose(history[key], expected[key], rtol=1e-6, err_msg=key)
        np.testing.assert_allclose(trainer.predict(test[0], verbose=0), keras_trainer.predict(test[0], verbose=0),
                                   atol=1e-5)


# -- Deep Deterministic Policy Gradient (DDPG) --------------------------------------------------------

def _ddpg_nets(framework):
    layers = framework.layers
    actor_input = layers.Input(shape=(3,))
    out = layers.BatchNormalization()(layers.Dense(8, activation="relu")(actor_input))
    out = layers.Dense(1, activation="tanh",
                       kernel_initializer=framework.initializers.RandomUniform(minval=-0.003, maxval=0.003))(out)
    actor = framework.Model(actor_input, out * 2.0)
    state_input, action_input = layers.Input(shape=(3,)), layers.Input(shape=(1,))
    state_out = layers.BatchNormalization()(layers.Dense(8, activation="relu")(state_input))
    action_out = layers.BatchNormalization()(layers.Dense(8, activation="relu")(action_input))
    out = layers.Dense(8, activation="relu")(layers.Concatenate()([state_out, action_out]))
    critic = framework.Model([state_input, action_input], layers.Dense(1)(out))
    return actor, critic


def test_the_ddpg_update_with_target_networks_runs_as_keras(keras):
    # two tapes and two optimizers a step, target networks called under the tape, their weights
    # moved towards the trained ones by tau after each step (Keras' `a.assign(b * tau + a * (1 - tau))`
    # over model.variables; glassnet's model.weights are the live arrays, written in place)
    tf = pytest.importorskip("tensorflow")
    keras_nets = [_ddpg_nets(keras) for _ in range(2)]
    nets = [_ddpg_nets(gn) for _ in range(2)]
    for ours, theirs in zip(nets[0] + nets[1], keras_nets[0] + keras_nets[0]):
        ours.set_weights(theirs.get_weights())
    for theirs, source in zip(keras_nets[1], keras_nets[0]):
        theirs.set_weights(source.get_weights())
    rng = np.random.default_rng(0)
    batches = [[rng.normal(size=shape).astype("float32") for shape in ((16, 3), (16, 1), (16, 1), (16, 3))]
               for _ in range(3)]
    gamma, tau, histories = 0.99, 0.05, []
    for framework, tape, ((actor, critic), (target_actor, target_critic)) in (
            (keras, tf.GradientTape, keras_nets), (gn, gn.GradientTape, nets)):
        # SGD: the actor's gradient through the critic's BatchNormalization of near-constant
        # actions is about 1e-8, float32 rounding in either framework, which Adam's near-sign
        # steps would amplify into different weights
        critic_optimizer, actor_optimizer = framework.optimizers.SGD(0.01), framework.optimizers.SGD(0.01)
        losses = []
        for batch in batches:
            state, action, reward, next_state = (tf.convert_to_tensor(a) for a in batch) if framework is keras else batch
            with tape() as recorded:
                target_actions = target_actor(next_state, training=True)
                y = reward + gamma * target_critic([next_state, target_actions], training=True)
                critic_value = critic([state, action], training=True)
                critic_loss = framework.ops.mean(framework.ops.square(y - critic_value))
            grads = recorded.gradient(critic_loss, critic.trainable_variables)
            critic_optimizer.apply_gradients(zip(grads, critic.trainable_variables))
            with tape() as recorded:
                actor_loss = -framework.ops.mean(critic([state, actor(state, training=True)], training=True))
            grads = recorded.gradient(actor_loss, actor.trainable_variables)
            actor_optimizer.apply_gradients(zip(grads, actor.trainable_variables))
            losses.append([float(critic_loss), float(actor_loss)])
            for target, model in ((target_actor, actor), (target_critic, critic)):
                if framework is keras:
                    for a, b in zip(target.variables, model.variables):
                        a.assign(b * tau + a * (1 - tau))
                else:
                    for a, b in zip(target.weights, model.weights):
                        a[...] = b * tau + a * (1 - tau)
        histories.append(losses)
    np.testing.assert_allclose(np.array(histories[1])[:, 0], np.array(histories[0])[:, 0], rtol=1e-5)
    np.testing.assert_allclose(np.array(histories[1])[:, 1], np.array(histories[0])[:, 1], atol=1e-6)
    for ours, theirs in zip(nets[0] + nets[1], keras_nets[0] + keras_nets[1]):
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, atol=1e-6)
