"""Found porting keras.io's Keras 3 vision examples (ConvMixer, CCT, MLP-Mixer, gMLP) to glassnet."""
import numpy as np

import glassnet as gn
from glassnet import layers, ops


class _Block(gn.Model):
    """Its layers assigned in another order than `call` uses them: `layers` lists `second` first."""
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.second = layers.Dense(3)
        self.first = layers.Dense(4)

    def call(self, x):
        return self.second(self.first(x))


def test_a_drawn_subclass_whose_first_listed_layer_does_not_read_its_input_nests_in_a_sequential(tmp_path):
    # Sequential([block, ...]) checked (and built) the block's first *listed* layer against the
    # block's Input, as for a chain; a subclass lists its layers in __init__'s order, so a block
    # that assigns a later layer first was refused: "layer dense (Dense) expects input samples of
    # shape (4,), the model's Input declares (2,)"
    block = _Block()
    block.build((None, 2))
    x = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    model = gn.Sequential([block, layers.Dense(1)])
    kernel, bias = model.layers[2].get_weights()
    np.testing.assert_allclose(model.predict(x), block.predict(x) @ kernel + bias, rtol=1e-6, atol=1e-6)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x), model.predict(x))
    # an Input that does not fit is still refused, naming the layer that reads it
    other = _Block()
    other.build((None, 2))
    try:
        gn.Sequential([gn.Input((5,)), other])
    except ValueError as error:
        assert "dense_1" in str(error) and "(2,)" in str(error) and "(5,)" in str(error)
    else:
        raise AssertionError("an Input of another shape was taken")


