"""Keras' example programs ported to glassnet, a second round (keras.io: antirectifier, the text
transformer, timeseries classification, the bidirectional LSTM, imbalanced classification, the MNIST
convnet): what a port keeps from its Keras source, run beside Keras 3.15 from the same weights.

A Keras layer's ``build`` that makes weights without ``super().build`` is taken as Keras takes it;
a Keras layer made of layers is refused by name with the way to write it (a ``Model`` subclass),
which then trains as Keras' layer; ``to_categorical`` takes a tagger's labels as Keras'; Keras'
own model files are named as such when glassnet is asked to read them."""
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import ModelFileError
from glassnet.layers import Layer, Wrapper


class Antirectifier(Layer):
    """keras.io's Antirectifier, its build kept as Keras wrote it (no super().build), its call
    written as forward and backward."""

    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = gn.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(output_dim * 2, output_dim), initializer=self.initializer,
                                      name="kernel", trainable=True)

    def forward(self, x, training=False):
        self.centered = x - x.mean(axis=-1, keepdims=True)
        self.concatenated = np.concatenate([np.maximum(self.centered, 0), np.maximum(-self.centered, 0)], axis=-1)
        return self.concatenated @ self.kernel

    def backward(self, grad_output):
        self.grads["kernel"][...] = self.concatenated.T @ grad_output
        d = self.centered.shape[-1]
        g = grad_output @ self.kernel.T
        g = g[:, :d] * (self.centered > 0) - g[:, d:] * (self.centered < 0)
        return g - g.mean(axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "initializer": gn.initializers.serialize(self.initializer)}


def _antirectifier_model(lib, layer):
    return lib.Sequential([lib.Input(shape=(20,)), lib.layers.Dense(16), layer(), lib.layers.Dense(16), layer(),
                           lib.layers.Dense(10)], **({"seed": 0} if lib is gn else {}))


def test_a_keras_build_without_super_build_is_built_once(tmp_path):
    # glassnet refused the model: "build() returned without marking the layer built; end it with
    # super().build(input_shape)", where Keras marks it built after any build
    model = _antirectifier_model(gn, Antirectifier)
    layer = model.layers[1]
    assert layer.built and layer.input_shape == (16,)
    kernel = layer.get_weights()[0]
    model.build((None, 20))                          # built again: the weights are kept
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)
    assert layer.kernel is layer.params["kernel"]
    x = np.random.default_rng(0).normal(size=(32, 20)).astype("float32")
    assert gn.gradcheck.check_layer(Antirectifier(dtype="float64"), x[:3].astype("float64"))["max_error"] < 1e-6
    model.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0))
    alone = Antirectifier()
    assert alone(x).shape == (32, 20) and alone.built


def test_a_wrapper_that_forgets_super_build_is_still_refused():
    class Forgetful(Wrapper):                    # its base build builds the wrapped layer
        def build(self, input_shape):
            self.add_weight(shape=(), initializer="ones", name="scale")

        def forward(self, x, training=False):
            return self.layer.forward(x, training)

        def backward(self, grad_output):
            return self.layer.backward(grad_output)

    with pytest.raises(TypeError, match=r"build\(\) returned without marking the layer built"):
        gn.Sequential([gn.Input((3,)), Forgetful(gn.layers.Dense(2))])


def test_the_antirectifier_port_trains_as_keras(keras):
    from keras import ops

    class KerasAntirectifier(keras.layers.Layer):
        def build(self, input_shape):
            output_dim = input_shape[-1]
            self.kernel = self.add_weight(shape=(output_dim * 2, output_dim), initializer="he_normal", name="kernel")

        def call(self, inputs):
            inputs -= ops.mean(inputs, axis=-1, keepdims=True)
            concatenated = ops.concatenate([ops.relu(inputs), ops.relu(-inputs)], axis=-1)
            return ops.matmul(concatenated, self.kernel)

    rng = np.random.default_rng(0)
    x, y = rng.random((96, 20)).astype("float32"), rng.integers(0, 10, 96)
    theirs, ours = _antirectifier_model(keras, KerasAntirectifier), _antirectifier_model(gn, Antirectifier)
    ours.set_weights(theirs.get_weights())
    theirs.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   optimizer=keras.optimizers.SGD(0.05), metrics=[keras.metrics.SparseCategoricalAccuracy()])
    ours.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                 optimizer=gn.optimizers.SGD(0.05), metrics=[gn.metrics.SparseCategoricalAccuracy()])
    expected = theirs.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, shuffle=False, verbose=0).history
    got = ours.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, shuffle=False, verbose=0).history
    for key in ("loss", "val_loss", "sparse_categorical_accuracy"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, atol=1e-6)


class Block(Layer):
    """keras.io's TransformerBlock as written for Keras: a Layer holding layers and a Sequential, used in
    call (no forward: drawn as a glassnet.Model subclass)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.att = gn.layers.MultiHeadAttention(num_heads=2, key_dim=8)
        self.ffn = gn.Sequential([gn.layers.Dense(8, activation="relu"), gn.layers.Dense(8)])

    def call(self, inputs):
        return self.ffn(self.att(inputs, inputs))


class FeedForward(Layer):
    """A Layer holding only a model, whose layers it runs itself."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ffn = gn.Sequential([gn.Input((3,)), gn.layers.Dense(3, activation="tanh")], seed=1)

    def forward(self, x, training=False):
        return self.ffn.layers[0].forward(x, training)

    def backward(self, grad_output):
        return self.ffn.layers[0].backward(grad_output)


