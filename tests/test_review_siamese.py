"""Porting keras.io's two Siamese examples (contrastive loss, triplet loss): a loss of your own
returning Keras' per-sample values, a Lambda over glassnet.ops, and the documented ports."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

L = gn.layers


class _PerSample(gn.Loss):
    """Keras' triplet ``_compute_loss`` as written: one value per sample, not their mean."""
    def __call__(self, y_pred, y_true):
        return np.maximum(y_pred[:, 0] - y_pred[:, 1] + 0.5, 0.0)

    def gradient(self, y_pred, y_true):
        active = (y_pred[:, 0] - y_pred[:, 1] + 0.5 > 0).astype(y_pred.dtype)
        return np.stack([active, -active], axis=1) / len(y_pred)


def _two_outputs_model(loss):
    model = gn.Sequential([gn.Input((3,)), L.Dense(2)], seed=0)
    model.compile(loss=loss, optimizer="sgd")
    return model


@pytest.mark.parametrize("call", ["fit", "train_on_batch", "evaluate", "test_on_batch"])
def test_a_loss_of_your_own_returning_per_sample_values_is_told_to_return_one_number(call):
    # it failed deep inside fit: "only 0-dimensional arrays can be converted to Python scalars"
    model = _two_outputs_model(_PerSample())
    x, y = np.random.default_rng(0).random((8, 3)), np.zeros((8, 2))
    run = {"fit": lambda: model.fit(x, y, epochs=1, verbose=0), "train_on_batch": lambda: model.train_on_batch(x, y),
           "evaluate": lambda: model.evaluate(x, y), "test_on_batch": lambda: model.test_on_batch(x, y)}[call]
    with pytest.raises(TypeError, match=r"_PerSample\.__call__: .*one number.*got an array of shape \(8,\)"):
        run()


def test_per_sample_values_refused_for_one_output_of_several_too():
    inputs = gn.Input((3,))
    model = gn.Model(inputs, [L.Dense(2, name="a")(inputs), L.Dense(1, name="b")(inputs)], seed=0)
    model.compile(loss=[_PerSample(), "mse"], optimizer="sgd")
    x = np.random.default_rng(0).random((8, 3))
    with pytest.raises(TypeError, match=r"_PerSample\.__call__: .*one number"):
        model.fit(x, [np.zeros((8, 2)), np.zeros((8, 1))], epochs=1, verbose=0)


def test_weighted_per_sample_values_name_weighted():
    class Weighted(_PerSample):
        def weighted(self, y_pred, y_true, sample_weight):
            return self(y_pred, y_true) * sample_weight

    model = _two_outputs_model(Weighted())
    x = np.random.default_rng(0).random((8, 3))
    with pytest.raises(TypeError, match=r"Weighted\.weighted: .*one number.*got an array of shape \(8,\)"):
        model.fit(x, np.zeros((8, 2)), sample_weight=np.ones(8), epochs=1, verbose=0)


def _euclidean_distance(vects):
    """keras.io's Siamese ``euclidean_distance``, keras.ops ported to glassnet.ops."""
    x, y = vects
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, 1e-7))


def _siamese(distance):
    inner = gn.Input((4,))
    tower = gn.Model(inner, L.Dense(3, activation="tanh")(inner))
    left, right = gn.Input((4,)), gn.Input((4,))
    out = L.Dense(1, activation="sigmoid")(distance([tower(left), tower(right)]))
    model = gn.Model([left, right], out, seed=0)
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.5))
    return model


