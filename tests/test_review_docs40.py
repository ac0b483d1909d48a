"""Review docs40: the README's "Custom training loops: GradientTape" and docs/pytorch.md's
``loss.backward()`` row run as written against Keras 3.15 + tf.GradientTape and PyTorch, and
keras.io's triplet SiameseModel step (docs/layers.md), whose shared embedding failed under a tape."""
import numpy as np

import glassnet as gn
from glassnet import layers as L
from glassnet import ops


def _xy(n=16, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, classes, n)


def test_readme_loop_from_logits_metrics_and_losses_matches_keras(keras):
    """keras.io "Writing a training loop from scratch" as the README ports it: logits, a
    from_logits loss (y_pred first), ``loss_value += sum(model.losses)``, an accuracy metric."""
    import tensorflow as tf
    x, y = _xy()
    model = gn.Sequential([L.Dense(8, activation="relu", input_dim=5, kernel_regularizer=gn.regularizers.L2(1e-2)),
                           L.Dense(3)], seed=1)
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu",
                                                                     kernel_regularizer=keras.regularizers.L2(1e-2)),
                               keras.layers.Dense(3)])
    theirs.set_weights(model.get_weights())
    optimizer, k_optimizer = gn.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    k_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    acc, k_acc = gn.metrics.SparseCategoricalAccuracy(), keras.metrics.SparseCategoricalAccuracy()
    for b in range(0, 16, 4):
        xb, yb = x[b:b + 4], y[b:b + 4]
        with gn.GradientTape() as tape:
            logits = model(xb, training=True)
            loss_value = loss_fn(logits, yb)
            loss_value += sum(model.losses)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        acc.update_state(yb, logits)
        with tf.GradientTape() as k_tape:
            k_logits = theirs(xb, training=True)
            k_value = k_loss_fn(yb, k_logits)
            k_value += sum(theirs.losses)
        k_grads = k_tape.gradient(k_value, theirs.trainable_weights)
        k_optimizer.apply_gradients(zip(k_grads, theirs.trainable_weights))
        k_acc.update_state(yb, k_logits)
        np.testing.assert_allclose(float(loss_value), float(k_value), rtol=1e-5)
    assert float(acc.result()) == float(k_acc.result())
    for mine, their in zip(model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)
    # "target a recorded value (an array is summed, as TF's)"
    with gn.GradientTape() as tape:
        out = model(x)
    grads = tape.gradient(out, model.trainable_weights)
    with tf.GradientTape() as k_tape:
        k_out = theirs(x)
    for mine, their in zip(grads, k_tape.gradient(k_out, theirs.trainable_weights)):
        np.testing.assert_allclose(mine, np.asarray(their), rtol=1e-5, atol=1e-6)


def test_pytorch_md_backward_row_matches_torch(torch):
    """docs/pytorch.md: ``loss.backward()``, ``optimizer.step()``, ``zero_grad()`` -> a tape, its
    gradient, ``apply_gradients`` (no zero_grad); CrossEntropyLoss -> from_logits, (y_pred, y_true)."""
    x, y = _xy()
    model = gn.Sequential([L.Dense(8, activation="relu", input_dim=5), L.Dense(3)], seed=1, dtype="float64")
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p, w in zip([net[0].weight, net[0].bias, net[2].weight, net[2].bias], model.get_weights()):
            p.copy_(torch.tensor(w.T if w.ndim == 2 else w))
    optimizer = gn.optimizers.SGD(0.1, momentum=0.9)
    t_optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss_fn, t_loss_fn = gn.losses.SparseCategoricalCrossentropy(from_logits=True), torch.nn.CrossEntropyLoss()
    for _ in range(2):
        for b in range(0, 16, 4):
            xb, yb = x[b:b + 4].astype(np.float64), y[b:b + 4]
            with gn.GradientTape() as tape:
                loss = loss_fn(model(xb, training=True), yb)
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            t_optimizer.zero_grad()
            t_loss = t_loss_fn(net(torch.tensor(xb)), torch.tensor(yb))
            t_loss.backward()
            t_optimizer.step()
            np.testing.assert_allclose(float(loss), float(t_loss), rtol=1e-10)
    np.testing.assert_allclose(model.get_weights()[2], net[2].weight.detach().numpy().T, rtol=1e-9, atol=1e-12)


def _siamese(lib, distance_layer):
    image = lib.Input((6,))
    embedding = lib.Model(image, lib.layers.Dense(4)(lib.layers.Dense(8, activation="relu")(image)), name="Embedding")
    anchor, positive, negative = (lib.Input((6,), name=n) for n in ("anchor", "positive", "negative"))
    distances = distance_layer()(embedding(anchor), embedding(positive), embedding(negative))
    return lib.Model([anchor, positive, negative], distances)


