"""LoRA (glassnet.layers.lora) against Keras 3.15's: enable_lora and lora_rank on Dense, EinsumDense,
Embedding and the convolutions; outputs, weights and training with the same weights set into both;
finite differences of the LoRA matrices in float64; Keras files both ways; the refusals."""
import copy
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.gradcheck import GradientCheckError, check_layer

# (name, glassnet/Keras layer maker given the module, input sample shape, input dtype kind)
KINDS = {
    "Dense": (lambda m, **kw: m.layers.Dense(5, activation="tanh", **kw), (6,), "f"),
    "EinsumDense": (lambda m, **kw: m.layers.EinsumDense("abc,cd->abd", output_shape=(3, 5), bias_axes="d", **kw),
                    (3, 6), "f"),
    "Embedding": (lambda m, **kw: m.layers.Embedding(9, 5, **kw), (4,), "i"),
    "Conv2D": (lambda m, **kw: m.layers.Conv2D(4, 3, activation="relu", **kw), (6, 6, 2), "f"),
    "Conv1D": (lambda m, **kw: m.layers.Conv1D(4, 3, padding="same", **kw), (7, 3), "f"),
}


def _data(kind, rng, n=24):
    _, shape, dtype = KINDS[kind]
    if dtype == "i":
        return rng.integers(0, 9, (n, *shape))
    return rng.normal(size=(n, *shape)).astype(np.float32)


def _models(keras, kind, rank=2, alpha=None, enable=True):
    """A Keras and a glassnet model, LoRA layer then Flatten and a Dense(3) head, holding the
    same weights, drawn here (B non-zero, so that the update already shows)."""
    make, shape, dtype = KINDS[kind]
    theirs = keras.Sequential([keras.Input(shape, dtype="int32" if dtype == "i" else "float32"),
                               make(keras, name="lora"), keras.layers.Flatten(), keras.layers.Dense(3, name="head")])
    ours = gn.Sequential([L.Input(shape), make(gn, name="lora"), L.Flatten(), L.Dense(3, name="head")], seed=0)
    if enable:
        theirs.layers[0].enable_lora(rank, lora_alpha=alpha)
        ours.layers[0].enable_lora(rank, lora_alpha=alpha)
    rng = np.random.default_rng(7)
    # drawn here, not Keras' unseeded draws: a failure is the same at every run
    weights = [0.4 * rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# -- against Keras ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_weights_and_outputs_are_keras(keras, kind):
    theirs, ours = _models(keras, kind, rank=2, alpha=6)
    x = _data(kind, np.random.default_rng(1))
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    k, g = theirs.layers[0], ours.layers[0]
    assert g.lora_enabled and (g.lora_rank, g.lora_alpha) == (k.lora_rank, k.lora_alpha) == (2, 6)
    # every list in Keras' order and shapes; the merged kernel as Keras' kernel property gives it
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    key = "embeddings" if kind == "Embedding" else "kernel"
    assert [name for name, _ in g._weight_items()] == [w.path.split("/")[-1] for w in k.weights]
    assert [tuple(w.shape) for w in g.trainable_weights] == [tuple(w.shape) for w in k.trainable_weights]
    assert [tuple(w.shape) for w in g.non_trainable_weights] == [tuple(w.shape) for w in k.non_trainable_weights]
    _close(getattr(g, key), getattr(k, key).numpy())
    _close(getattr(g, f"lora_{key}_a"), getattr(k, f"lora_{key}_a").numpy())
    assert ours.count_params() == theirs.count_params()
    trained = sum(int(np.prod(w.shape)) for w in theirs.trainable_weights)
    lines = []
    ours.summary(print_fn=lines.append)
    assert f"Trainable params: {trained:,}" in lines[0]
    assert f"Non-trainable params: {theirs.count_params() - trained:,}" in lines[0]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_training_is_keras(keras, kind, optimizer):
    """A few epochs of fit from the same weights: only A, B and the biases move, as Keras'."""
    theirs, ours = _models(keras, kind, rank=2, alpha=4)
    rng = np.random.default_rng(3)
    x, y = _data(kind, rng, 32), rng.normal(size=(32, 3)).astype(np.float32)
    kernel, b0 = ours.layers[0].get_weights()[0], ours.layers[0].get_weights()[-1]
    if optimizer == "sgd":
        theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        ours.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse")
    else:
        theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        ours.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    h1 = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h2 = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    _close(h2, h1)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        _close(a, b)
    np.testing.assert_array_equal(ours.layers[0].get_weights()[0], kernel)        # frozen
    assert np.abs(ours.layers[0].get_weights()[-1] - b0).max() > 1e-3               # B trained
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))