def test_a_lambda_over_glassnet_ops_is_told_to_drop_the_lambda_which_then_trains():
    # the Keras example's Lambda(euclidean_distance) kept, its keras.ops ported: the refusal
    # pointed only at writing a Layer with forward and backward
    rng = np.random.default_rng(0)
    x1, x2 = rng.random((16, 4)), rng.random((16, 4))
    y = (np.abs(x1 - x2).sum(axis=1, keepdims=True) > 1.3).astype("float32")
    with_lambda = _siamese(L.Lambda(_euclidean_distance, output_shape=(1,)))
    with pytest.raises(NotImplementedError, match=r"glassnet\.ops.*drop the Lambda and call the function on "
                                                  r"the model's tensors themselves"):
        with_lambda.fit([x1, x2], y, verbose=0)
    # the advice followed: the same function on the tensors, the same values, and the tower trains
    direct = _siamese(_euclidean_distance)
    direct.set_weights(with_lambda.get_weights())
    np.testing.assert_allclose(direct.predict([x1, x2]), with_lambda.predict([x1, x2]), rtol=1e-6)
    before = direct.get_weights()[0].copy()
    direct.fit([x1, x2], y, epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(before, direct.get_weights()[0])


def _documented_ports():
    """docs/layers.md's Siamese section, its code blocks run in order: the names they define."""
    import re
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "layers.md").read_text(encoding="utf-8")
    section = re.search(r"### A loss of your own: keras\.io's Siamese networks\n(.*?)\n### ", doc, re.S)
    assert section, "docs/layers.md has the Siamese section"
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert len(blocks) == 2
    space = {}
    for block in blocks:
        exec(block, space)
    return space


def test_the_documented_contrastive_port_trains_as_keras(keras):
    doc = _documented_ports()
    kops, K = keras.ops, keras.layers

    def euclidean_distance(vects):
        x, y = vects
        sum_square = kops.sum(kops.square(x - y), axis=1, keepdims=True)
        return kops.sqrt(kops.maximum(sum_square, keras.backend.epsilon()))

    def contrastive_loss(y_true, y_pred, margin=1.0):
        return kops.mean((1 - y_true) * kops.square(y_pred) + y_true * kops.square(kops.maximum(margin - y_pred, 0)))

    keras.utils.set_random_seed(0)
    image = K.Input((28, 28, 1))
    x = K.BatchNormalization()(image)
    x = K.AveragePooling2D((2, 2))(K.Conv2D(4, (5, 5), activation="tanh")(x))
    x = K.AveragePooling2D((2, 2))(K.Conv2D(16, (5, 5), activation="tanh")(x))
    x = K.Dense(10, activation="tanh")(K.BatchNormalization()(K.Flatten()(x)))
    tower = keras.Model(image, x)
    i1, i2 = K.Input((28, 28, 1)), K.Input((28, 28, 1))
    merged = K.Lambda(euclidean_distance, output_shape=(1,))([tower(i1), tower(i2)])
    theirs = keras.Model([i1, i2], K.Dense(1, activation="sigmoid")(K.BatchNormalization()(merged)))
    ours = doc["siamese"]
    ours.set_weights(theirs.get_weights())      # Keras' order: the nested tower's weights first
    rng = np.random.default_rng(0)
    x1, x2 = (rng.random((32, 28, 28)).astype("float32") for _ in range(2))
    y = rng.integers(0, 2, 32).astype("float32")
    val = ([x1[:8], x2[:8]], y[:8])
    theirs.compile(loss=contrastive_loss, optimizer=keras.optimizers.RMSprop(epsilon=1e-14), metrics=["accuracy"])
    ours.compile(loss=doc["ContrastiveLoss"](margin=1.0), optimizer=gn.optimizers.RMSprop(epsilon=1e-14),
                 metrics=["accuracy"])
    kh = theirs.fit([x1, x2], y, batch_size=16, epochs=2, shuffle=False, validation_data=val, verbose=0).history
    gh = ours.fit([x1, x2], y, batch_size=16, epochs=2, shuffle=False, validation_data=val, verbose=0).history
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(gh[key], kh[key], rtol=1e-5, err_msg=key)
    for mine, their in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, atol=5e-4)      # RMSprop's first steps are lr / sqrt(0.1)


