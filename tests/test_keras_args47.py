"""Keras 3.15 constructor arguments glassnet refused before session 47, taken now, each against an
oracle: ``MultiHeadAttention(use_gate=True)`` (Keras 3.15's predictions and two SGD steps from the
same weights, a hand-written PyTorch version of Keras' formula for values and gradients, float64
finite differences, Keras files both ways with the gate in Keras' place, configs, ONNX);
``data_format="channels_first"`` on AutoContrast, RandomBrightness, RandomContrast and Solarization
(Keras' layers given the same draws; the channels-last layer on moved arrays); ``autocast`` on every
layer (kept, no effect); ``ConvLSTM1D/2D/3D(unroll=)`` (Keras' own results equal either way);
``Bidirectional(weights=...)`` and ``merge_mode=None``; the cells' ``dtype``, ``trainable`` and
``autocast``. The table of what glassnet still refuses is docs/keras_parity.md's (and
tests/test_keras_args_sweep.py keeps it exact)."""
import inspect

import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer

L = gn.layers


def _sgd_steps(model, x, y, steps=2):
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model.get_weights()


# -- MultiHeadAttention(use_gate=True) ------------------------------------------------------------
GATES = {"plain": {}, "value_dim": dict(value_dim=5, output_shape=3), "no_bias": dict(use_bias=False)}


def _jittered(weights, rng):
    # off Keras' zero biases and initial kernels: a gate bias in the wrong place would show
    return [(w + 0.3 * rng.normal(size=w.shape)).astype(w.dtype) for w in weights]


@pytest.mark.parametrize("case", sorted(GATES))
def test_gated_attention_predicts_and_trains_as_keras(case, keras, rng):
    options = dict(num_heads=2, key_dim=3, use_gate=True, **GATES[case])
    q, v = rng.normal(size=(4, 5, 6)).astype(np.float32), rng.normal(size=(4, 7, 4)).astype(np.float32)
    gq, gv = gn.Input((5, 6)), gn.Input((7, 4))
    ours = gn.Model([gq, gv], L.MultiHeadAttention(**options)(gq, gv), seed=0)
    kq, kv = keras.Input((5, 6)), keras.Input((7, 4))
    theirs = keras.Model([kq, kv], keras.layers.MultiHeadAttention(**options)(kq, kv))
    # Keras' weights, in its order (query, key, gate, value, attention_output), are glassnet's
    assert [w.path.split("/")[-2] for w in theirs.layers[-1].weights][::2 if options.get("use_bias", True) else 1] \
        == ["query", "key", "gate", "value", "attention_output"]
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    weights = _jittered(theirs.get_weights(), rng)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours.predict([q, v], verbose=0), theirs.predict([q, v], verbose=0), atol=2e-6)
    # a gate that does nothing (a kernel of zeros, a huge bias: sigmoid 1) is the ungated layer
    assert not np.allclose(ours.predict([q, v], verbose=0), _ungated(ours, [q, v]), atol=1e-3)
    y = rng.normal(size=ours.predict([q, v], verbose=0).shape).astype(np.float32)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.5))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.5))
    for mine, keras_weights in zip(_sgd_steps(ours, [q, v], y), _sgd_steps(theirs, [q, v], y)):
        np.testing.assert_allclose(mine, keras_weights, rtol=1e-4, atol=2e-6)


def _ungated(model, xs):
    """The same weights without the gate, as an ungated layer computes them."""
    layer = model.layers[-1]
    config = {key: value for key, value in layer.get_config().items() if key != "use_gate"}
    plain = L.MultiHeadAttention.from_config(config)
    out = plain(*xs)        # built
    plain.set_weights([w for key, w in zip(layer.params, layer.get_weights()) if not key.startswith("gate_")])
    assert out.shape == plain(*xs).shape
    return plain(*xs)