def test_constructor_lora_rank_and_regularizer_penalty_as_keras(keras):
    """lora_rank= builds with LoRA; the kernel's regularizer moves to A and B (Keras penalises
    trained weights only), so evaluate's loss agrees."""
    make = lambda m: [m.layers.Dense(4, lora_rank=3, kernel_regularizer=m.regularizers.L2(0.1), name="d")]
    theirs = keras.Sequential([keras.Input((5,)), *make(keras)])
    ours = gn.Sequential([L.Input((5,)), *make(gn)], seed=0)
    assert ours.layers[0].lora_enabled and ours.layers[0].get_config()["lora_rank"] == 3
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x, y = rng.normal(size=(10, 5)).astype(np.float32), rng.normal(size=(10, 4)).astype(np.float32)
    theirs.compile(loss="mse", optimizer="sgd")
    ours.compile(loss="mse", optimizer="sgd")
    _close(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0))
    assert sorted(ours.layers[0].regularizers) == ["lora_kernel_a", "lora_kernel_b"]


def test_keras_drops_a_dense_constructors_lora_alpha_glassnet_keeps_it(keras):
    """Keras 3.15's Dense and Embedding build with enable_lora(lora_rank), so the constructor's
    lora_alpha becomes the rank; its EinsumDense and convolutions keep it. glassnet keeps it in
    every layer (docs/layers.md, LoRA). If this fails, Keras changed: follow it."""
    dense = keras.layers.Dense(3, lora_rank=2, lora_alpha=8)
    dense.build((None, 4))
    einsum = keras.layers.EinsumDense("ab,bc->ac", output_shape=3, lora_rank=2, lora_alpha=8)
    einsum.build((None, 4))
    assert (dense.lora_alpha, einsum.lora_alpha) == (2, 8)
    ours = L.Dense(3, lora_rank=2, lora_alpha=8)
    ours.build((4,))
    assert ours.lora_alpha == 8 and ours._lora.scale == 4.0


# -- gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_lora_gradients_are_finite_differences_in_float64(kind):
    make, shape, dtype = KINDS[kind]
    layer = make(gn, dtype="float64", seed=0)
    layer.build(shape)
    layer.enable_lora(2, lora_alpha=3)
    key = layer._lora.b_key
    layer.params[key][...] = np.random.default_rng(5).normal(size=layer.params[key].shape)
    x = _data(kind, np.random.default_rng(2), 3)
    x = x if dtype == "i" else x.astype(np.float64)
    report = check_layer(layer, x)
    assert {f"lora_{layer._lora.key}_a", key} <= set(report["errors"])
    assert layer._lora.key not in report["errors"]      # the frozen kernel has no gradient
    assert report["max_error"] < 1e-6, report


def test_a_wrong_lora_gradient_is_caught():
    """The check above can fail: a LoRA backward missing its scale is seen."""
    layer = L.Dense(3, dtype="float64", seed=0)
    layer.build((4,))
    layer.enable_lora(2, lora_alpha=6)      # scale 3
    layer.params["lora_kernel_b"][...] = 1.0
    layer._lora.scale = 1.0                 # forward and backward both at 1: consistent, passes
    assert check_layer(layer, np.ones((2, 4)))["max_error"] < 1e-6
    backward = layer._lora.backward

    def wrong(grad):
        out = backward(grad)
        layer.grads["lora_kernel_a"] *= 3.0
        return out
    layer.backward_from_logits = wrong
    with pytest.raises(GradientCheckError, match="lora_kernel_a"):
        check_layer(layer, np.ones((2, 4)))


