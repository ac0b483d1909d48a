"""A Sequential of subclass blocks not drawn yet (keras.io's `keras.Sequential([Block() for _ in
range(n)])`): each block drawn on the shape reaching it once the Sequential's input shape is known
(glassnet/_lazy_blocks.py). Compared with Keras 3.15 running keras.io's code."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers, ops

NUM_PATCHES, DIM, CLASSES = 4, 6, 3


def mixer_class(keras_module, L, o):
    """keras.io's MLPMixerLayer (vision/mlp_image_classification), transliterated: ``L`` the layers
    module, ``o`` the ops module, ``keras_module`` keras or glassnet."""
    base = L.Layer if keras_module.__name__ == "keras" else gn.Model

    class MLPMixerLayer(base):
        def __init__(self, num_patches, hidden_units, dropout_rate, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.mlp1 = keras_module.Sequential([
                L.Dense(units=num_patches, activation="gelu"),
                L.Dense(units=num_patches),
                L.Dropout(rate=dropout_rate),
            ])
            self.mlp2 = keras_module.Sequential([
                L.Dense(units=num_patches, activation="gelu"),
                L.Dense(units=hidden_units),
                L.Dropout(rate=dropout_rate),
            ])
            self.normalize = L.LayerNormalization(epsilon=1e-6)

        def build(self, input_shape):
            return super().build(input_shape)

        def call(self, inputs):
            x = self.normalize(inputs)
            x_channels = o.transpose(x, axes=(0, 2, 1))
            mlp1_outputs = self.mlp1(x_channels)
            mlp1_outputs = o.transpose(mlp1_outputs, axes=(0, 2, 1))
            x = mlp1_outputs + inputs
            x_patches = self.normalize(x)
            mlp2_outputs = self.mlp2(x_patches)
            x = x + mlp2_outputs
            return x
    return MLPMixerLayer


def classifier(keras_module, L, blocks, dropout_rate):
    """keras.io's build_classifier without its data augmentation (random), on patches given as
    (n, num_patches, patch_dim)."""
    inputs = L.Input(shape=(NUM_PATCHES, 5))
    x = L.Dense(units=DIM)(inputs)
    x = blocks(x)
    representation = L.GlobalAveragePooling1D()(x)
    representation = L.Dropout(rate=dropout_rate)(representation)
    logits = L.Dense(CLASSES)(representation)
    return keras_module.Model(inputs=inputs, outputs=logits)


def weight_names(model):
    """(name, shape) of each weight, glassnet's in get_weights' order (the layers' params)."""
    return [(key, tuple(value.shape)) for layer in model.layers for key, value in layer.params.items()]


def keras_weight_names(model):
    """Keras' (name, shape) of each weight in model.weights, a MultiHeadAttention's as glassnet's
    keys name them (``query/kernel`` is ``query_kernel``, ``attention_output/bias`` ``output_bias``)."""
    names = []
    for w in model.weights:
        parent = w.path.split("/")[-2]
        prefix = {"query": "query_", "key": "key_", "value": "value_", "attention_output": "output_"}.get(parent, "")
        names.append((prefix + w.name, tuple(w.shape)))
    return names


def mixers(module, L, o, count, rate, **kwargs):
    """keras.io's mlpmixer_blocks: ``kwargs`` go to the Sequential (glassnet's seed)."""
    cls = mixer_class(module, L, o)
    return module.Sequential([cls(NUM_PATCHES, DIM, rate) for _ in range(count)], **kwargs)


def our_mixers(count=2, rate=0.0, **kwargs):
    return mixers(gn, layers, ops, count, rate, **kwargs)


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, NUM_PATCHES, 5)).astype("float32"), rng.integers(0, CLASSES, (n, 1))


def fit_both(ours, theirs, keras, x, y, lr=0.1):
    ours.set_weights(theirs.get_weights())
    for model, module in ((theirs, keras), (ours, gn)):
        model.compile(loss=module.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=module.optimizers.SGD(learning_rate=lr))
    lk = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    lg = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    return lg, lk