def test_triplet_siamese_step_ports_as_written(keras):
    """keras.io's Siamese network with triplet loss: ``DistanceLayer`` (a call of ops), the shared
    embedding called three times, ``self.siamese_network(data)`` in the step without training=True.
    Under a tape, a layer called more than once in a model called in inference mode failed with a
    KeyError at tape.gradient (its calls' caches were kept in training passes only)."""
    import tensorflow as tf

    class DistanceLayer(gn.Layer):
        def call(self, anchor, positive, negative):
            ap_distance = ops.sum(ops.square(anchor - positive), -1)
            an_distance = ops.sum(ops.square(anchor - negative), -1)
            return (ap_distance, an_distance)

    class KDistanceLayer(keras.layers.Layer):
        def call(self, anchor, positive, negative):
            ap_distance = keras.ops.sum(keras.ops.square(anchor - positive), -1)
            an_distance = keras.ops.sum(keras.ops.square(anchor - negative), -1)
            return (ap_distance, an_distance)

    def model_class(base, tape_class, lib_ops, mean):
        class SiameseModel(base):
            def __init__(self, siamese_network, margin=0.5):
                super().__init__()
                self.siamese_network = siamese_network
                self.margin = margin
                self.loss_tracker = mean(name="loss")

            def train_step(self, data):
                with tape_class() as tape:
                    loss = self._compute_loss(data)
                gradients = tape.gradient(loss, self.siamese_network.trainable_weights)
                self.optimizer.apply_gradients(zip(gradients, self.siamese_network.trainable_weights))
                self.loss_tracker.update_state(loss)
                return {"loss": self.loss_tracker.result()}

            def _compute_loss(self, data):
                ap_distance, an_distance = self.siamese_network(data)
                loss = ap_distance - an_distance
                return lib_ops.maximum(loss + self.margin, 0.0)

            @property
            def metrics(self):
                return [self.loss_tracker]
        return SiameseModel

    network, k_network = _siamese(gn, DistanceLayer), _siamese(keras, KDistanceLayer)
    k_network.set_weights(network.get_weights())
    model = model_class(gn.Model, gn.GradientTape, ops, gn.metrics.Mean)(network)
    model.compile(optimizer=gn.optimizers.SGD(0.01))
    theirs = model_class(keras.Model, tf.GradientTape, keras.ops, keras.metrics.Mean)(k_network)
    theirs.compile(optimizer=keras.optimizers.SGD(0.01))
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(12, 6)).astype(np.float32) for _ in range(3)]
    for _ in range(2):
        for b in range(0, 12, 4):
            batch = tuple(d[b:b + 4] for d in data)      # keras.io's dataset of (anchor, positive, negative)
            np.testing.assert_allclose(float(model.train_step(batch)["loss"]),
                                       float(theirs.train_step(batch)["loss"]), rtol=1e-5)
    for mine, their in zip(network.get_weights(), k_network.get_weights()):
        np.testing.assert_allclose(mine, their, rtol=1e-5, atol=1e-6)


def test_shared_layer_in_inference_mode_matches_torch(torch):
    """A Dense called on both inputs of one model, ``model([a, b])`` (inference mode) under a tape:
    its kernel's gradient against PyTorch autograd (float64); it failed with a KeyError."""
    a, b = gn.Input((3,)), gn.Input((3,))
    dense = L.Dense(2)
    model = gn.Model([a, b], ops.sum(ops.square(dense(a) - dense(b)), -1), dtype="float64", seed=0)
    rng = np.random.default_rng(1)
    xa, xb = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    with gn.GradientTape() as tape:
        loss = ops.mean(model([xa, xb]))
    g_kernel, g_bias = tape.gradient(loss, model.trainable_weights)
    kernel, bias = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    ta, tb = torch.tensor(xa), torch.tensor(xb)
    t_loss = (((ta @ kernel + bias) - (tb @ kernel + bias)) ** 2).sum(-1).mean()
    t_loss.backward()
    np.testing.assert_allclose(float(loss), t_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(g_kernel, kernel.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g_bias, bias.grad.numpy(), atol=1e-12)      # the bias cancels: zeros


def test_recorded_value_into_a_model_of_several_inputs_gets_its_gradient():
    """A conditional GAN's discriminator of two inputs, ``D([G(z), labels])``: the generator got
    None gradients, silently (TF gives them). Refused at first, then recorded input by input
    (tests/test_review_rev38f.py): the generator's gradients equal those through the same
    discriminator drawn on one input, ``ops.concatenate([G(z), labels])``."""
    generator = gn.Sequential([L.Dense(3, input_dim=2)], seed=0)
    image, label = gn.Input((3,)), gn.Input((1,))
    discriminator = gn.Model([image, label], L.Dense(1)(L.Concatenate()([image, label])), seed=1)
    joined = gn.Sequential([L.Dense(1, input_dim=4)])
    joined.set_weights(discriminator.get_weights())
    z = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    labels = np.ones((4, 1), np.float32)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(discriminator([generator(z, training=True), labels], training=True)))
    got = tape.gradient(loss, generator.trainable_weights)
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(joined(ops.concatenate([generator(z, training=True), labels], axis=-1))))
    expected = tape.gradient(loss, generator.trainable_weights)
    assert all(g is not None for g in got)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