def _torch_gated(torch, params, query, value, key_dim, use_bias=True):
    """Keras 3.15's gated MultiHeadAttention (its call: gate = sigmoid(EinsumDense(query)), the
    output projection of attention_output * gate), written out in PyTorch from Keras' source."""
    def project(x, name):
        y = torch.einsum("bte,ehd->bthd", x, params[f"{name}_kernel"])
        return y + params[f"{name}_bias"] if use_bias else y
    gate = torch.sigmoid(project(query, "gate"))                        # (batch, T, heads, value_dim)
    q = project(query, "query") / key_dim ** 0.5
    k, v = project(value, "key"), project(value, "value")
    scores = torch.softmax(torch.einsum("bthd,bshd->bhts", q, k), dim=-1)
    context = torch.einsum("bhts,bshd->bthd", scores, v) * gate
    out = torch.einsum("bthd,hdo->bto", context, params["output_kernel"])
    return out + params["output_bias"] if use_bias else out


@pytest.mark.parametrize("use_bias", [True, False])
def test_gated_attention_gradients_match_a_torch_version_of_keras_formula(use_bias, rng):
    torch = pytest.importorskip("torch", reason="PyTorch oracle not installed")
    layer = L.MultiHeadAttention(2, 3, value_dim=4, use_gate=True, use_bias=use_bias, seed=0, dtype="float64")
    q, v = rng.normal(size=(3, 5, 6)), rng.normal(size=(3, 7, 4))
    layer([q, v])
    layer.set_weights(_jittered(layer.get_weights(), rng))
    out = layer.forward([q, v], training=True)
    grad_out = rng.normal(size=out.shape)
    dq, dv = layer.backward(grad_out)
    params = {key: torch.tensor(value, requires_grad=True) for key, value in layer.params.items()}
    tq, tv = (torch.tensor(a, requires_grad=True) for a in (q, v))
    theirs = _torch_gated(torch, params, tq, tv, 3, use_bias)
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    (theirs * torch.tensor(grad_out)).sum().backward()
    np.testing.assert_allclose(dq, tq.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dv, tv.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key, tensor in params.items():
        np.testing.assert_allclose(layer.grads[key], tensor.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("options", [dict(), dict(value_dim=2, use_bias=False), dict(attention_axes=(1, 2))], ids=str)
def test_gated_attention_finite_differences(options, rng):
    layer = L.MultiHeadAttention(2, 3, use_gate=True, seed=0, dtype="float64", **options)
    shape = (3, 4, 2, 5) if "attention_axes" in options else (3, 4, 5)
    x = rng.normal(size=shape)
    layer([x, x])
    layer.set_weights(_jittered(layer.get_weights(), rng))
    assert check_layer(layer, [x, x + 0.5])["max_error"] < 1e-6


def test_gated_attention_files_configs_and_onnx(keras, rng, tmp_path):
    q, v = rng.normal(size=(3, 5, 6)).astype(np.float32), rng.normal(size=(3, 7, 4)).astype(np.float32)
    gq, gv = gn.Input((5, 6)), gn.Input((7, 4))
    ours = gn.Model([gq, gv], L.MultiHeadAttention(2, 3, use_gate=True)(gq, gv), seed=0)
    ours.set_weights(_jittered(ours.get_weights(), rng))
    expected = ours.predict([q, v], verbose=0)
    layer = ours.layers[-1]
    assert layer.get_config()["use_gate"] is True
    assert "use_gate" not in L.MultiHeadAttention(2, 3).get_config()      # (configs of before, unchanged)
    assert list(layer.params) == ["query_kernel", "query_bias", "key_kernel", "key_bias", "gate_kernel", "gate_bias",
                                  "value_kernel", "value_bias", "output_kernel", "output_bias"]
    # glassnet's file
    ours.save(tmp_path / "g.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "g.npz").predict([q, v], verbose=0), expected)
    # glassnet -> Keras: Keras reads use_gate and finds the gate's weights in its _gate_dense group
    ours.save(tmp_path / "g.keras", save_format="keras")
    theirs = keras.saving.load_model(tmp_path / "g.keras")
    assert theirs.layers[-1].get_config()["use_gate"] is True
    np.testing.assert_allclose(theirs.predict([q, v], verbose=0), expected, atol=2e-6)
    for mine, keras_weights in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(mine, keras_weights)
    # Keras -> glassnet
    theirs.set_weights(_jittered(theirs.get_weights(), rng))
    theirs.save(tmp_path / "k.keras")
    back = gn.load_model(tmp_path / "k.keras")
    assert back.layers[-1].use_gate is True
    np.testing.assert_allclose(back.predict([q, v], verbose=0), theirs.predict([q, v], verbose=0), atol=2e-6)
    # ONNX: the gate is a Sigmoid of the query's projection
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    from onnx_checks import check
    check(ours, [rng.normal(size=(7, 5, 6)).astype(np.float32), rng.normal(size=(7, 7, 4)).astype(np.float32)],
          tmp_path)


def test_use_gate_refusals():
    with pytest.raises(TypeError, match=r"MultiHeadAttention: use_gate"):
        L.MultiHeadAttention(2, 3, use_gate="yes")
    # Keras' GroupQueryAttention gate is built too since session 48 (tests/test_review_fitfuzz48.py)
    with pytest.raises(TypeError, match=r"GroupedQueryAttention: use_gate"):
        L.GroupedQueryAttention(head_dim=2, num_query_heads=2, num_key_value_heads=1, use_gate="yes")


# -- data_format on AutoContrast, RandomBrightness, RandomContrast, Solarization -----------------
def _drawing(values):
    """A stand-in for a layer's ``_uniform`` that hands out ``values`` in turn (Keras' draws)."""
    queue = list(values)
    return lambda lower, upper, n: np.asarray(queue.pop(0), dtype=np.float64).reshape(n)


FIRST = {"RandomContrast": (lambda m, **k: m.RandomContrast(0.5, **k), lambda rng, n: [rng.uniform(0.5, 1.5, n)],
                            lambda d: {"contrast_factor": d[0].reshape(-1, 1, 1, 1)}),
         "RandomBrightness": (lambda m, **k: m.RandomBrightness(0.3, **k), lambda rng, n: [rng.uniform(-0.3, 0.3, n)],
                              lambda d: {"rgb_delta": 255 * d[0].reshape(-1, 1, 1, 1)}),
         "Solarization": (lambda m, **k: m.Solarization(0.3, 0.8, **k),
                          lambda rng, n: [rng.uniform(0, 0.3, n), rng.uniform(0.3, 0.8, n)],
                          lambda d: {"additions": 255 * d[0].reshape(-1, 1, 1, 1),
                                     "thresholds": 255 * d[1].reshape(-1, 1, 1, 1)})}


@pytest.mark.parametrize("name", sorted(FIRST))
def test_channels_first_random_layers_match_keras_for_the_same_draws(name, keras, rng):
    make, draws, keras_draws = FIRST[name]
    x = rng.uniform(0, 255, size=(4, 3, 5, 6)).astype(np.float32)           # (batch, C, H, W)
    drawn = draws(rng, 4)
    ours = make(L, data_format="channels_first")
    ours._uniform = _drawing(drawn)
    got = ours(x, training=True)
    theirs = make(keras.layers, data_format="channels_first")
    transformation = {key: value.astype(np.float32) for key, value in keras_draws(drawn).items()}
    np.testing.assert_allclose(got, np.asarray(theirs.transform_images(x, transformation)), rtol=1e-5, atol=3e-5)
    # the channels-last layer on moved arrays, the same draws: the same numbers, and gradients
    last = make(L)
    last._uniform = _drawing(drawn)
    # (a mean over moved arrays: summed in another order, float32's rounding)
    np.testing.assert_allclose(np.moveaxis(last(np.moveaxis(x, 1, -1), training=True), -1, 1), got, rtol=1e-6,
                               atol=1e-4)
    g = rng.normal(size=got.shape).astype(np.float32)
    np.testing.assert_allclose(ours.backward(g), np.moveaxis(last.backward(np.moveaxis(g, 1, -1)), -1, 1), rtol=1e-6,
                               atol=1e-6)
    assert ours.get_config()["data_format"] == "channels_first"
    assert "data_format" not in last.get_config()
    assert type(ours).from_config(ours.get_config()).data_format == "channels_first"


def test_channels_first_auto_contrast(keras, rng):
    x = rng.uniform(0, 255, size=(3, 2, 5, 4)).astype(np.float32)
    ours = L.AutoContrast(data_format="channels_first")
    got = ours(x)
    # each channel stretched over its height and width, as Keras' channels-last layer on moved images
    last = np.asarray(keras.layers.AutoContrast()(np.moveaxis(x, 1, -1)))
    np.testing.assert_allclose(got, np.moveaxis(last, -1, 1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got.min(axis=(2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(got.max(axis=(2, 3)), 255, rtol=1e-6)
    # Keras 3.15's AutoContrast takes data_format and ignores it: its extremes over axes 1 and 2 (docs)
    if keras.__version__.startswith("3.15"):
        theirs = np.asarray(keras.layers.AutoContrast(data_format="channels_first")(x))
        np.testing.assert_allclose(theirs.min(axis=(1, 2)), 0, atol=1e-4)
    assert check_layer(L.AutoContrast(data_format="channels_first", dtype="float64"),
                       rng.uniform(0, 255, size=(2, 2, 4, 3)))["max_error"] < 1e-6


@pytest.mark.parametrize("name", sorted(FIRST) + ["AutoContrast"])
def test_channels_first_in_models_and_files(name, keras, rng, tmp_path):
    make = FIRST[name][0] if name in FIRST else (lambda m, **k: m.AutoContrast(**k))
    model = gn.Sequential([gn.Input((3, 6, 5)), make(L, data_format="channels_first", seed=1)
                           if name != "AutoContrast" else make(L, data_format="channels_first"),
                           L.Flatten(), L.Dense(2)], seed=0)
    assert model.output_shape == (None, 2)
    x = rng.uniform(0, 255, size=(4, 3, 6, 5)).astype(np.float32)
    model.compile(loss="mse", optimizer="sgd")
    model.train_on_batch(x, np.zeros((4, 2), np.float32))       # in training, through the layer's backward
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").layers[0].data_format == "channels_first"
    model.save(tmp_path / "m.keras", save_format="keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert theirs.layers[0].data_format == "channels_first"
    if name != "AutoContrast":          # (inference: the identity; AutoContrast's Keras ignores its format)
        np.testing.assert_allclose(theirs.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-3)
    theirs.save(tmp_path / "k.keras")
    assert gn.load_model(tmp_path / "k.keras").layers[0].data_format == "channels_first"


# -- autocast ------------------------------------------------------------------------------------
def _shared_layer_classes(keras):
    """``(name, glassnet's class, Keras')`` of every layer class both have, made at Keras'
    required arguments (test_keras_args_sweep's samples)."""
    from test_keras_args_sweep import WRAPS, _required
    for name in sorted(dir(keras.layers)):
        k_cls, g_cls = getattr(keras.layers, name), getattr(gn.layers, name, None)
        if (inspect.isclass(k_cls) and inspect.isclass(g_cls) and not name.startswith("_")
                and name not in ("Layer", "Wrapper", "InputLayer", "Input", "InputSpec")):
            yield name, g_cls, (WRAPS[name], {}) if name in WRAPS else (None, _required(k_cls))


def test_autocast_is_taken_and_kept_by_every_layer(keras):
    made = 0
    for name, cls, (wrapped, required) in _shared_layer_classes(keras):
        try:
            layer = cls(wrapped(gn.layers), autocast=False) if wrapped else cls(**required, autocast=False)
        except (TypeError, ValueError) as exc:
            assert "autocast" not in str(exc), name         # needs more than Keras' required arguments to be made
            continue
        made += 1
        assert layer.autocast is False, name
        if hasattr(layer, "get_config") and name != "Lambda":       # (a Lambda's function has no config)
            config = layer.get_config()
            assert config.get("autocast") is False, name
            assert type(layer).from_config(config).autocast is False, name
        default = cls(wrapped(gn.layers)) if wrapped else cls(**required)
        assert default.autocast is True and "autocast" not in default.get_config(), name
    assert made > 130
    with pytest.raises(TypeError, match=r"Dense: autocast"):
        L.Dense(2, autocast="no")


def test_autocast_has_no_effect_and_travels_in_files(keras, rng, tmp_path):
    x = rng.normal(size=(5, 4)).astype(np.float32)
    # (Dense: Keras 3.15's LayerNormalization, GroupNormalization and Embedding set their autocast
    # to False whatever they are given, so Keras reads True back as False there)
    plain = gn.Sequential([gn.Input((4,)), L.Dense(3), L.Dense(2)], seed=0)
    flagged = gn.Sequential([gn.Input((4,)), L.Dense(3, autocast=False), L.Dense(2, autocast=False)], seed=0)
    np.testing.assert_array_equal(plain.predict(x, verbose=0), flagged.predict(x, verbose=0))
    flagged.save(tmp_path / "m.npz")
    assert [layer.autocast for layer in gn.load_model(tmp_path / "m.npz").layers] == [False, False]
    flagged.save(tmp_path / "m.keras", save_format="keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    assert [layer.autocast for layer in theirs.layers] == [False, False]
    # Keras 3.15's get_config leaves autocast out: a file Keras writes reads back True, in both (docs)
    assert "autocast" not in theirs.layers[0].get_config()
    theirs.save(tmp_path / "k.keras")
    assert [layer.autocast for layer in gn.load_model(tmp_path / "k.keras").layers] == [True, True]
    assert [layer.autocast for layer in keras.saving.load_model(tmp_path / "k.keras").layers] == [True, True]


# -- ConvLSTM unroll -------------------------------------------------------------------------------
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_lstm_unroll_is_a_speed_hint_in_keras_too(rank, keras, rng, tmp_path):
    name = f"ConvLSTM{rank}D"
    sample = (3, *([5] * rank), 2)
    x = rng.normal(size=(2, *sample)).astype(np.float32)
    ours = getattr(L, name)(2, 3, padding="same", return_sequences=True, unroll=True, seed=0)
    assert ours.unroll is True and ours.get_config()["unroll"] is True
    assert "unroll" not in getattr(L, name)(2, 3).get_config()         # (configs of before, unchanged)
    got = ours(x)
    theirs_unrolled = getattr(keras.layers, name)(2, 3, padding="same", return_sequences=True, unroll=True)
    theirs = getattr(keras.layers, name)(2, 3, padding="same", return_sequences=True)
    theirs_unrolled(x), theirs(x)
    for layer in (theirs_unrolled, theirs):
        layer.set_weights(ours.get_weights())
    # Keras' own results are the same either way, and glassnet's are Keras'
    np.testing.assert_allclose(np.asarray(theirs_unrolled(x)), np.asarray(theirs(x)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, np.asarray(theirs_unrolled(x)), rtol=1e-5, atol=1e-6)
    model = gn.Sequential([gn.Input(sample), ours])
    model.save(tmp_path / "m.keras", save_format="keras")
    assert keras.saving.load_model(tmp_path / "m.keras").layers[0].unroll is True
    assert gn.load_model(tmp_path / "m.keras").layers[0].unroll is True
    with pytest.raises(TypeError, match=rf"{name}: unroll"):
        getattr(L, name)(2, 3, unroll="yes")


# -- Bidirectional(weights=...) ----------------------------------------------------------------------
def test_bidirectional_weights_are_set_once_built(keras, rng):
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    reference = L.Bidirectional(L.LSTM(2), seed=0)
    reference(x)
    weights = _jittered(reference.get_weights(), rng)
    layer = L.Bidirectional(L.LSTM(2), weights=weights)
    got = layer(x)
    for mine, given in zip(layer.get_weights(), weights):
        np.testing.assert_array_equal(mine, given)
    # Keras' layer of those weights (set_weights) computes the same
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(2))
    theirs(x)
    theirs.set_weights(weights)
    np.testing.assert_allclose(got, np.asarray(theirs(x)), rtol=1e-5, atol=1e-6)
    # Keras 3.15 keeps its weights= as the readers' initial_weights, which nothing reads (docs)
    if keras.__version__.startswith("3.15"):
        ignored = keras.layers.Bidirectional(keras.layers.LSTM(2), weights=weights)
        ignored(x)
        assert not all(np.allclose(a, b) for a, b in zip(ignored.get_weights(), weights))
    assert "weights" not in layer.get_config()
    with pytest.raises(ValueError, match=r"Bidirectional: weights= does not fit the built layer: .*expected 6 arrays"):
        L.Bidirectional(L.LSTM(2), weights=weights[:3])(x)
    with pytest.raises(TypeError, match=r"Bidirectional: weights must be a list of arrays"):
        L.Bidirectional(L.LSTM(2), weights=np.ones(3))


# -- the cells' dtype, trainable and autocast --------------------------------------------------------
def test_cells_dtype_is_the_rnns(rng):
    x = rng.normal(size=(2, 3, 4))
    for cell in (L.LSTMCell(3, dtype="float64"), L.StackedRNNCells([L.GRUCell(2), L.SimpleRNNCell(3)],
                                                                    dtype="float64")):
        model = gn.Sequential([gn.Input((3, 4)), L.RNN(cell)], dtype="float64", seed=0)
        assert model.predict(x, verbose=0).dtype == np.float64
        assert cell.get_config()["dtype"] == "float64"
    assert L.RNN(L.GRUCell(2, dtype="float32"), dtype="float32")(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"RNN: the cells' dtype \['float64'\] is not the RNN's \(float32\)"):
        L.RNN(L.LSTMCell(3, dtype="float64"), dtype="float32")
    with pytest.raises(ValueError, match=r"layer rnn \(RNN\): its cells' dtype float64 is not the layer's float32"):
        gn.Sequential([gn.Input((3, 4)), L.RNN(L.LSTMCell(3, dtype="float64"))]).predict(x, verbose=0)
    with pytest.raises(ValueError, match=r"RNN: the cells' dtype \['float32', 'float64'\]"):
        L.RNN([L.LSTMCell(3, dtype="float64"), L.GRUCell(2, dtype="float32")])
    with pytest.raises(ValueError, match=r"LSTMCell: dtype: expected 'float32' or 'float64'"):
        L.LSTMCell(3, dtype="int8")


def test_frozen_cells_train_as_keras(keras, rng, tmp_path):
    x, y = rng.normal(size=(4, 3, 4)).astype(np.float32), rng.normal(size=(4, 1)).astype(np.float32)
    for make in (lambda m: m.RNN(m.LSTMCell(3, trainable=False)),
                 lambda m: m.RNN([m.LSTMCell(3, trainable=False), m.GRUCell(2, trainable=False)])):
        ours = gn.Sequential([gn.Input((3, 4)), make(L), L.Dense(1)], seed=0)
        theirs = keras.Sequential([keras.Input((3, 4)), make(keras.layers), keras.layers.Dense(1)])
        theirs.set_weights(ours.get_weights())
        assert (len(ours.trainable_weights), len(ours.non_trainable_weights)) == \
               (len(theirs.trainable_weights), len(theirs.non_trainable_weights))
        ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
        theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
        before = ours.get_weights()
        for mine, keras_weights, start in zip(_sgd_steps(ours, x, y), _sgd_steps(theirs, x, y), before):
            np.testing.assert_allclose(mine, keras_weights, rtol=1e-5, atol=1e-6)
        for mine, start in zip(ours.get_weights()[:-2], before):
            np.testing.assert_array_equal(mine, start)      # the frozen cells' weights
        ours.save(tmp_path / "m.keras", save_format="keras")
        assert len(keras.saving.load_model(tmp_path / "m.keras").trainable_weights) == 2
        theirs.save(tmp_path / "k.keras")
        back = gn.load_model(tmp_path / "k.keras")
        assert len(back.trainable_weights) == 2 and not back.layers[0].trainable
    with pytest.raises(ValueError, match=r"RNN: some of the stacked cells are trainable=False and some not"):
        L.RNN([L.LSTMCell(3), L.GRUCell(2, trainable=False)])
    # Keras 3.15's RNN trains the cells of a StackedRNNCells(trainable=False) anyway: refused by name
    if keras.__version__.startswith("3.15"):
        theirs = keras.Sequential([keras.Input((3, 4)), keras.layers.RNN(keras.layers.StackedRNNCells(
            [keras.layers.LSTMCell(3)], trainable=False))])
        assert len(theirs.trainable_weights) == 3
    with pytest.raises(ValueError, match=r"StackedRNNCells: trainable=False is not supported \(Keras 3.15's RNN trains"):
        L.StackedRNNCells([L.LSTMCell(3)], trainable=False)


def test_cell_settings_in_configs():
    cell = L.GRUCell(2, trainable=False, autocast=False, dtype="float64")
    config = cell.get_config()
    assert (config["trainable"], config["autocast"], config["dtype"]) == (False, False, "float64")
    again = L.GRUCell.from_config(config)
    assert (again.trainable, again.autocast, again.dtype) == (False, False, np.dtype("float64"))
    assert not {"trainable", "autocast", "dtype"} & set(L.GRUCell(2).get_config())
    rnn = L.RNN.from_config(L.RNN(L.LSTMCell(3, trainable=False)).get_config())
    assert rnn.trainable is False
    with pytest.raises(TypeError, match=r"LSTMCell: unexpected keyword argument 'activity_regularizer'.*give it to "
                                        r"the RNN layer"):
        L.LSTMCell(3, activity_regularizer="l2")


# -- Bidirectional(merge_mode=None) ------------------------------------------------------------------
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_unmerged_bidirectional_predicts_trains_and_saves_as_keras(return_sequences, return_state, keras, rng,
                                                                    tmp_path):
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    options = dict(return_sequences=return_sequences, return_state=return_state)
    gi = gn.Input((4, 5))
    outputs = L.Bidirectional(L.LSTM(2, **options), merge_mode=None)(gi)
    assert len(outputs) == (6 if return_state else 2)
    assert type(outputs[1].layer).__name__ == "BackwardOutput"
    ours = gn.Model(gi, outputs, seed=0)
    ki = keras.Input((4, 5))
    theirs = keras.Model(ki, list(keras.layers.Bidirectional(keras.layers.LSTM(2, **options), merge_mode=None)(ki)))
    weights = _jittered(ours.get_weights(), rng)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    expected = theirs.predict(x, verbose=0)
    for mine, keras_output in zip(ours.predict(x, verbose=0), expected):
        np.testing.assert_allclose(mine, keras_output, rtol=1e-5, atol=1e-6)
    # the backward output is the backward reader's, not the forward one again
    assert not np.allclose(expected[0], expected[1])
    ys = [rng.normal(size=np.shape(o)).astype(np.float32) for o in expected]
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.3))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.3))
    for mine, keras_weights in zip(_sgd_steps(ours, x, ys), _sgd_steps(theirs, x, ys)):
        np.testing.assert_allclose(mine, keras_weights, rtol=1e-5, atol=1e-6)
    now = ours.predict(x, verbose=0)
    ours.save(tmp_path / "g.npz")
    for a, b in zip(gn.load_model(tmp_path / "g.npz").predict(x, verbose=0), now):
        np.testing.assert_array_equal(a, b)
    ours.save(tmp_path / "g.keras", save_format="keras")
    for a, b in zip(keras.saving.load_model(tmp_path / "g.keras").predict(x, verbose=0), now):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "k.keras")
    back = gn.load_model(tmp_path / "k.keras")
    assert [layer.merge_mode for layer in back.layers if type(layer).__name__ == "Bidirectional"] == [None]
    for a, b in zip(back.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unmerged_bidirectional_gradients_and_refusals(rng):
    from glassnet.gradcheck import check_model
    x = rng.normal(size=(3, 4, 2))
    gi = gn.Input((4, 2))
    ahead, behind = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode=None)(gi)
    # the two outputs each to a loss, and one read by a later layer too
    model = gn.Model(gi, [ahead, L.Dense(2)(behind)], seed=0, dtype="float64")
    model.compile(loss=["mse", "mse"], optimizer="sgd")
    assert check_model(model, x, [rng.normal(size=(3, 4, 3)), rng.normal(size=(3, 4, 2))])["max_error"] < 1e-6
    # only the forward output used: the backward reader's weights get no gradient, as in Keras
    alone = gn.Model(gi, ahead, seed=0, dtype="float64")
    alone.compile(loss="mse", optimizer="sgd")
    assert check_model(alone, x, rng.normal(size=(3, 4, 3)))["max_error"] < 1e-6
    # eager: the list, as Keras' call returns its tuple
    layer = L.Bidirectional(L.LSTM(2), merge_mode=None, seed=0)
    forward, backward = layer(x.astype(np.float32))
    assert forward.shape == backward.shape == (3, 2) and not np.allclose(forward, backward)
    with pytest.raises(ValueError, match=r"add: layer Bidirectional has merge_mode=None: it returns two arrays"):
        gn.Sequential([gn.Input((4, 2)), L.Bidirectional(L.LSTM(2), merge_mode=None)])
    with pytest.raises(ValueError, match=r"Bidirectional: merge_mode .*or None"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match=r"BackwardOutput"):
        L.BackwardOutput()(gn.layers.Dense(2)(gn.Input((3,))))
