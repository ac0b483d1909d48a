"""keras.io examples ported to glassnet beside Keras 3.15, the same weights and data (review ports48):
"Vector-Quantized Variational Autoencoders" (VectorQuantizer, VQVAETrainer), "Classification with
Neural Decision Forests" (NeuralDecisionTree, NeuralDecisionForest), "Zero-DCE for low-light image
enhancement" (ZeroDCE with its own compile, losses, train_step and test_step): what the ports met."""
import numpy as np
import pytest

import glassnet as gn


# -- Vector-Quantized Variational Autoencoders ---------------------------------------------------------

def _vqvae_trainer(framework, tape_class, train_variance, blocks):
    """keras.io's VQ-VAE (its Keras 3 form, keras.ops), smaller: the two changes a drawn call needs
    are marked (docs/examples.md)."""
    layers, ops = framework.layers, framework.ops
    latent_dim, num_embeddings = 4, 8

    class VectorQuantizer(layers.Layer):
        def __init__(self, num_embeddings, embedding_dim, beta=0.25, **kwargs):
            super().__init__(**kwargs)
            self.embedding_dim, self.num_embeddings, self.beta = embedding_dim, num_embeddings, beta
            w_init = framework.initializers.RandomUniform(seed=1)
            self.embeddings = framework.Variable(
                initializer=w_init(shape=(self.embedding_dim, self.num_embeddings), dtype="float32"),
                trainable=True, name="embeddings_vqvae")

        def call(self, x):
            input_shape = ops.shape(x)
            # the example's reshape(x, [-1, embedding_dim]) folds the batch into rows: a drawn
            # call keeps the batch axis, so the rows are each sample's positions
            flattened = ops.reshape(x, [-1, 4, self.embedding_dim])
            encoding_indices = self.get_code_indices(flattened)
            encodings = ops.one_hot(encoding_indices, self.num_embeddings)
            quantized = ops.matmul(encodings, ops.transpose(self.embeddings))
            quantized = ops.reshape(quantized, input_shape)
            commitment_loss = ops.mean((ops.stop_gradient(quantized) - x) ** 2)
            codebook_loss = ops.mean((quantized - ops.stop_gradient(x)) ** 2)
            self.add_loss(self.beta * commitment_loss + codebook_loss)
            return x + ops.stop_gradient(quantized - x)

        def get_code_indices(self, flattened_inputs):
            # the example's sum(inputs ** 2) + sum(embeddings ** 2, axis=0) - 2 * similarity
            # computes on the weight alone, which a drawn call refuses: the same distances
            distances = ops.sum((ops.expand_dims(flattened_inputs, -1) - self.embeddings) ** 2, axis=-2)
            return ops.argmin(distances, axis=-1)

    def get_encoder():
        encoder_inputs = framework.Input(shape=(8, 8, 1))
        x = layers.Conv2D(4, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
        x = layers.Conv2D(6, 3, activation="relu", strides=2, padding="same")(x)
        return framework.Model(encoder_inputs, layers.Conv2D(latent_dim, 1, padding="same")(x), name="encoder")

    def get_decoder():
        latent_inputs = framework.Input(shape=get_encoder().output.shape[1:])
        x = layers.Conv2DTranspose(6, 3, activation="relu", strides=2, padding="same")(latent_inputs)
        x = layers.Conv2DTranspose(4, 3, activation="relu", strides=2, padding="same")(x)
        return framework.Model(latent_inputs, layers.Conv2DTranspose(1, 3, padding="same")(x), name="decoder")

    def get_vqvae():
        vq_layer = VectorQuantizer(num_embeddings, latent_dim, name="vector_quantizer")
        blocks.append(vq_layer)
        encoder, decoder = get_encoder(), get_decoder()
        inputs = framework.Input(shape=(8, 8, 1))
        return framework.Model(inputs, decoder(vq_layer(encoder(inputs))), name="vq_vae")

    class VQVAETrainer(framework.models.Model):
        def __init__(self, train_variance, **kwargs):
            super().__init__(**kwargs)
            self.train_variance = train_variance
            self.vqvae = get_vqvae()
            self.total_loss_tracker = framework.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = framework.metrics.Mean(name="reconstruction_loss")
            self.vq_loss_tracker = framework.metrics.Mean(name="vq_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.vq_loss_tracker]

        def train_step(self, x):
            with tape_class() as tape:
                reconstructions = self.vqvae(x)
                reconstruction_loss = ops.mean((x - reconstructions) ** 2) / self.train_variance
                total_loss = reconstruction_loss + sum(self.vqvae.losses)
            grads = tape.gradient(total_loss, self.vqvae.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.vqvae.trainable_variables))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.vq_loss_tracker.update_state(sum(self.vqvae.losses))
            return {"loss": self.total_loss_tracker.result(),
                    "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                    "vqvae_loss": self.vq_loss_tracker.result()}
    return VQVAETrainer(train_variance)


def test_the_vq_vae_example_trains_as_keras(keras, tmp_path):
    # ops.transpose(self.embeddings), the codebook transposed in a drawn call, was refused
    # ("ops.transpose: x must be an array or a number, got CallWeight")
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    x = (rng.random((16, 8, 8, 1)) - 0.5).astype("float32")
    variance = float(np.var(x + 0.5))
    keras_blocks, blocks = [], []
    keras_trainer = _vqvae_trainer(keras, tf.GradientTape, variance, keras_blocks)
    trainer = _vqvae_trainer(gn, gn.GradientTape, variance, blocks)
    keras_vqvae, vqvae = keras_trainer.vqvae, trainer.vqvae
    vqvae.set_weights(keras_vqvae.get_weights())
    np.testing.assert_allclose(vqvae.predict(x, verbose=0), keras_vqvae.predict(x, verbose=0), atol=1e-6)
    keras_trainer.compile(optimizer=keras.optimizers.Adam(), run_eagerly=True)
    trainer.compile(optimizer=gn.optimizers.Adam(rule="keras"))
    expected = keras_trainer.fit(x, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    history = trainer.fit(x, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    assert sorted(history) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    for ours, theirs in zip(vqvae.get_weights(), keras_vqvae.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    encoded = vqvae.get_layer("encoder").predict(x, verbose=0)
    flat = encoded.reshape(-1, encoded.shape[-1])
    np.testing.assert_array_equal(np.asarray(blocks[-1].get_code_indices(flat)),
                                  np.asarray(keras_blocks[-1].get_code_indices(flat)))
    vqvae.save(tmp_path / "vqvae.npz")          # the transposed weight's node read back
    np.testing.assert_allclose(gn.load_model(tmp_path / "vqvae.npz").predict(x, verbose=0),
                               vqvae.predict(x, verbose=0), atol=0)


def test_a_transposed_weight_trains_by_its_gradient_and_reads_back(tmp_path):
    class Tied(gn.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(3, input_shape[-1]), initializer="glorot_uniform")
            self.v = self.add_weight(shape=(4, 3), initializer="glorot_uniform")

        def call(self, x):
            h = gn.ops.tanh(gn.ops.matmul(x, gn.ops.transpose(self.w)))          # (batch, 3)
            return gn.ops.matmul(h, gn.ops.transpose(self.v, (1, 0)))                 # (batch, 4)
    inputs = gn.Input((5,))
    model = gn.Model(inputs, Tied(name="tied")(inputs), dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 5)), rng.normal(size=(6, 4))
    assert [w.shape for w in model.get_weights()] == [(3, 5), (4, 3)]
    w, v = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), np.tanh(x @ w.T) @ v.T, atol=1e-12)
    report = gn.gradcheck.check_model(model, x, y)
    assert report["max_error"] < 1e-6, report
    model.save(tmp_path / "tied.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "tied.npz").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=0)

    class BadAxes(Tied):
        def call(self, x):
            return gn.ops.matmul(x, gn.ops.transpose(self.w, (0, 0)))
    with pytest.raises(ValueError, match=r"transpose's axes \(0, 0\) must order each of the weight's 2 axes once"):
        gn.Model(inputs, BadAxes()(inputs))


def test_a_weight_to_a_power_and_a_reshape_folding_the_batch_say_why_they_are_refused():
    class Codebook(gn.layers.Layer):
        def __init__(self, how, **kwargs):
            super().__init__(**kwargs)
            self.how = how
            self.e = self.add_weight(shape=(4, 8), initializer="random_uniform")

        def call(self, x):
            if self.how == "power":         # the example's ops.sum(self.embeddings ** 2, axis=0)
                return x + gn.ops.sum(self.e ** 2, axis=0)
            return gn.ops.reshape(x, (-1, 4))     # the example's flattening of (batch, 2, 2, 4)
    inputs = gn.Input((2, 2, 4))
    # was Python's "unsupported operand type(s) for ** or pow(): 'CallWeight' and 'int'"
    with pytest.raises(TypeError, match=r"power with int: a weight of a model drawn from call is used with a tensor"):
        gn.Model(inputs, Codebook("power")(inputs))
    with pytest.raises(ValueError, match=r"folds the batch axis into rows of \(4,\).*reshape\(x, \(-1, 4, 4\)\)"):
        gn.Model(inputs, Codebook("fold")(inputs))
    block = Codebook("power")
    np.testing.assert_allclose(block.e ** 2, block.e.numpy() ** 2)       # outside a call: its value now
    np.testing.assert_allclose(2.0 ** block.e, 2.0 ** block.e.numpy())


# -- Classification with Neural Decision Forests -------------------------------------------------------

def _forest(framework, num_trees, depth, used_features_rate, num_classes=2):
    layers, ops = framework.layers, framework.ops

    class NeuralDecisionTree(framework.Model):
        def __init__(self, depth, num_features, used_features_rate, num_classes, seed):
            super().__init__()
            self.depth, self.num_leaves, self.num_classes = depth, 2 ** depth, num_classes
            num_used_features = int(num_features * used_features_rate)
            one_hot = np.eye(num_features)
            sampled = np.random.default_rng(seed).choice(np.arange(num_features), num_used_features, replace=False)
            self.used_features_mask = ops.convert_to_tensor(one_hot[sampled], dtype="float32")
            self.pi = self.add_weight(initializer="random_normal", shape=[self.num_leaves, self.num_classes],
                                      dtype="float32", trainable=True)
            self.decision_fn = layers.Dense(units=self.num_leaves, activation="sigmoid", name="decision")

        def call(self, features):
            batch_size = ops.shape(features)[0]
            features = ops.matmul(features, ops.transpose(self.used_features_mask))
            decisions = ops.expand_dims(self.decision_fn(features), axis=2)
            decisions = layers.concatenate([decisions, 1 - decisions], axis=2)
            mu = ops.ones([batch_size, 1, 1])
            begin_idx, end_idx = 1, 2
            for level in range(self.depth):
                mu = ops.reshape(mu, [batch_size, -1, 1])
                mu = ops.tile(mu, (1, 1, 2))
                mu = mu * decisions[:, begin_idx:end_idx, :]
                begin_idx, end_idx = end_idx, end_idx + 2 ** (level + 1)
            mu = ops.reshape(mu, [batch_size, self.num_leaves])
            if framework is not gn:
                return ops.matmul(mu, framework.activations.softmax(self.pi))
            # softmax(self.pi) computes on the weight alone, which a drawn call refuses: the
            # same product with the leaves' class weights beside the batch (docs/examples.md)
            probabilities = framework.activations.softmax(ops.expand_dims(mu, -1) * 0.0 + self.pi)
            return ops.sum(ops.expand_dims(mu, -1) * probabilities, axis=1)

    class NeuralDecisionForest(framework.Model):
        def __init__(self, num_trees, depth, num_features, used_features_rate, num_classes):
            super().__init__()
            self.ensemble = [NeuralDecisionTree(depth, num_features, used_features_rate, num_classes, seed)
                             for seed in range(num_trees)]

        def call(self, inputs):
            outputs = ops.zeros([ops.shape(inputs)[0], num_classes])
            for tree in self.ensemble:
                outputs += tree(inputs)
            outputs /= len(self.ensemble)
            return outputs

    inputs = {"age": layers.Input(name="age", shape=(), dtype="float32"),
              "hours": layers.Input(name="hours", shape=(), dtype="float32"),
              "workclass": layers.Input(name="workclass", shape=(), dtype="int32"),
              "education": layers.Input(name="education", shape=(), dtype="int32")}
    encoded = []
    for name, vocabulary_size in (("age", 0), ("hours", 0), ("workclass", 5), ("education", 7)):
        if vocabulary_size:
            embedded = layers.Embedding(input_dim=vocabulary_size, output_dim=int(np.sqrt(vocabulary_size)))(inputs[name])
            # glassnet's Input(shape=()) is (1,): its Embedding gives (1, d) (docs/keras_parity.md)
            encoded.append(layers.Flatten()(embedded) if framework is gn else embedded)
        else:
            encoded.append(ops.expand_dims(inputs[name], -1) if inputs[name].shape[-1] is None else inputs[name])
    features = layers.BatchNormalization()(layers.concatenate(encoded))
    num_features = features.shape[1]
    if num_trees == 0:
        outputs = NeuralDecisionTree(depth, num_features, used_features_rate, num_classes, 0)(features)
    else:
        outputs = NeuralDecisionForest(num_trees, depth, num_features, used_features_rate, num_classes)(features)
    return framework.Model(inputs=inputs, outputs=outputs)


@pytest.mark.parametrize("num_trees, depth, rate", [(0, 3, 1.0), (3, 2, 0.5)])
def test_the_decision_tree_and_forest_train_as_keras(keras, tmp_path, num_trees, depth, rate):
    # the forest's trees each hold a Dense(name="decision"): refused as a clash of names ("a layer
    # named 'decision' is already in this model"), where Keras keeps each name within its tree
    rng = np.random.default_rng(0)
    n = 64
    data = {"age": rng.normal(0, 1, n).astype("float32"), "hours": rng.normal(0, 1, n).astype("float32"),
            "workclass": rng.integers(0, 5, n).astype("int32"), "education": rng.integers(0, 7, n).astype("int32")}
    y = rng.integers(0, 2, n)
    keras_model, model = _forest(keras, num_trees, depth, rate), _forest(gn, num_trees, depth, rate)
    model.set_weights(keras_model.get_weights())
    np.testing.assert_allclose(model.predict(data, verbose=0), keras_model.predict(data, verbose=0), atol=1e-6)
    # SGD: Keras-TF's Adam sums the squares of a repeated id's sparse Embedding rows (docs/keras_parity.md)
    keras_model.compile(optimizer=keras.optimizers.SGD(0.5), loss=keras.losses.SparseCategoricalCrossentropy(),
                        metrics=[keras.metrics.SparseCategoricalAccuracy()], run_eagerly=True)
    model.compile(optimizer=gn.optimizers.SGD(0.5), loss=gn.losses.SparseCategoricalCrossentropy(),
                  metrics=[gn.metrics.SparseCategoricalAccuracy()])
    expected = keras_model.fit(data, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    history = model.fit(data, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    model.save(tmp_path / "forest.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "forest.npz").predict(data, verbose=0),
                               model.predict(data, verbose=0), atol=0)


def test_sub_layers_named_alike_in_two_blocks_are_renamed_not_refused():
    class Tree(gn.Model):
        def __init__(self):
            super().__init__()
            self.decision = gn.layers.Dense(2, name="decision")

        def call(self, x):
            return self.decision(x)
    inputs = gn.Input((3,))
    first, second = Tree(), Tree()
    model = gn.Model(inputs, gn.layers.Add()([first(inputs), second(inputs)]))
    names = [layer.name for layer in model.layers]
    assert len(set(names)) == len(names) and first.decision.name == "decision" and second.decision.name != "decision"
    with pytest.raises(ValueError, match="a layer named 'dup' is already in this model"):
        gn.Model(inputs, gn.layers.Add()([gn.layers.Dense(2, name="dup")(inputs), gn.layers.Dense(2, name="dup")(inputs)]))


# -- Zero-DCE for low-light image enhancement ----------------------------------------------------------

def _zero_dce(fw, tape_class):
    """keras.io's Zero-DCE (its Keras 3 form, keras.ops), smaller: 4 filters where it has 32, the
    exposure loss pooling 4 x 4 patches where it pools 16 x 16 (the images are 16 x 16)."""
    layers, ops = fw.layers, fw.ops
    def build_dce_net():
        input_img = fw.Input(shape=[None, None, 3])
        c = lambda f, act="relu": layers.Conv2D(f, (3, 3), strides=(1, 1), activation=act, padding="same")
        conv1 = c(4)(input_img)
        conv2 = c(4)(conv1)
        conv3 = c(4)(conv2)
        conv4 = c(4)(conv3)
        int_con1 = layers.Concatenate(axis=-1)([conv4, conv3])
        conv5 = c(4)(int_con1)
        int_con2 = layers.Concatenate(axis=-1)([conv5, conv2])
        conv6 = c(4)(int_con2)
        int_con3 = layers.Concatenate(axis=-1)([conv6, conv1])
        x_r = c(24, "tanh")(int_con3)
        return fw.Model(inputs=input_img, outputs=x_r)

    def color_constancy_loss(x):
        mean_rgb = ops.mean(x, axis=(1, 2), keepdims=True)
        mr, mg, mb = mean_rgb[:, :, :, 0], mean_rgb[:, :, :, 1], mean_rgb[:, :, :, 2]
        d_rg, d_rb, d_gb = ops.power(mr - mg, 2), ops.power(mr - mb, 2), ops.power(mb - mg, 2)
        return ops.power(ops.power(d_rg, 2) + ops.power(d_rb, 2) + ops.power(d_gb, 2), 0.5)

    def exposure_loss(x, mean_val=0.6):
        x = ops.mean(x, axis=3, keepdims=True)
        mean = layers.AveragePooling2D(pool_size=4, strides=4)(x)
        return ops.mean(ops.power(mean - mean_val, 2))

    def illumination_smoothness_loss(x):
        batch_size = ops.shape(x)[0]
        h_x, w_x = ops.shape(x)[1], ops.shape(x)[2]
        count_h = (ops.shape(x)[2] - 1) * ops.shape(x)[3]
        count_w = ops.shape(x)[2] * (ops.shape(x)[3] - 1)
        h_tv = ops.sum(ops.power((x[:, 1:, :, :] - x[:, : h_x - 1, :, :]), 2))
        w_tv = ops.sum(ops.power((x[:, :, 1:, :] - x[:, :, : w_x - 1, :]), 2))
        batch_size = ops.cast(batch_size, dtype="float32")
        count_h, count_w = ops.cast(count_h, dtype="float32"), ops.cast(count_w, dtype="float32")
        return 2 * (h_tv / count_h + w_tv / count_w) / batch_size

    class SpatialConsistencyLoss(fw.losses.Loss):
        def __init__(self, **kwargs):
            super().__init__(reduction="none")
            self.left_kernel = ops.convert_to_tensor([[[[0, 0, 0]], [[-1, 1, 0]], [[0, 0, 0]]]], dtype="float32")
            self.right_kernel = ops.convert_to_tensor([[[[0, 0, 0]], [[0, 1, -1]], [[0, 0, 0]]]], dtype="float32")
            self.up_kernel = ops.convert_to_tensor([[[[0, -1, 0]], [[0, 1, 0]], [[0, 0, 0]]]], dtype="float32")
            self.down_kernel = ops.convert_to_tensor([[[[0, 0, 0]], [[0, 1, 0]], [[0, -1, 0]]]], dtype="float32")

        def call(self, y_true, y_pred):
            original_mean = ops.mean(y_true, 3, keepdims=True)
            enhanced_mean = ops.mean(y_pred, 3, keepdims=True)
            original_pool = ops.average_pool(original_mean, pool_size=4, strides=4, padding="valid")
            enhanced_pool = ops.average_pool(enhanced_mean, pool_size=4, strides=4, padding="valid")
            conv = lambda a, k: ops.conv(a, k, strides=1, padding="same")
            d_left = ops.square(conv(original_pool, self.left_kernel) - conv(enhanced_pool, self.left_kernel))
            d_right = ops.square(conv(original_pool, self.right_kernel) - conv(enhanced_pool, self.right_kernel))
            d_up = ops.square(conv(original_pool, self.up_kernel) - conv(enhanced_pool, self.up_kernel))
            d_down = ops.square(conv(original_pool, self.down_kernel) - conv(enhanced_pool, self.down_kernel))
            return d_left + d_right + d_up + d_down

    class ZeroDCE(fw.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dce_model = build_dce_net()
            self.total_loss_tracker = fw.metrics.Mean(name="total_loss")
            self.illumination_smoothness_loss_tracker = fw.metrics.Mean(name="illumination_smoothness_loss")
            self.spatial_constancy_loss_tracker = fw.metrics.Mean(name="spatial_constancy_loss")
            self.color_constancy_loss_tracker = fw.metrics.Mean(name="color_constancy_loss")
            self.exposure_loss_tracker = fw.metrics.Mean(name="exposure_loss")

        def compile(self, learning_rate, **kwargs):
            super().compile(**kwargs)
            self.optimizer = (fw.optimizers.Adam(learning_rate=learning_rate) if fw is not gn
                              else fw.optimizers.Adam(learning_rate=learning_rate, rule="keras"))
            self.spatial_constancy_loss = SpatialConsistencyLoss(reduction="none")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.illumination_smoothness_loss_tracker,
                    self.spatial_constancy_loss_tracker, self.color_constancy_loss_tracker, self.exposure_loss_tracker]

        def get_enhanced_image(self, data, output):
            r = [output[:, :, :, 3 * i:3 * i + 3] for i in range(8)]
            x = data + r[0] * (ops.square(data) - data)
            x = x + r[1] * (ops.square(x) - x)
            x = x + r[2] * (ops.square(x) - x)
            enhanced_image = x + r[3] * (ops.square(x) - x)
            x = enhanced_image + r[4] * (ops.square(enhanced_image) - enhanced_image)
            x = x + r[5] * (ops.square(x) - x)
            x = x + r[6] * (ops.square(x) - x)
            return x + r[7] * (ops.square(x) - x)

        def call(self, data):
            return self.get_enhanced_image(data, self.dce_model(data))

        def compute_losses(self, data, output):
            enhanced_image = self.get_enhanced_image(data, output)
            loss_illumination = 200 * illumination_smoothness_loss(output)
            loss_spatial_constancy = ops.mean(self.spatial_constancy_loss(enhanced_image, data))
            loss_color_constancy = 5 * ops.mean(color_constancy_loss(enhanced_image))
            loss_exposure = 10 * ops.mean(exposure_loss(enhanced_image))
            total_loss = loss_illumination + loss_spatial_constancy + loss_color_constancy + loss_exposure
            return {"total_loss": total_loss, "illumination_smoothness_loss": loss_illumination,
                    "spatial_constancy_loss": loss_spatial_constancy, "color_constancy_loss": loss_color_constancy,
                    "exposure_loss": loss_exposure}

        def train_step(self, data):
            with tape_class() as tape:
                output = self.dce_model(data)
                losses = self.compute_losses(data, output)
            gradients = tape.gradient(losses["total_loss"], self.dce_model.trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, self.dce_model.trainable_weights))
            self.total_loss_tracker.update_state(losses["total_loss"])
            self.illumination_smoothness_loss_tracker.update_state(losses["illumination_smoothness_loss"])
            self.spatial_constancy_loss_tracker.update_state(losses["spatial_constancy_loss"])
            self.color_constancy_loss_tracker.update_state(losses["color_constancy_loss"])
            self.exposure_loss_tracker.update_state(losses["exposure_loss"])
            return {metric.name: metric.result() for metric in self.metrics}

        def test_step(self, data):
            output = self.dce_model(data)
            losses = self.compute_losses(data, output)
            self.total_loss_tracker.update_state(losses["total_loss"])
            self.illumination_smoothness_loss_tracker.update_state(losses["illumination_smoothness_loss"])
            self.spatial_constancy_loss_tracker.update_state(losses["spatial_constancy_loss"])
            self.color_constancy_loss_tracker.update_state(losses["color_constancy_loss"])
            self.exposure_loss_tracker.update_state(losses["exposure_loss"])
            return {metric.name: metric.result() for metric in self.metrics}

        def save_weights(self, filepath, overwrite=True, **kwargs):
            self.dce_model.save_weights(filepath, overwrite=overwrite, **kwargs)

        def load_weights(self, filepath, **kwargs):
            self.dce_model.load_weights(filepath=filepath, **kwargs)
    return ZeroDCE()


def test_the_zero_dce_example_trains_and_validates_as_keras(keras, tmp_path):
    # its SpatialConsistencyLoss, a Loss of reduction="none" giving (n, h, w, 1) values that the
    # step reduces with ops.mean, was refused under the tape ("has no gradient to train on"); its
    # load_weights(filepath=...) override failed ("unexpected keyword argument 'filepath'")
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    x = (rng.random((8, 16, 16, 3)) * 0.4).astype("float32")
    x_val = (rng.random((4, 16, 16, 3)) * 0.4).astype("float32")
    keras_model, model = _zero_dce(keras, tf.GradientTape), _zero_dce(gn, gn.GradientTape)
    model.dce_model.set_weights(keras_model.dce_model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0), atol=1e-6)
    keras_model.compile(learning_rate=1e-3, run_eagerly=True)
    model.compile(learning_rate=1e-3)
    expected = keras_model.fit(x, validation_data=(x_val,), epochs=2, batch_size=4, shuffle=False, verbose=0).history
    history = model.fit(x, validation_data=(x_val,), epochs=2, batch_size=4, shuffle=False, verbose=0).history
    assert sorted(history) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, atol=1e-9, err_msg=key)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(model.evaluate(x_val, verbose=0), keras_model.evaluate(x_val, verbose=0), rtol=1e-5)
    model.save_weights(tmp_path / "zero_dce.weights.h5")
    again = _zero_dce(gn, gn.GradientTape)
    again.load_weights(tmp_path / "zero_dce.weights.h5")        # its override: load_weights(filepath=...)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)


def test_a_loss_of_reduction_none_of_any_value_shape_trains_under_a_tape():
    class Elementwise(gn.losses.Loss):
        def __init__(self):
            super().__init__(reduction="none")

        def call(self, y_true, y_pred):
            return gn.ops.square(y_true - y_pred)          # (n, k) values, one per entry
    rng = np.random.default_rng(0)
    inputs = gn.Input((3,))
    model = gn.Model(inputs, gn.layers.Dense(4)(inputs), dtype="float64", seed=0)
    x, y, c = rng.normal(size=(5, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    loss_fn = Elementwise()
    with gn.GradientTape() as tape:
        pred = model(x)
        loss = gn.ops.sum(loss_fn(pred, y) * c)
    kernel_grad, bias_grad = tape.gradient(loss, model.trainable_variables)
    p = model.predict(x, verbose=0)
    delta = 2 * (p - y) * c
    np.testing.assert_allclose(float(loss), np.sum((p - y) ** 2 * c), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(kernel_grad), x.T @ delta, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(bias_grad), delta.sum(axis=0), rtol=1e-10)


def test_the_model_file_methods_take_keras_filepath_keyword(tmp_path):
    model = gn.Sequential([gn.Input((2,)), gn.layers.Dense(1)])
    model.save(filepath=tmp_path / "m.keras")
    model.save_weights(filepath=tmp_path / "m.weights.h5")
    model.load_weights(filepath=tmp_path / "m.weights.h5")
    assert gn.load_model(tmp_path / "m.keras").count_params() == 3


# -- Metric learning for image similarity search -------------------------------------------------------

def _metric_learning(framework, tape_class, x_train, by_class, num_classes):
    """keras.io's EmbeddingModel (Keras 3 form: PyDataset, ops.einsum, compute_loss, metrics by
    name), smaller; the pairs drawn from a generator seeded by the batch index, so both read the same."""
    layers, ops = framework.layers, framework.ops
    hw = x_train.shape[1]

    class AnchorPositivePairs(framework.utils.PyDataset):
        def __init__(self, num_batchs, **kwargs):
            super().__init__(**kwargs)
            self.num_batchs = num_batchs

        def __len__(self):
            return self.num_batchs

        def __getitem__(self, idx):
            draw = np.random.default_rng(idx)
            x = np.empty((2, num_classes, hw, hw, 3), dtype=np.float32)
            for class_idx in range(num_classes):
                anchor_idx, positive_idx = draw.choice(by_class[class_idx], 2, replace=False)
                x[0, class_idx], x[1, class_idx] = x_train[anchor_idx], x_train[positive_idx]
            return x

    class EmbeddingModel(framework.Model):
        def train_step(self, data):
            if isinstance(data, tuple):
                data = data[0]
            anchors, positives = data[0], data[1]
            with tape_class() as tape:
                anchor_embeddings = self(anchors, training=True)
                positive_embeddings = self(positives, training=True)
                similarities = ops.einsum("ae,pe->ap", anchor_embeddings, positive_embeddings)
                temperature = 0.2
                similarities /= temperature
                sparse_labels = ops.arange(num_classes)
                loss = self.compute_loss(y=sparse_labels, y_pred=similarities)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(sparse_labels, similarities)
            return {m.name: m.result() for m in self.metrics}

    inputs = layers.Input(shape=(hw, hw, 3))
    x = layers.Conv2D(filters=4, kernel_size=3, strides=2, activation="relu")(inputs)
    x = layers.Conv2D(filters=6, kernel_size=3, strides=2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    embeddings = layers.UnitNormalization()(layers.Dense(units=8, activation=None)(x))
    return EmbeddingModel(inputs, embeddings), AnchorPositivePairs


def test_the_metric_learning_example_trains_as_keras(keras):
    # ported as written: a PyDataset of anchors and positives (x alone, a 5-D array), two calls and
    # an einsum of their embeddings under the tape, compute_loss on the similarities, metrics by name
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    num_classes = 4
    x_train = rng.random((24, 12, 12, 3)).astype("float32")
    by_class = {c: list(range(c, 24, num_classes)) for c in range(num_classes)}
    keras_model, KerasPairs = _metric_learning(keras, tf.GradientTape, x_train, by_class, num_classes)
    model, Pairs = _metric_learning(gn, gn.GradientTape, x_train, by_class, num_classes)
    model.set_weights(keras_model.get_weights())
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), run_eagerly=True,
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.SparseCategoricalAccuracy()])
    model.compile(optimizer=gn.optimizers.Adam(learning_rate=1e-2, rule="keras"),
                  loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[gn.metrics.SparseCategoricalAccuracy()])
    # shuffle=False: both shuffle a PyDataset's batch order by default, each its own way
    expected = keras_model.fit(KerasPairs(num_batchs=4), epochs=2, shuffle=False, verbose=0).history
    history = model.fit(Pairs(num_batchs=4), epochs=2, shuffle=False, verbose=0).history
    assert sorted(history) == sorted(expected) == ["loss", "sparse_categorical_accuracy"]
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    ours, theirs = model.predict(x_train, verbose=0), keras_model.predict(x_train, verbose=0)
    np.testing.assert_allclose(np.einsum("ae,be->ab", ours, ours), np.einsum("ae,be->ab", theirs, theirs), atol=1e-5)


# -- Density estimation using Real NVP -------------------------------------------------------------------

def _real_nvp(framework, tape_class, num_coupling_layers=2, output_dim=8, reg=0.01):
    """keras.io's RealNVP, smaller (8 units, 3 Dense per branch); the latent distribution's
    log_prob (tfp's MultivariateNormalDiag, standard) written in ops."""
    layers, ops, regularizers = framework.layers, framework.ops, framework.regularizers

    def Coupling(input_shape):
        input = layers.Input(shape=(input_shape,))
        t = layers.Dense(output_dim, activation="relu", kernel_regularizer=regularizers.l2(reg))(input)
        t = layers.Dense(output_dim, activation="relu", kernel_regularizer=regularizers.l2(reg))(t)
        t = layers.Dense(input_shape, activation="linear", kernel_regularizer=regularizers.l2(reg))(t)
        s = layers.Dense(output_dim, activation="relu", kernel_regularizer=regularizers.l2(reg))(input)
        s = layers.Dense(output_dim, activation="relu", kernel_regularizer=regularizers.l2(reg))(s)
        s = layers.Dense(input_shape, activation="tanh", kernel_regularizer=regularizers.l2(reg))(s)
        return framework.Model(inputs=input, outputs=[s, t])

    class RealNVP(framework.Model):
        def __init__(self, num_coupling_layers):
            super().__init__()
            self.num_coupling_layers = num_coupling_layers
            self.masks = np.array([[0, 1], [1, 0]] * (num_coupling_layers // 2), dtype="float32")
            self.loss_tracker = framework.metrics.Mean(name="loss")
            self.layers_list = [Coupling(2) for i in range(num_coupling_layers)]

        @property
        def metrics(self):
            return [self.loss_tracker]

        def call(self, x, training=True):
            log_det_inv = 0
            direction = 1
            if training:
                direction = -1
            for i in range(self.num_coupling_layers)[::direction]:
                x_masked = x * self.masks[i]
                reversed_mask = 1 - self.masks[i]
                s, t = self.layers_list[i](x_masked)
                s *= reversed_mask
                t *= reversed_mask
                gate = (direction - 1) / 2
                x = reversed_mask * (x * ops.exp(direction * s) + direction * t * ops.exp(gate * s)) + x_masked
                log_det_inv += gate * ops.sum(s, [1])
            return x, log_det_inv

        def log_loss(self, x):
            y, logdet = self(x)
            log_likelihood = -0.5 * ops.sum(ops.square(y), axis=1) - float(np.log(2 * np.pi)) + logdet
            return -ops.mean(log_likelihood)

        def train_step(self, data):
            with tape_class() as tape:
                loss = self.log_loss(data)
            g = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(g, self.trainable_variables))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        def test_step(self, data):
            loss = self.log_loss(data)
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}
    return RealNVP(num_coupling_layers)


def test_the_real_nvp_example_runs_both_directions_and_trains_as_keras(keras):
    # ported as written: call(x, training=True) whose flag picks the direction (self(x) in the
    # steps runs it as training, predict generates), two outputs, kernel regularizers the step
    # leaves out of its loss (as Keras' own train_step does), validation by test_step
    tf = pytest.importorskip("tensorflow")
    data = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    keras_model, model = _real_nvp(keras, tf.GradientTape), _real_nvp(gn, gn.GradientTape)
    keras_model(data[:2]), model(data[:2])
    model.set_weights(keras_model.get_weights())
    for training in (True, False, None):
        arguments = {} if training is None else {"training": training}
        for ours, theirs in zip(model(data, **arguments), keras_model(data, **arguments)):
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-5)
    keras_model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), run_eagerly=True)
    model.compile(optimizer=gn.optimizers.Adam(learning_rate=0.01, rule="keras"))
    expected = keras_model.fit(data, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    history = model.fit(data, batch_size=16, epochs=2, validation_split=0.25, shuffle=False, verbose=0).history
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, err_msg=key)
    samples = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    for ours, theirs in zip(model.predict(samples, verbose=0), keras_model.predict(samples, verbose=0)):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_get_layer_of_a_block_with_weights_and_sub_layers_is_refused_rather_than_half_of_it():
    # model.get_layer("block") gave the block's CallWeights (its own weights alone): freezing it
    # left the block's Dense training, silently, where Keras' get_layer gives the whole block
    class Block(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(2,), initializer="ones")

        def call(self, x):
            return self.dense(x) * self.scale

    class Linear(gn.layers.Layer):          # the guide's: its own weights alone, all in its CallWeights
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")

        def call(self, x):
            return gn.ops.matmul(x, self.w)
    inputs = gn.Input((3,))
    model = gn.Model(inputs, Linear(name="linear")(Block(name="block")(inputs)))
    with pytest.raises(ValueError, match=r"'block' is a block nested in this one \(Block\).*without \['dense'\]'s"):
        model.get_layer("block")
    linear = model.get_layer("linear")
    linear.trainable = False
    assert [w.shape for w in model.trainable_weights] == [(2,), (3, 2), (2,)]


