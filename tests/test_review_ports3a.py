"""Keras' example programs ported to glassnet, a third round (keras.io: timeseries classification,
seq2seq number addition, the timeseries autoencoder, collaborative filtering): what the ports met.

A layer called more than once on samples of different shapes (Keras lets a weightless Flatten or
Activation take several) is refused saying why and what to write, not only that shapes differ."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def test_a_shared_layer_on_samples_of_two_shapes_is_refused_saying_why():
    a, b = gn.Input((3,)), gn.Input((5,))
    act = L.Activation("tanh")
    with pytest.raises(NotImplementedError, match=r"called more than once.*\(3,\) and \(5,\).*a layer of its own"):
        gn.Model([a, b], L.Concatenate()([act(a), act(b)]))


def test_a_subclass_reusing_a_flatten_on_two_shapes_is_refused_saying_why():
    class Net(gn.Model):       # collaborative filtering's vectors and biases through one Flatten
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.vectors, self.biases = L.Embedding(10, 4), L.Embedding(10, 1)
            self.flat = L.Flatten()

        def call(self, inputs):
            return L.Concatenate()([self.flat(self.vectors(inputs)), self.flat(self.biases(inputs))])

    with pytest.raises(NotImplementedError, match=r"layer flatten \(Flatten\) is called more than once"):
        Net(seed=0).predict(np.arange(6).reshape(6, 1))


def test_a_shared_weightless_layer_on_one_shape_still_works():
    a, b = gn.Input((3,)), gn.Input((3,))
    act = L.Activation("tanh")
    model = gn.Model([a, b], L.Concatenate()([act(a), act(b)]))
    xa, xb = np.ones((2, 3)), -np.ones((2, 3))
    np.testing.assert_allclose(model.predict([xa, xb]), np.tanh(np.concatenate([xa, xb], 1)), rtol=1e-6)


def test_adam_on_an_embedding_with_repeated_ids_steps_as_torch():
    # keras_parity.md: Keras on TensorFlow squares each repeat's sparse slice; glassnet is torch.optim's
    torch = pytest.importorskip("torch")
    ids, y = np.array([[0], [0], [0], [1]]), np.array([[1.0], [1.0], [1.0], [0.0]])
    model = gn.Sequential([gn.Input((1,)), L.Embedding(3, 1, embeddings_initializer="zeros"), L.Flatten()],
                          dtype="float64")
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(learning_rate=0.01))
    table = torch.zeros(3, 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([table], lr=0.01, eps=1e-7)
    for _ in range(3):
        model.train_on_batch(ids, y)
        opt.zero_grad()
        ((table[torch.tensor(ids[:, 0])] - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(model.get_weights()[0], table.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert model.get_weights()[0][0, 0] == pytest.approx(0.03, rel=1e-3)   # a dense first step is lr