def test_a_layer_holding_a_model_is_refused_with_the_way_to_write_it():
    # a held Sequential was not refused as a held layer is: its weights stayed out of the model
    # (count_params 4 of 16) and never trained, silently
    with pytest.raises(TypeError, match=r"holds the layer\(s\) \['ffn'\] as attributes.*subclass glassnet\.Model"):
        gn.Sequential([gn.Input((3,)), FeedForward(), gn.layers.Dense(1)], seed=0)
    # keras.io's block as written, with call and no forward, is drawn as a glassnet.Model subclass
    # (glassnet._call_layers): its layers join the model, all 14 weights (tests/test_layer_call.py)
    inputs = gn.Input((5, 8))
    model = gn.Model(inputs, gn.layers.Dense(1)(gn.layers.GlobalAveragePooling1D()(Block()(inputs))))
    assert len(model.get_weights()) == 8 + 4 + 2
    # a Lambda's function may still be a model (documented: no gradient through a Lambda)
    inner = gn.Sequential([gn.Input((3,)), gn.layers.Dense(3)], seed=1)
    model = gn.Sequential([gn.Input((3,)), gn.layers.Lambda(inner), gn.layers.Dense(1)], seed=0)
    assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 1)


class TransformerBlockPorts2(gn.Model):
    """keras.io's TransformerBlock ported: a Model subclass, Add for +."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        L = gn.layers
        self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = gn.Sequential([L.Dense(ff_dim, activation="relu"), L.Dense(embed_dim)])
        self.layernorm1 = L.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = L.LayerNormalization(epsilon=1e-6)
        self.dropout1, self.dropout2 = L.Dropout(rate), L.Dropout(rate)

    def call(self, inputs):
        attn_output = self.dropout1(self.att(inputs, inputs))
        out1 = self.layernorm1(gn.layers.Add()([inputs, attn_output]))
        return self.layernorm2(gn.layers.Add()([out1, self.dropout2(self.ffn(out1))]))


def test_the_transformer_block_ported_as_a_model_trains_as_keras(keras):
    L = keras.layers

    class KerasTransformerBlock(L.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([L.Dense(ff_dim, activation="relu"), L.Dense(embed_dim)])
            self.layernorm1 = L.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = L.LayerNormalization(epsilon=1e-6)
            self.dropout1, self.dropout2 = L.Dropout(rate), L.Dropout(rate)

        def call(self, inputs):
            out1 = self.layernorm1(inputs + self.dropout1(self.att(inputs, inputs)))
            return self.layernorm2(out1 + self.dropout2(self.ffn(out1)))

    def build(lib, block):
        inputs = lib.layers.Input(shape=(10,))
        x = block(16, 2, 16, 0.0)(lib.layers.Embedding(50, 16)(inputs))
        outputs = lib.layers.Dense(2, activation="softmax")(lib.layers.GlobalAveragePooling1D()(x))
        return lib.Model(inputs=inputs, outputs=outputs, **({"seed": 0} if lib is gn else {}))

    theirs, ours = build(keras, KerasTransformerBlock), build(gn, TransformerBlockPorts2)
    # the block's weights in the order its __init__ assigned its layers, as Keras lists them
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 50, (64, 10)), rng.integers(0, 2, 64)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    expected = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_to_categorical_takes_a_taggers_labels_as_keras():
    # glassnet refused anything but (n,) and (n, 1): "y must be 1-D integer labels, got shape (2, 3)"
    y = np.array([[0, 2, 1], [1, 1, 0]])
    out = gn.utils.to_categorical(y, 3)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(-1), y)
    np.testing.assert_array_equal(gn.utils.to_categorical(y[..., None], 3), out)     # a last axis of 1 dropped
    assert gn.utils.to_categorical(np.zeros((0, 4), int), 3).shape == (0, 4, 3)
    with pytest.raises(ValueError, match=r"^to_categorical: y must be an array of integer labels, got a scalar"):
        gn.utils.to_categorical(2, 3)


def test_to_categorical_matches_keras(keras):
    for y in ([[0, 2, 1], [1, 1, 0]], [[[0], [1]], [[2], [2]]], [[1]], [2, 0]):
        np.testing.assert_array_equal(gn.utils.to_categorical(y, 3), keras.utils.to_categorical(y, 3))


def test_keras_model_files_are_named_as_such(tmp_path):
    # "unexpected member 'metadata.json'" and "not a .npz (zip) file" said nothing of Keras
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:        # the members Keras 3 writes
        for name in ("metadata.json", "config.json", "model.weights.h5"):
            archive.writestr(name, b"{}")
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], seed=0)
    # load_model reads Keras 3's .keras files (tests/test_keras_files.py): this one's config is none
    with pytest.raises(ModelFileError, match=r"config\.json: not a Keras model config"):
        gn.load_model(path)
    with pytest.raises(ModelFileError, match=r"unexpected member 'metadata.json'; a Keras \.keras file: "
                                             r"glassnet reads its own model files and Keras 3's \.keras files.*set_weights"):
        model.load_weights(path)
    h5 = tmp_path / "model.weights.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    # Keras' HDF5 weights are read now (tests/test_keras_h5.py): this one is no HDF5 file at all
    with pytest.raises(ModelFileError, match=r"not a readable Keras HDF5 file"):
        model.load_weights(h5)
    other = tmp_path / "other.bin"
    other.write_bytes(b"hello world")
    with pytest.raises(ModelFileError, match=r"not a \.npz \(zip\) file$"):
        gn.load_model(other)