# -- Few-Shot learning with Reptile ----------------------------------------------------------------------

def test_the_reptile_meta_step_runs_as_keras(keras):
    # ported as written but for its model.compile() with no loss, which glassnet refuses (Keras
    # compiles and refuses fit then): the loop of its own needs none. model(images) under the tape
    # (inference: BatchNormalization's moving statistics), the per-sample loss function, the meta
    # step through get_weights/set_weights (the moving statistics interpolated too)
    tf = pytest.importorskip("tensorflow")
    classes, hw = 3, 8

    def make(framework):
        layers = framework.layers
        inputs = layers.Input(shape=(hw, hw, 1))
        x = inputs
        for _ in range(2):
            x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters=4, kernel_size=3, strides=2,
                                                                        padding="same")(x)))
        return framework.Model(inputs=inputs, outputs=layers.Dense(classes, activation="softmax")(layers.Flatten()(x)))
    rng = np.random.default_rng(0)
    batches = [[(rng.random((6, hw, hw, 1)).astype("float32"), rng.integers(0, classes, 6).astype("int32"))
                for _ in range(2)] for _ in range(2)]
    test_images = rng.random((6, hw, hw, 1)).astype("float32")
    keras_model, model = make(keras), make(gn)
    keras_model.compile()
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'loss' \(Keras 3 compiles.*needs no compile"):
        model.compile()
    model.set_weights(keras_model.get_weights())
    logs = []
    for framework, each, tape_class in ((keras, keras_model, tf.GradientTape), (gn, model, gn.GradientTape)):
        optimizer, log = framework.optimizers.SGD(learning_rate=0.05), []
        for meta_iter, mini_dataset in enumerate(batches):
            cur_meta_step_size = (1 - meta_iter / 2) * 0.25
            old_vars = each.get_weights()
            for images, labels in mini_dataset:
                with tape_class() as tape:
                    preds = each(images)
                    loss = framework.losses.sparse_categorical_crossentropy(labels, preds)
                grads = tape.gradient(loss, each.trainable_weights)
                optimizer.apply_gradients(zip(grads, each.trainable_weights))
                log.append(np.asarray(loss))
            new_vars = each.get_weights()
            each.set_weights([old + (new - old) * cur_meta_step_size for old, new in zip(old_vars, new_vars)])
            log.append(each.predict(test_images, verbose=0))
        logs.append(log)
    for ours, theirs in zip(logs[1], logs[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