def test_keras_io_mlp_mixer_in_its_exact_form_matches_keras(keras):
    # keras.io: mlpmixer_blocks = keras.Sequential([MLPMixerLayer(...) for _ in range(num_blocks)]),
    # called on a tensor in the classifier; before, each block had to be drawn first (build)
    kl = keras.layers
    theirs = classifier(keras, kl, mixers(keras, kl, keras.ops, 2, 0.2), 0.2)
    ours = classifier(gn, layers, our_mixers(2, 0.2), 0.2)
    assert weight_names(ours) == keras_weight_names(theirs)
    ours.set_weights(theirs.get_weights())
    x, y = data()
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    # two epochs of SGD (no dropout: its masks are random in both)
    theirs = classifier(keras, kl, mixers(keras, kl, keras.ops, 2, 0.0), 0.0)
    ours = classifier(gn, layers, our_mixers(2, 0.0), 0.0)
    lg, lk = fit_both(ours, theirs, keras, x, y)
    np.testing.assert_allclose(lg, lk, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_sequential_of_blocks_built_alone_orders_its_weights_as_keras_and_trains_as_keras(keras):
    # the Sequential itself, built by build((None, ...)) as Keras builds it, then a Dense after it
    kl = keras.layers
    theirs = mixers(keras, kl, keras.ops, 2, 0.0)
    theirs.add(kl.Dense(CLASSES))
    theirs.build((None, NUM_PATCHES, DIM))
    ours = our_mixers(2)
    ours.add(layers.Dense(CLASSES))
    assert not ours.built and ours.layers == []
    ours.build((None, NUM_PATCHES, DIM))
    assert weight_names(ours) == keras_weight_names(theirs)
    x = np.random.default_rng(1).normal(size=(16, NUM_PATCHES, DIM)).astype("float32")
    y = np.random.default_rng(2).normal(size=(16, NUM_PATCHES, CLASSES)).astype("float32")
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    for model, module in ((theirs, keras), (ours, gn)):
        model.compile(loss="mse", optimizer=module.optimizers.SGD(learning_rate=0.1))
    lk = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    lg = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(lg, lk, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def transformer_class(keras_module, L):
    """keras.io's TransformerBlock (nlp/text_classification_with_transformer), transliterated."""
    base = L.Layer if keras_module.__name__ == "keras" else gn.Model

    class TransformerBlock(base):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = L.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras_module.Sequential([L.Dense(ff_dim, activation="relu"), L.Dense(embed_dim)])
            self.layernorm1 = L.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = L.LayerNormalization(epsilon=1e-6)
            self.dropout1 = L.Dropout(rate)
            self.dropout2 = L.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)
    return TransformerBlock


def transformer_model(keras_module, L, rate):
    block = transformer_class(keras_module, L)
    inputs = L.Input(shape=(5, 8))
    x = keras_module.Sequential([block(8, 2, 12, rate) for _ in range(2)])(inputs)
    x = L.GlobalAveragePooling1D()(x)
    return keras_module.Model(inputs=inputs, outputs=L.Dense(CLASSES)(x))


def test_a_sequential_of_transformer_blocks_in_a_functional_model_matches_keras(keras):
    kl = keras.layers
    theirs, ours = transformer_model(keras, kl, 0.1), transformer_model(gn, layers, 0.1)
    assert weight_names(ours) == keras_weight_names(theirs)
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 5, 8)).astype("float32"), rng.integers(0, CLASSES, (16, 1))
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    theirs, ours = transformer_model(keras, kl, 0.0), transformer_model(gn, layers, 0.0)
    lg, lk = fit_both(ours, theirs, keras, x, y, lr=0.05)
    np.testing.assert_allclose(lg, lk, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


class _Residual(gn.Model):
    """A block without nested Sequentials (those are float32 unless given a dtype)."""
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mix = layers.Dense(NUM_PATCHES, activation="gelu")
        self.normalize = layers.LayerNormalization(epsilon=1e-3)

    def call(self, inputs):
        x = ops.transpose(self.mix(ops.transpose(self.normalize(inputs), axes=(0, 2, 1))), axes=(0, 2, 1))
        return x + inputs


def test_gradients_of_a_lazily_built_sequential_match_finite_differences():
    model = gn.Sequential([layers.Dense(DIM), _Residual(), _Residual(), layers.GlobalAveragePooling1D(),
                           layers.Dense(CLASSES)], seed=0, dtype="float64")
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd")
    x, y = data(6)
    report = gn.gradcheck.check_model(model, x.astype(np.float64), y)       # built on this first data
    assert model.built and model.dtype == np.float64 and report["max_error"] < 1e-6
    assert len(report["errors"]) == len(model.get_weights()) == 12


def test_every_way_to_learn_the_input_shape_draws_the_same_model():
    x = np.random.default_rng(5).normal(size=(4, NUM_PATCHES, DIM)).astype("float32")
    made = {}
    by_build = our_mixers(seed=7)
    by_build.build((None, NUM_PATCHES, DIM))
    made["build"] = by_build
    by_data = our_mixers(seed=7)
    made["predict"] = by_data
    by_data.predict(x, verbose=0)
    by_call = our_mixers(seed=7)
    by_call(x)
    made["call"] = by_call
    mixer = mixer_class(gn, layers, ops)
    made["input"] = gn.Sequential([gn.Input((NUM_PATCHES, DIM)), *[mixer(NUM_PATCHES, DIM, 0.0) for _ in range(2)]],
                                  seed=7)
    added = gn.Sequential(seed=7)
    added.add(gn.Input((NUM_PATCHES, DIM)))
    for _ in range(2):
        added.add(mixer(NUM_PATCHES, DIM, 0.0))
    made["add"] = added
    first = made.pop("build")
    for how, model in made.items():
        assert model.built, how
        for a, b in zip(model.get_weights(), first.get_weights()):
            np.testing.assert_array_equal(a, b, err_msg=how)
        np.testing.assert_array_equal(model.predict(x, verbose=0), first.predict(x, verbose=0), err_msg=how)
    other = our_mixers(seed=8)
    other.build((None, NUM_PATCHES, DIM))
    assert not np.array_equal(other.get_weights()[0], first.get_weights()[0])


def test_a_seeded_sequential_of_drawn_blocks_draws_the_weights_it_drew_before():
    # the workaround form (each block drawn first, with its own seed) is untouched: its layers keep
    # the weights their block drew
    mixer = mixer_class(gn, layers, ops)
    blocks = [mixer(NUM_PATCHES, DIM, 0.0, seed=s) for s in (1, 2)]
    for block in blocks:
        block.build((None, NUM_PATCHES, DIM))
    drawn = [w.copy() for block in blocks for w in block.get_weights()]
    model = gn.Sequential(blocks, seed=0)
    for a, b in zip(model.get_weights(), drawn):
        np.testing.assert_array_equal(a, b)


def test_layers_before_and_after_the_blocks_and_nested_sequentials_wait_with_them(tmp_path):
    mixer = mixer_class(gn, layers, ops)
    inner = gn.Sequential([mixer(NUM_PATCHES, DIM, 0.0)])
    model = gn.Sequential([layers.Dense(DIM), inner, mixer(NUM_PATCHES, DIM, 0.0), layers.Flatten()], seed=3)
    model.add(layers.Dense(CLASSES))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense"]
    assert [type(item).__name__ for item in model._pending] == ["Sequential", "MLPMixerLayer", "Flatten", "Dense"]
    x = data(8)[0]
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.fit(x, data(8)[1], epochs=1, verbose=0)
    assert model.output_shape == (None, CLASSES) and inner.built
    # the inner Sequential is built on the layers it shares with the outer one
    assert all(any(a is b for b in model.layers) for a in inner.layers)
    assert inner.predict(model.layers[0].forward(x), verbose=0).shape == (8, NUM_PATCHES, DIM)
    # summary: one row per block, the nested Sequential as one
    text = []
    model.summary(print_fn=text.append)
    rows = "\n".join(text)
    assert "sequential" in rows and "mlp_mixer_layer" in rows and "flatten" in rows
    # get_weights / set_weights, save and load (the layers' file: no custom objects needed, and
    # given they are taken), clone_model, to_json
    weights = model.get_weights()
    model.set_weights([w + 1 for w in weights])
    np.testing.assert_array_equal(model.get_weights()[0], weights[0] + 1)
    path = tmp_path / "m.npz"
    model.save(path)
    for loaded in (gn.load_model(path), gn.load_model(path, custom_objects={"MLPMixerLayer": mixer})):
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        loaded.fit(x, data(8)[1], epochs=1, verbose=0)
    clone = gn.models.clone_model(model)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    gn.model_from_json(model.to_json())


def test_a_registered_block_class_saves_and_loads(tmp_path):
    @gn.saving.register_keras_serializable(package="lazy_test")
    class Registered(mixer_class(gn, layers, ops)):
        pass
    model = gn.Sequential([Registered(NUM_PATCHES, DIM, 0.0), layers.Dense(2)], seed=0)
    x = np.random.default_rng(0).normal(size=(3, NUM_PATCHES, DIM)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "r.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "r.npz").predict(x, verbose=0), expected)


def test_a_block_shares_its_layers_with_the_sequential_it_was_drawn_in():
    mixer = mixer_class(gn, layers, ops)
    block = mixer(NUM_PATCHES, DIM, 0.0)
    model = gn.Sequential([block], seed=0)
    x = np.random.default_rng(0).normal(size=(3, NUM_PATCHES, DIM)).astype("float32")
    out = model.predict(x, verbose=0)
    np.testing.assert_array_equal(block.predict(x, verbose=0), out)      # the block draws itself on them
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, np.zeros_like(x), verbose=0)
    np.testing.assert_allclose(block.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_before_the_shape_is_known_what_needs_it_says_so_and_pop_and_trainable_work():
    mixer = mixer_class(gn, layers, ops)
    model = gn.Sequential([mixer(NUM_PATCHES, DIM, 0.0), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"holds 'mlp_mixer_layer.*' \(MLPMixerLayer\), not drawn yet.*model.build"):
        model.save("never.npz")
    with pytest.raises(ValueError, match="not built"):
        model.get_weights()
    with pytest.raises(ValueError, match="must come first"):
        model.add(gn.Input((NUM_PATCHES, DIM)))
    dense = model.pop()
    assert isinstance(dense, layers.Dense) and len(model._pending) == 1
    with pytest.raises(ValueError, match="already in this model"):
        model.add(model._pending[0])
    model.trainable = False
    model.build((None, NUM_PATCHES, DIM))
    assert model.layers and not any(layer.trainable for layer in model.layers)


def test_a_shape_the_block_refuses_leaves_it_waiting():
    mixer = mixer_class(gn, layers, ops)
    model = gn.Sequential([layers.Dense(DIM), mixer(NUM_PATCHES, DIM, 0.0)], seed=0)
    with pytest.raises(ValueError):
        model.build((None, NUM_PATCHES))         # a 1-D sample: the block's transpose of 3 axes refuses it
    assert len(model.layers) == 1 and len(model._pending) == 1 and not model.built
    model.build((None, NUM_PATCHES, 5))
    assert model.output_shape == (None, NUM_PATCHES, DIM)


class TwoOutputs(gn.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = layers.Dense(2), layers.Dense(3)

    def call(self, x):
        return [self.a(x), self.b(x)]


def test_a_block_of_several_outputs_is_refused_by_name():
    model = gn.Sequential([TwoOutputs()])
    with pytest.raises(ValueError, match=r"block 'two_outputs' \(TwoOutputs\) returns several outputs.*block.build"):
        model.build((None, 4))
    assert not model.built and len(model._pending) == 1


def test_each_layer_s_output_is_the_sequential_s_own_draw():
    # the blocks are drawn on an Input of their own first: their layers' first calls (Keras'
    # layer.output) must be those of the Sequential's draw, for the guide's feature extractors
    from glassnet.graph import _walk_back
    model = our_mixers(seed=0)
    model.build((None, NUM_PATCHES, DIM))
    made, sources = _walk_back(model.outputs)
    drawn = {id(t) for t in made}
    assert sources == model.inputs
    assert all(id(layer.output) in drawn for layer in model.layers)
    norm = model.get_layer("layer_normalization")
    x = np.random.default_rng(0).normal(size=(3, NUM_PATCHES, DIM)).astype("float32")
    mean = x.mean(-1, keepdims=True)
    np.testing.assert_allclose(gn.Model(model.inputs, norm.output).predict(x, verbose=0),
                               (x - mean) / np.sqrt(x.var(-1, keepdims=True) + 1e-6), rtol=1e-4, atol=1e-5)


def test_the_model_calling_the_sequential_draws_its_weights_and_a_subclass_may_hold_it():
    def functional(seed):
        inputs = gn.Input((NUM_PATCHES, 5))
        x = our_mixers(2)(layers.Dense(DIM)(inputs))
        return gn.Model(inputs, layers.Dense(CLASSES)(layers.GlobalAveragePooling1D()(x)), seed=seed)
    a, b, c = functional(0), functional(0), functional(1)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(a.get_weights()[2], c.get_weights()[2])

    class Outer(gn.Model):              # keras.io's self.blocks = Sequential([...]) in a subclass
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.blocks = our_mixers(2)
            self.head = layers.Dense(2)

        def call(self, x):
            return self.head(self.blocks(x))
    outer = Outer(seed=0)
    x = np.random.default_rng(0).normal(size=(3, NUM_PATCHES, DIM)).astype("float32")
    assert outer.predict(x, verbose=0).shape == (3, NUM_PATCHES, 2) and outer.blocks.built
    kernel, bias = outer.head.get_weights()
    np.testing.assert_allclose(outer.predict(x, verbose=0), outer.blocks.predict(x, verbose=0) @ kernel + bias,
                               rtol=1e-5, atol=1e-6)


def test_a_kept_sequential_of_blocks_starting_with_attention_builds_on_the_models_input():
    """A Sequential of transformer blocks, kept in a variable (a nested model's summary record keeps it
    too), is built on its layers once the functional model around it is: for its input's samples,
    not for the list of the two inputs its first call, ``att(inputs, inputs)``, reads."""
    seq = gn.Sequential([transformer_class(gn, layers)(8, 2, 12, 0.0) for _ in range(2)])
    inputs = layers.Input(shape=(5, 8))
    model = gn.Model(inputs, layers.Dense(CLASSES)(layers.GlobalAveragePooling1D()(seq(inputs))))
    assert seq.built and seq.input_shape == (None, 5, 8) and seq.output_shape == (None, 5, 8)
    x = np.random.default_rng(0).normal(size=(3, 5, 8)).astype("float32")
    assert seq.predict(x, verbose=0).shape == (3, 5, 8) and model.predict(x, verbose=0).shape == (3, CLASSES)