def test_the_documented_triplet_port_trains_as_keras_tape(keras):
    import tensorflow as tf
    doc = _documented_ports()
    kops, K = keras.ops, keras.layers
    keras.utils.set_random_seed(0)
    image = K.Input((32, 32, 3))
    x = K.BatchNormalization()(K.Dense(64, activation="relu")(K.Flatten()(image)))
    embedding = keras.Model(image, K.Dense(32)(x))

    class DistanceLayer(K.Layer):
        def call(self, anchor, positive, negative):
            return kops.sum(tf.square(anchor - positive), -1), kops.sum(tf.square(anchor - negative), -1)

    inputs = [K.Input((32, 32, 3)) for _ in range(3)]
    network = keras.Model(inputs, DistanceLayer()(*(embedding(i) for i in inputs)))

    class SiameseModel(keras.Model):    # keras.io's, training=True added (see the docs)
        def __init__(self, network):
            super().__init__()
            self.network, self.tracker = network, keras.metrics.Mean(name="loss")

        def train_step(self, data):
            with tf.GradientTape() as tape:
                ap, an = self.network(data, training=True)
                loss = tf.maximum(ap - an + 0.5, 0.0)
            grads = tape.gradient(loss, self.network.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.network.trainable_weights))
            self.tracker.update_state(loss)
            return {"loss": self.tracker.result()}

        @property
        def metrics(self):
            return [self.tracker]

    rng = np.random.default_rng(0)
    anchors = rng.random((32, 32, 32, 3)).astype("float32")
    positives = (anchors + rng.normal(size=anchors.shape)).astype("float32")
    negatives = rng.random(anchors.shape).astype("float32")
    ours = doc["siamese_network"]
    ours.set_weights(network.get_weights())
    # the docs' other port: Keras' SiameseModel, its step the compiled network's train_on_batch
    stepped = gn.models.clone_model(ours)
    stepped.set_weights(network.get_weights())
    stepped.compile(loss=doc["TripletLoss"](margin=0.5), optimizer=gn.optimizers.SGD(16 * 1e-4))

    class PortedSiameseModel(gn.Model):
        def __init__(self, siamese_network):
            super().__init__()
            self.siamese_network, self.loss_tracker = siamese_network, gn.metrics.Mean(name="loss")

        def train_step(self, data):
            loss = self.siamese_network.train_on_batch(data, np.zeros((len(data[0]), 2)))
            self.loss_tracker.update_state(loss)
            return {"loss": self.loss_tracker.result()}

        @property
        def metrics(self):
            return [self.loss_tracker]

    theirs = SiameseModel(network)
    theirs.compile(optimizer=keras.optimizers.SGD(1e-4))
    batches = tf.data.Dataset.from_tensor_slices((anchors, positives, negatives)).batch(16)
    kh = theirs.fit(batches, epochs=2, verbose=0).history
    # the tape differentiates the sum over the batch; TripletLoss the mean: a rate 16 times larger
    ours.compile(loss=doc["TripletLoss"](margin=0.5), optimizer=gn.optimizers.SGD(16 * 1e-4))
    gh = ours.fit([anchors, positives, negatives], np.zeros((32, 2)), batch_size=16, epochs=2, shuffle=False,
                  verbose=0).history
    # distances of ~50 summed in float32 over 3072 pixels: the gradients agree to 4e-6 relative,
    # which the steps grow to ~1e-5 (a wrong scale or sign of the gradient is off by far more)
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=1e-4)
    assert kh["loss"][-1] < 0.8 * kh["loss"][0]
    for mine, their in zip(ours.get_weights(), network.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-3, atol=1e-5)
    ported = PortedSiameseModel(stepped)
    ported.compile(optimizer="sgd")         # unused, as Keras' super().compile() would be
    assert ported.fit(batches, epochs=2, shuffle=False, verbose=0).history == gh
    for mine, stepped_weight in zip(ours.get_weights(), stepped.get_weights()):
        np.testing.assert_array_equal(mine, stepped_weight)