def test_keras_io_mlp_mixer_blocks_in_a_sequential_match_keras(keras):
    # keras.io's MLP-Mixer: mlpmixer_blocks = keras.Sequential([MLPMixerLayer(...) for _ in ...]);
    # its block lists mlp1 (which reads the transposed input) before normalize. Here each block
    # is drawn first, the form that worked before blocks not drawn yet waited for their shape
    # (tests/test_lazy_blocks.py runs keras.io's form as written)
    kl = keras.layers
    num_patches, dim = 4, 6

    class KMixer(kl.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.mlp1 = keras.Sequential([kl.Dense(num_patches, activation="gelu"), kl.Dense(num_patches)])
            self.mlp2 = keras.Sequential([kl.Dense(num_patches, activation="gelu"), kl.Dense(dim)])
            self.normalize = kl.LayerNormalization(epsilon=1e-6)

        def call(self, inputs):
            x = self.normalize(inputs)
            x = keras.ops.transpose(self.mlp1(keras.ops.transpose(x, axes=(0, 2, 1))), axes=(0, 2, 1)) + inputs
            return x + self.mlp2(self.normalize(x))

    class Mixer(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.mlp1 = gn.Sequential([layers.Dense(num_patches, activation="gelu"), layers.Dense(num_patches)])
            self.mlp2 = gn.Sequential([layers.Dense(num_patches, activation="gelu"), layers.Dense(dim)])
            self.normalize = layers.LayerNormalization(epsilon=1e-6)

        def call(self, inputs):
            x = self.normalize(inputs)
            x = ops.transpose(self.mlp1(ops.transpose(x, axes=(0, 2, 1))), axes=(0, 2, 1)) + inputs
            return x + self.mlp2(self.normalize(x))

    def classifier(L, M, blocks):
        inputs = L.Input((num_patches, 3))
        x = blocks(L.Dense(dim)(inputs))
        return M.Model(inputs, L.Dense(3)(L.GlobalAveragePooling1D()(x)))

    mixers = [Mixer() for _ in range(2)]
    for mixer in mixers:
        mixer.build((None, num_patches, dim))
    ours = classifier(layers, gn, gn.Sequential(mixers))
    theirs = classifier(kl, keras, keras.Sequential([KMixer() for _ in range(2)]))
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, num_patches, 3)).astype("float32"), rng.integers(0, 3, (16, 1))
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    for model, module in ((theirs, keras), (ours, gn)):
        model.compile(loss=module.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=module.optimizers.SGD(learning_rate=0.1))
    lk = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    lg = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(lg, lk, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


class _Widen(gn.Model):
    """Keras' other place for the layers: build, which unpacks Keras' (batch, features) shape."""
    def build(self, input_shape):
        (_, features) = input_shape
        self.dense = layers.Dense(features + 1)
        super().build(input_shape)

    def call(self, x):
        return self.dense(x)


def test_a_subclass_making_its_layers_in_build_is_built_when_called_in_a_functional_model():
    # called on a tensor, the subclass' call ran without its build ("'_Widen' object has no
    # attribute 'dense'"); and fit's first data handed build one sample's shape, (3,), where Keras
    # hands (None, 3), so `(_, features) = input_shape` failed
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    inputs = gn.Input((3,))
    widen = _Widen()
    model = gn.Model(inputs, layers.Dense(1)(widen(inputs)), seed=0)
    assert [w.shape for w in model.get_weights()] == [(3, 4), (4,), (4, 1), (1,)]
    kernel, bias, head, head_bias = model.get_weights()
    np.testing.assert_allclose(model.predict(x), (x @ kernel + bias) @ head + head_bias, rtol=1e-5, atol=1e-6)
    # the same block predicting on its own shares those layers: its build is not run again
    np.testing.assert_array_equal(widen.predict(x), model.layers[0].forward(x))
    alone = _Widen(seed=0)
    alone.compile(loss="mse", optimizer="sgd")
    alone.fit(x, np.zeros((4, 4)), verbose=0)
    assert alone.predict(x).shape == (4, 4)


def test_keras_io_involution_with_layers_made_in_build_matches_keras(keras):
    # keras.io's Involution: a layer whose build makes its sub-layers from (_, h, w, c) and whose
    # call returns (output, kernel); extract_patches (not in glassnet.ops) as k*k slices of the
    # zero-padded input, stacked
    kl = keras.layers

    def layer_class(base, L, patches):
        class Involution(base):
            def __init__(self, channel, group_number, kernel_size, reduction_ratio, name):
                super().__init__(name=name)
                self.channel, self.group_number, self.kernel_size = channel, group_number, kernel_size
                self.reduction_ratio = reduction_ratio

            def build(self, input_shape):
                (_, height, width, num_channels) = input_shape
                k2 = self.kernel_size * self.kernel_size
                self.kernel_gen = (keras if L is kl else gn).Sequential([
                    L.Conv2D(filters=self.channel // self.reduction_ratio, kernel_size=1),
                    L.BatchNormalization(), L.ReLU(),
                    L.Conv2D(filters=k2 * self.group_number, kernel_size=1)])
                self.kernel_reshape = L.Reshape((height, width, k2, 1, self.group_number))
                self.input_patches_reshape = L.Reshape(
                    (height, width, k2, num_channels // self.group_number, self.group_number))
                self.output_reshape = L.Reshape((height, width, num_channels))

            def call(self, x):
                kernel = self.kernel_reshape(self.kernel_gen(x))
                input_patches = self.input_patches_reshape(patches(x, self.kernel_size))
                output = (keras.ops if L is kl else ops).sum(kernel * input_patches, axis=3)
                return self.output_reshape(output), kernel
        return Involution

    def our_patches(x, k):
        h, w = x.shape[-3:-1]            # (an Input's shape is one sample's here)
        padded = layers.ZeroPadding2D(k // 2)(x)
        return ops.stack([padded[:, i:i + h, j:j + w, :] for i in range(k) for j in range(k)], axis=3)

    def build(L, M, Involution):
        inputs = L.Input((6, 6, 4))
        x, _ = Involution(channel=4, group_number=2, kernel_size=3, reduction_ratio=2, name="inv_1")(inputs)
        x = L.Flatten()(L.MaxPooling2D((2, 2))(L.ReLU()(x)))
        return M.Model(inputs, L.Dense(3)(x))

    theirs = build(kl, keras, layer_class(kl.Layer, kl, lambda x, k: keras.ops.image.extract_patches(
        x, k, strides=1, padding="same")))
    ours = build(layers, gn, layer_class(gn.Model, layers, our_patches))
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 6, 6, 4)).astype("float32"), rng.integers(0, 3, (16, 1))
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    for model, module in ((theirs, keras), (ours, gn)):
        model.compile(loss=module.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=module.optimizers.SGD(learning_rate=0.05))
    lk = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    lg = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(lg, lk, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_the_documented_stand_ins_for_extract_patches_and_ops_gelu_give_keras_values(keras):
    # docs/keras_parity.md's ops row: keras.io's MLP-Mixer Patches and CCT's activation=ops.gelu
    from functools import partial
    x = np.random.default_rng(0).normal(size=(2, 8, 6, 3)).astype("float32")
    p, (h, w, c) = 2, x.shape[1:]
    inputs = gn.Input((h, w, c))
    patches = ops.reshape(ops.transpose(ops.reshape(inputs, (-1, h // p, p, w // p, p, c)), (0, 1, 3, 2, 4, 5)),
                          (-1, (h // p) * (w // p), p * p * c))
    expected = keras.ops.convert_to_numpy(keras.ops.image.extract_patches(x, p))
    np.testing.assert_array_equal(gn.Model(inputs, patches).predict(x), expected.reshape(2, -1, p * p * c))
    tanh_gelu = gn.activations.Activation("gelu_tanh", partial(gn.activations.gelu, approximate=True),
                                          partial(gn.activations.backprop_gelu, approximate=True))
    dense = layers.Dense(4, activation=tanh_gelu, seed=0)
    theirs = keras.layers.Dense(4, activation=keras.ops.gelu)
    theirs.build((None, 3))
    dense.build((3,))
    dense.set_weights(theirs.get_weights())
    z = x.reshape(-1, 3)
    np.testing.assert_allclose(dense(z), keras.ops.convert_to_numpy(theirs(z)), atol=1e-6)