# -- the layer itself --------------------------------------------------------------------------------
def test_b_zeros_keep_the_output_and_seed_draws_a():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    layers = []
    for _ in range(2):
        layer = L.Dense(5, seed=3)
        before = layer(x)
        layer.enable_lora(3)
        np.testing.assert_array_equal(layer(x), before)     # B starts at zeros
        layers.append(layer)
    np.testing.assert_array_equal(layers[0].lora_kernel_a.numpy(), layers[1].lora_kernel_a.numpy())
    a = layers[0].lora_kernel_a.numpy()
    assert a.dtype == np.float32 and np.abs(a).max() <= np.sqrt(6 / 6) and a.std() > 0.2   # he_uniform, fan_in 6


def test_a_layer_without_lora_runs_its_class_code():
    layer = L.Dense(3)
    layer.build((4,))
    assert "forward" not in vars(layer) and "backward_from_logits" not in vars(layer)
    assert not layer.lora_enabled and "lora_rank" not in layer.get_config()
    with pytest.raises(AttributeError):
        layer.lora_kernel_a


def test_enable_lora_inside_a_trained_model_trains_only_lora_and_bias():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.normal(size=(40, 2)).astype(np.float32)
    model = gn.Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    model.fit(x, y, epochs=2, verbose=0)
    for layer in model.layers:
        layer.enable_lora(2)
    # the model lays its weights out anew at once: its lists, predict and evaluate before any fit
    assert [tuple(w.shape) for w in model.trainable_weights] == [(8,), (4, 2), (2, 8), (2,), (8, 2), (2, 2)]
    assert model.predict(x, verbose=0).shape == (40, 2) and np.isfinite(model.evaluate(x, y, verbose=0))
    before = [layer.get_weights() for layer in model.layers]
    model.fit(x, y, epochs=2, verbose=0)
    for layer, old in zip(model.layers, before):
        new = layer.get_weights()
        np.testing.assert_array_equal(new[0], old[0])            # frozen kernel
        assert not np.array_equal(new[1], old[1]) and not np.array_equal(new[3], old[3])   # bias, B
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2


