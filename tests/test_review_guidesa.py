"""Found porting Keras 3's developer guides (functional API, transfer learning, masking and
padding) to glassnet."""
import numpy as np

import glassnet as gn


class TemporalSoftmax(gn.Layer):
    """The masking guide's TemporalSoftmax: a softmax over the real steps. ``forward`` takes
    ``mask`` as Keras' ``call`` does, and says nothing else about masks."""
    supports_masking = True

    def forward(self, x, training=False, mask=None):     # x: (batch, steps, 1)
        real = np.ones(x.shape[:2], bool) if mask is None else mask
        e = np.exp(x - x.max(axis=1, keepdims=True)) * real[..., None]
        self.y = e / e.sum(axis=1, keepdims=True)
        return self.y

    def backward(self, grad_output):
        return self.y * (grad_output - (grad_output * self.y).sum(axis=1, keepdims=True))


def _by_hand(model, ids):
    """What TemporalSoftmax should give after the model's Embedding and Dense: the softmax of
    each sample's real steps (ids != 0), 0 on the padding."""
    emb, dense = model.get_layer("e"), model.get_layer("d")
    z = emb.get_weights()[0][ids] @ dense.get_weights()[0] + dense.get_weights()[1]
    e = np.exp(z - z.max(axis=1, keepdims=True)) * (ids != 0)[..., None]
    return e / e.sum(axis=1, keepdims=True)


def test_a_layer_of_yours_whose_forward_takes_mask_receives_the_mask_in_a_model():
    # Keras hands the mask to any layer whose call takes `mask`; glassnet's models handed it to
    # their own readers only, so the ported layer ran as if every step were real, silently
    ids = gn.utils.pad_sequences([[7, 3, 9], [5, 8, 2, 4, 6], [1, 2]], padding="post")
    inputs = gn.Input((None,))
    x = gn.layers.Embedding(10, 4, mask_zero=True, name="e")(inputs)
    outputs = TemporalSoftmax()(gn.layers.Dense(1, name="d")(x))
    model = gn.Model(inputs, outputs, seed=0)
    expected = _by_hand(model, ids)
    np.testing.assert_allclose(model.predict(ids), expected, rtol=1e-5, atol=1e-7)
    sequential = gn.Sequential([gn.Input((None,)), gn.layers.Embedding(10, 4, mask_zero=True, name="e"),
                                gn.layers.Dense(1, name="d"), TemporalSoftmax()], seed=0)
    np.testing.assert_allclose(sequential.predict(ids), _by_hand(sequential, ids), rtol=1e-5, atol=1e-7)
    # called alone, it takes the mask it is given
    z = np.zeros((1, 3, 1), np.float32)
    np.testing.assert_allclose(TemporalSoftmax()(z, mask=np.array([[1, 1, 0]]))[0, :, 0], [0.5, 0.5, 0.0])
    # and by position, as forward(x, training, mask)
    np.testing.assert_allclose(TemporalSoftmax().forward(z, False, np.array([[1, 0, 1]]))[0, :, 0], [0.5, 0.0, 0.5])


def test_the_masking_guides_subclass_computing_the_mask_by_hand_draws():
    # Keras' guide: mask = self.embedding.compute_mask(inputs); self.lstm(x, mask=mask). Drawn in a
    # subclass, compute_mask of a symbolic tensor gave True (a tensor compared with 0 by identity),
    # which the LSTM then refused; in a drawn model the mask travels by itself
    class MyLayer(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = gn.layers.Embedding(input_dim=50, output_dim=4, mask_zero=True, name="e")
            self.lstm = gn.layers.LSTM(3, name="l")

        def call(self, inputs):
            x = self.embedding(inputs)
            mask = self.embedding.compute_mask(inputs)
            return self.lstm(x, mask=mask)

    ids = gn.utils.pad_sequences([[1, 2], [3, 4, 5], [6]], padding="post")
    subclass = MyLayer(seed=0)
    got = subclass(ids)
    inputs = gn.Input((None,))
    functional = gn.Model(inputs, gn.layers.LSTM(3, name="l")(gn.layers.Embedding(50, 4, mask_zero=True, name="e")(inputs)))
    for name in ("e", "l"):
        functional.get_layer(name).set_weights(subclass.get_layer(name).get_weights())
    np.testing.assert_allclose(got, functional.predict(ids), rtol=1e-6)
    # the padded steps are skipped: [6] padded gives what [6] alone gives
    np.testing.assert_allclose(got[2], functional.predict(ids[2:, :1])[0], rtol=1e-6)
    assert gn.layers.Masking().compute_mask(gn.Input((3, 2))) is None
