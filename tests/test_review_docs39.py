"""Review (today's docs run as a user): README's keras.ops convolution examples, the add_loss
Switch Transformer load balancing, a block reading its mask, TimeDistributed(model), pop of a
block and docs/pytorch.md's nn.EmbeddingBag port, each against Keras 3.15 or PyTorch 2.13, small.
And the compile warning for log-probabilities read as probabilities, which README and
docs/pytorch.md promise for "a model ending in a log_softmax": it missed a model ending in
ops.log_softmax (PyTorch's forward returning F.log_softmax, ported in a call or a functional
model) and a loss named "ce"/"crossentropy", picked at the first batch."""
import os
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

L = gn.layers


def _max_diff(a, b):
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b))


# --- the compile warning for a log_softmax output -------------------------------------------------

def _functional_log_softmax():
    inputs = gn.Input((4,))
    return gn.Model(inputs, ops.log_softmax(L.Dense(3)(inputs), axis=-1))


class _Net(gn.Model):
    """PyTorch's forward ending in F.log_softmax(x, dim=1), ported as Keras writes a call."""
    def __init__(self):
        super().__init__()
        self.fc = L.Dense(3)

    def call(self, x):
        return ops.log_softmax(self.fc(x), axis=1)


@pytest.mark.parametrize("make", [_functional_log_softmax, lambda: _Net()], ids=["functional", "subclass"])
def test_compile_warns_for_an_ops_log_softmax_output_read_as_probabilities(make):
    model = make()
    if not model.built:
        model.build((None, 4))
    with pytest.warns(UserWarning, match="log_softmax.*from_logits=True"):
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")


def test_a_crossentropy_picked_at_the_first_batch_warns_too():
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, activation="log_softmax")])
    model.compile(loss="ce", optimizer="sgd")
    x, y = np.zeros((4, 4), "float32"), np.array([0, 1, 2, 0])
    with pytest.warns(UserWarning, match="log_softmax"):
        model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # picked once: no second warning
        model.fit(x, y, epochs=1, verbose=0)


def test_no_warning_where_the_advice_is_followed_and_it_trains_as_pytorchs_nll(torch, rng):
    """from_logits=True after ops.log_softmax: no warning, and SGD steps as PyTorch's
    LogSoftmax + NLLLoss (the port docs/pytorch.md gives)."""
    x = rng.normal(size=(8, 4))
    y = rng.integers(0, 3, 8)
    inputs = gn.Input((4,))
    model = gn.Model(inputs, ops.log_softmax(L.Dense(3)(inputs), axis=-1), dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=gn.optimizers.SGD(0.5))
    kernel, bias = model.get_weights()
    fc = torch.nn.Linear(4, 3)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(kernel.T))
        fc.bias.copy_(torch.tensor(bias))
    opt = torch.optim.SGD(fc.parameters(), lr=0.5)
    for _ in range(3):
        model.train_on_batch(x, y)
        opt.zero_grad()
        torch.nn.NLLLoss()(torch.log_softmax(fc(torch.tensor(x)), dim=1), torch.tensor(y)).backward()
        opt.step()
    np.testing.assert_allclose(model.get_weights()[0], fc.weight.detach().numpy().T, atol=1e-12)


# --- README's keras.ops convolution examples -----------------------------------------------------

def _conv_examples(lib, ops_):
    class Patches(lib.layers.Layer):                 # keras.io's ViT
        def call(self, images):
            patches = ops_.image.extract_patches(images, 6)            # (None, 12, 12, 108)
            return ops_.reshape(patches, (-1, 144, 6 * 6 * 3))

    class ConvBlock(lib.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], 8))

        def call(self, x):
            return ops_.max_pool(ops_.relu(ops_.conv(x, self.kernel, padding="same")), 2)

    images = lib.Input((72, 72, 3))
    patches = lib.Model(images, Patches()(images))
    inputs = lib.Input((12, 12, 3))
    outputs = lib.layers.Dense(2)(lib.layers.Flatten()(ConvBlock()(inputs)))
    return patches, lib.Model(inputs, outputs)


def test_readme_conv_examples_as_keras(keras, rng):
    (patches, ours), (kpatches, theirs) = _conv_examples(gn, gn.ops), _conv_examples(keras, keras.ops)
    images = rng.normal(size=(2, 72, 72, 3)).astype("float32")
    assert patches.output_shape == tuple(kpatches.output_shape) == (None, 144, 108)
    np.testing.assert_allclose(patches.predict(images, verbose=0), kpatches.predict(images, verbose=0), atol=1e-6)
    ours.set_weights(theirs.get_weights())
    x, y = images[:4, :12, :12], rng.normal(size=(2, 2)).astype("float32")
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.01))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.01))
    a = ours.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"]
    b = theirs.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert _max_diff(ours.get_weights(), theirs.get_weights()) < 1e-5


# --- add_loss: keras.io's Switch Transformer load balancing, over the batch axis ------------------