def test_a_custom_training_loop_trains_lora(keras):
    """GradientTape and apply_gradients on a LoRA layer, as Keras' loop: the same steps as Keras'."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    ours = gn.Sequential([L.Input((4,)), L.Dense(2, name="d")], seed=0)
    theirs.layers[0].enable_lora(2)
    ours.layers[0].enable_lora(2)
    weights = [0.4 * rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    import tensorflow as tf
    optimizers = keras.optimizers.SGD(0.1), gn.optimizers.SGD(0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((theirs(x) - y) ** 2)
        optimizers[0].apply_gradients(zip(tape.gradient(loss, theirs.trainable_weights), theirs.trainable_weights))
        with gn.GradientTape() as tape:
            loss = gn.ops.mean((ours(x) - y) ** 2)
        optimizers[1].apply_gradients(zip(tape.gradient(loss, ours.trainable_weights), ours.trainable_weights))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        _close(a, b)
    np.testing.assert_array_equal(ours.get_weights()[0], weights[0])


def test_merged_kernel_attribute_and_weight_variables():
    layer = L.Dense(3, seed=0)
    layer.build((4,))
    layer.enable_lora(2, lora_alpha=4)
    layer.lora_kernel_b.assign(np.ones((2, 3), np.float32))
    w0, a = layer.get_weights()[0], layer.lora_kernel_a.numpy()
    np.testing.assert_allclose(layer.kernel.numpy(), w0 + 2.0 * a @ np.ones((2, 3)), rtol=1e-6)
    assert layer.kernel.trainable is False and layer.lora_kernel_a.trainable
    assert layer.lora_kernel_a.path == "dense/lora_kernel_a"
    with pytest.raises(TypeError, match="merged"):
        layer.kernel.assign(w0)


def test_copies_keep_lora():
    layer = L.Dense(3, seed=0)
    layer.build((4,))
    layer.enable_lora(2)
    layer.params["lora_kernel_b"][...] = 1.0
    x = np.ones((2, 4), np.float32)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        np.testing.assert_array_equal(other(x), layer(x))
        other.params["lora_kernel_b"][...] = 0.0        # its own arrays
        assert not np.array_equal(other(x), layer(x)) and other._lora.layer is other


# -- configs and files -----------------------------------------------------------------------------------
def test_config_clone_and_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 6)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
    model = gn.Sequential([L.Input((6,)), L.Dense(5, lora_rank=2, lora_alpha=5), L.Dense(3)], seed=1)
    model.layers[1].enable_lora(1)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=2, verbose=0)
    config = model.layers[0].get_config()
    assert (config["lora_rank"], config["lora_alpha"]) == (2, 5)
    again = L.Dense.from_config(config)
    again.build((6,))
    assert again.lora_enabled and again._lora.scale == 2.5
    clone = gn.models.clone_model(model)
    assert [layer.lora_rank for layer in clone.layers] == [2, 1]
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    for a, b in zip(loaded.get_weights(), model.get_weights()):      # A and B too: exact
        np.testing.assert_array_equal(a, b)
    h1 = model.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"]
    h2 = loaded.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h2, h1, rtol=1e-6)


@pytest.mark.parametrize("kind", ["Dense", "Embedding", "Conv2D", "EinsumDense"])
def test_keras_file_from_keras(keras, tmp_path, kind):
    """Keras writes the merged kernel and no A or B; loading, both have A and B zeroed."""
    pytest.importorskip("h5py")
    theirs, _ = _models(keras, kind, rank=2, alpha=6)
    theirs.save(tmp_path / "k.keras")
    ours = gn.load_model(tmp_path / "k.keras")
    back = keras.models.load_model(tmp_path / "k.keras")
    x = _data(kind, np.random.default_rng(4))
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    layer = ours.layers[0]
    assert layer.lora_enabled and layer.lora_rank == 2
    for a, b in zip(ours.get_weights(), back.get_weights()):        # as Keras' own reading: A, B zeros
        _close(a, b)
    assert not np.any(layer.get_weights()[-1]) and not np.any(layer.get_weights()[-2])


@pytest.mark.parametrize("kind", ["Dense", "Embedding", "Conv1D", "EinsumDense"])
def test_keras_file_to_keras(keras, tmp_path, kind):
    pytest.importorskip("h5py")
    theirs, ours = _models(keras, kind, rank=2, alpha=6)
    x = _data(kind, np.random.default_rng(4))
    ours.save(tmp_path / "g.keras", save_format="keras")
    back = keras.models.load_model(tmp_path / "g.keras")
    _close(back.predict(x, verbose=0), ours.predict(x, verbose=0))
    assert back.layers[0].lora_enabled and back.layers[0].lora_rank == 2
    # Keras' kernel read is the merged one: glassnet's merged kernel, B not zero
    _close(back.layers[0].get_weights()[0], np.asarray(getattr(ours.layers[0], ours.layers[0]._lora.key)))
    assert np.any(ours.layers[0].get_weights()[-1])
    # .weights.h5 both ways: Keras' save_weights layout, the merged kernel again
    ours.save_weights(tmp_path / "g.weights.h5")
    theirs.load_weights(tmp_path / "g.weights.h5")
    _close(theirs.predict(x, verbose=0), ours.predict(x, verbose=0))
    theirs.layers[0].lora_kernel_b.assign(theirs.layers[0].lora_kernel_b.numpy() + 0.5) if kind != "Embedding" else \
        theirs.layers[0].lora_embeddings_b.assign(theirs.layers[0].lora_embeddings_b.numpy() + 0.5)
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")
    _close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))


def test_keras_file_with_optimizer_state_continues_training(keras, tmp_path):
    """A .keras file of a compiled, trained LoRA model holds Keras' optimizer slots of the trained
    weights (bias, A, B); Keras and glassnet, each loading it, train on alike (A and B zeroed by
    the reading, so the biases move)."""
    pytest.importorskip("h5py")
    _, ours = _models(keras, "Dense", rank=2)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 6)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
    ours.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    ours.fit(x, y, epochs=2, batch_size=8, verbose=0)
    ours.save(tmp_path / "g.keras", save_format="keras")
    back, again = keras.models.load_model(tmp_path / "g.keras"), gn.load_model(tmp_path / "g.keras")
    _close(back.predict(x, verbose=0), ours.predict(x, verbose=0))
    h1 = back.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    h2 = again.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    _close(h2, h1)
    for a, b in zip(again.get_weights(), back.get_weights()):
        _close(a, b)


# -- refusals -------------------------------------------------------------------------------------------
def test_refusals():
    with pytest.raises(ValueError, match="isn't built yet"):
        L.Dense(3).enable_lora(2)
    layer = L.Dense(3)
    layer.build((4,))
    layer.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(2)
    constrained = L.Dense(3, kernel_constraint="non_neg")
    constrained.build((4,))
    with pytest.raises(ValueError, match="kernel constraint"):
        constrained.enable_lora(2)
    table = L.Embedding(5, 2, embeddings_constraint="non_neg")
    table.build((3,))
    with pytest.raises(ValueError, match="embeddings constraint"):
        table.enable_lora(2)
    fresh = L.Dense(3)
    fresh.build((4,))
    for rank in (0, -1, 2.5, True, "2"):
        with pytest.raises(ValueError, match="rank: expected a positive integer"):
            fresh.enable_lora(rank)
    with pytest.raises(ValueError, match="lora_alpha: expected a positive number"):
        fresh.enable_lora(2, lora_alpha=0)
    with pytest.raises(ValueError, match="a_initializer"):
        fresh.enable_lora(2, a_initializer="no_such")
    assert not fresh.lora_enabled and "kernel" in fresh.params      # a refusal changes nothing
    with pytest.raises(ValueError, match="lora_alpha=4 was given without lora_rank"):
        L.Dense(3, lora_alpha=4)
    with pytest.raises(ValueError, match="Dense: lora_rank: expected a positive integer"):
        L.Dense(3, lora_rank=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lora_rank'"):
        L.Conv2DTranspose(2, 3, lora_rank=2)
    transposed = L.Conv2DTranspose(2, 3)
    transposed.build((5, 5, 1))
    with pytest.raises(ValueError, match="transposed convolutions have no LoRA"):
        transposed.enable_lora(2)
    with pytest.raises(ValueError, match="inside a wrapper .* not supported"):
        L.TimeDistributed(L.Dense(3, lora_rank=2)).build((2, 4))
    wrapped = L.TimeDistributed(L.Dense(3))
    wrapped.build((2, 4))
    with pytest.raises(ValueError, match="inside a wrapper .* not supported"):
        wrapped.layer.enable_lora(2)
    quantized = L.Dense(3)
    quantized.build((4,))
    quantized.quantize("int8")
    with pytest.raises(NotImplementedError, match="LoRA on a quantized layer"):
        quantized.enable_lora(2)
    with pytest.raises(NotImplementedError, match="LoRA on a quantized layer"):
        layer.quantize("int8")              # (quantize's own refusal, layers/quantized.py)
    reversible = L.ReversibleEmbedding(5, 2)
    reversible.build((3,))
    with pytest.raises(ValueError, match="not supported on ReversibleEmbedding"):
        reversible.enable_lora(2)


def test_onnx_export_writes_the_merged_kernel(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = gn.Sequential([L.Input((4,)), L.Embedding(9, 6, lora_rank=2), L.Conv1D(3, 2, lora_rank=2),
                           L.Dense(5, lora_rank=1), L.Flatten(),
                           L.EinsumDense("ab,bc->ac", output_shape=2, bias_axes="c", lora_rank=2)], seed=0)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if getattr(layer, "lora_enabled", False):
            b = layer.params[layer._lora.b_key]
            b[...] = rng.normal(size=b.shape)
    x = rng.integers(0, 9, (5, 4)).astype(np.float32)
    model.export(tmp_path / "m.onnx", format="onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
