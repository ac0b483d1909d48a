"""keras.io examples ported to glassnet beside Keras 3.15, the same weights and data (review ports48):
"Vector-Quantized Variational Autoencoders" (VectorQuantizer, VQVAETrainer), "Classification with
Neural Decision Forests" (NeuralDecisionTree, NeuralDecisionForest): what the ports met."""
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