def _switch(lib, ops_):
    class Router(lib.layers.Layer):
        def __init__(self, num_experts, **kwargs):
            super().__init__(**kwargs)
            self.num_experts = num_experts
            self.route = lib.layers.Dense(num_experts)

        def call(self, inputs):
            router_probs = ops_.softmax(self.route(inputs), axis=-1)
            expert_mask = ops_.one_hot(ops_.argmax(router_probs, axis=-1), self.num_experts)
            density_proxy = ops_.mean(router_probs, axis=0)
            density = ops_.mean(expert_mask, axis=0)
            self.add_loss(ops_.mean(density_proxy * density) * ops_.cast(self.num_experts ** 2, "float32"))
            return inputs * ops_.max(router_probs, axis=-1, keepdims=True)

    inputs = lib.Input((6,))
    h = Router(4)(lib.layers.Dense(6, activation="relu")(inputs))
    return lib.Model(inputs, lib.layers.Dense(1)(h))


def test_switch_load_balancing_as_keras(keras, rng, tmp_path):
    ours, theirs = _switch(gn, gn.ops), _switch(keras, keras.ops)
    ours.set_weights(theirs.get_weights())
    x, y = rng.normal(size=(10, 6)).astype("float32"), rng.normal(size=(10, 1)).astype("float32")
    ours(x)
    theirs(x)
    np.testing.assert_allclose(np.ravel(ours.losses), [float(v) for v in theirs.losses], rtol=1e-5)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    a = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    b = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-5)
    ours.save(tmp_path / "switch.npz")
    back = gn.load_model(tmp_path / "switch.npz")
    back(x)
    ours(x)
    np.testing.assert_array_equal(np.ravel(back.losses), np.ravel(ours.losses))


# --- a block reading the mask its input carries; TimeDistributed(model); pop of a block -----------

def _masked_mean_model(lib, ops_):
    class MaskedMean(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, x, mask=None):
            if mask is None:            # Keras draws its block without the inner LSTM's mask
                return ops_.mean(x, axis=1)
            m = ops_.expand_dims(ops_.cast(mask, "float32"), -1)
            return ops_.sum(x * m, axis=1) / ops_.sum(m, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

    inputs = lib.Input((6,), dtype="int32")
    h = lib.layers.Embedding(20, 4, mask_zero=True)(inputs)
    h = lib.layers.LSTM(3, return_sequences=True)(h)
    return lib.Model(inputs, lib.layers.Dense(2, activation="softmax")(MaskedMean()(h)))


def test_block_masked_mean_as_keras(keras):
    ours, theirs = _masked_mean_model(gn, gn.ops), _masked_mean_model(keras, keras.ops)
    ours.set_weights(theirs.get_weights())
    x = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 0, 0, 0, 0], [6, 7, 8, 9, 10, 11]])
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)


def _cnn_gru(lib):
    cnn = lib.Sequential([lib.Input((6, 6, 1)), lib.layers.Conv2D(3, 3, activation="relu"),
                          lib.layers.Flatten(), lib.layers.Dense(4)])
    inputs = lib.Input((3, 6, 6, 1))
    x = lib.layers.GRU(3)(lib.layers.TimeDistributed(cnn)(inputs))
    return lib.Model(inputs, lib.layers.Dense(2, activation="softmax")(x))


def test_time_distributed_cnn_as_keras(keras, rng):
    ours, theirs = _cnn_gru(gn), _cnn_gru(keras)
    ours.set_weights(theirs.get_weights())
    x = rng.normal(size=(6, 3, 6, 6, 1)).astype("float32")
    y = np.eye(2)[rng.integers(0, 2, 6)].astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)
    ours.compile(loss="categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    a = ours.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    b = theirs.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-5)


def _blocks(lib, ops_):
    class Block(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(4)
            self.probe = lib.layers.Dense(3)        # a call reaching no output: listed, as Keras
            self.scale = self.add_weight(shape=(4,), initializer="ones", name="scale")

        def call(self, x):
            h = self.dense(x)
            _ = self.probe(h)
            self.add_loss(0.1 * ops_.mean(ops_.square(h)))
            return h * self.scale

    return lib.Sequential([lib.Input((5,)), lib.layers.Dense(5), Block(), Block()])


def test_pop_of_a_block_with_its_terms_as_keras(keras, rng):
    ours, theirs = _blocks(gn, gn.ops), _blocks(keras, keras.ops)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    popped, kpopped = ours.pop(), theirs.pop()
    assert type(popped).__name__ == type(kpopped).__name__ == "Block"
    assert ours.count_params() == theirs.count_params()
    ours.set_weights(theirs.get_weights())
    x, y = rng.normal(size=(8, 5)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)


# --- docs/pytorch.md: nn.EmbeddingBag(mode="mean") ported -----------------------------------------

def test_embedding_bag_port_as_pytorch(torch):
    n, d = 10, 4
    bag = torch.nn.EmbeddingBag(n, d, mode="mean")
    bags = [[0, 3, 3], [5], [], [9, 1, 2, 0]]          # an empty bag, and torchtext's <unk> id 0
    text = torch.tensor([i for ids in bags for i in ids])
    offsets = torch.tensor(np.cumsum([0] + [len(ids) for ids in bags[:-1]]))
    expected = bag(text, offsets).detach().numpy()
    x = gn.utils.pad_sequences([np.asarray(ids) + 1 for ids in bags], padding="post")
    model = gn.Sequential([L.Embedding(n + 1, d, mask_zero=True), L.GlobalAveragePooling1D()], dtype="float64")
    model.build((None, x.shape[1]))
    model.set_weights([np.concatenate([np.zeros((1, d)), bag.weight.detach().numpy()])])
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-12)
