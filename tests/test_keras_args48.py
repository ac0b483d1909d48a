"""Keras 3.15 constructor arguments glassnet refused before session 48, taken now, each against an
oracle: ``GroupQueryAttention(use_gate=True)`` (Keras 3.15's predictions and two SGD steps from the
same weights, float64 finite differences, Keras files both ways with the gate in Keras' place,
configs, ONNX); ``Bidirectional(layer, backward_layer=...)`` of another class or number of units
(predictions, training, states, files, ONNX); ``TimeDistributed(BatchNormalization())`` (Keras'
loop over the steps measured, then predictions, training and files) and a sweep of every layer
class inside TimeDistributed; ``AdditiveAttention(score_mode=)`` and ``quantization_config=``
(measured to change nothing in Keras 3.15, and taken so). What stays refused is measured too: the
cells' ``activity_regularizer``, a cell's other dtype, partly frozen stacked cells. The table of
what glassnet still refuses is docs/keras_parity.md's (and tests/test_keras_args_sweep.py keeps it
exact)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from test_keras_args47 import _jittered, _sgd_steps

L = gn.layers


def _train_alike(ours, theirs, keras, x, y, learning_rate, rtol, atol, **fit):
    """Both models trained by SGD on the mean squared error from the same weights (two batches by
    ``train_on_batch``, or ``fit(**fit)``), their weights then compared in order."""
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate))
    if fit:
        ours.fit(x, y, verbose=0, **fit)
        theirs.fit(x, y, verbose=0, **fit)
        mine, keras_weights = ours.get_weights(), theirs.get_weights()
    else:
        mine, keras_weights = _sgd_steps(ours, x, y), _sgd_steps(theirs, x, y)
    for a, b in zip(mine, keras_weights):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# -- GroupQueryAttention(use_gate=True) -----------------------------------------------------------
GQA_GATES = {"plain": {}, "one_kv_head": dict(num_key_value_heads=1), "no_bias": dict(use_bias=False),
             "causal_window": dict(sliding_window=2)}


def _gqa(module, case):
    options = dict(head_dim=3, num_query_heads=4, num_key_value_heads=2, use_gate=True)
    options.update(GQA_GATES[case])
    return getattr(module, "GroupQueryAttention")(**options)


@pytest.mark.parametrize("case", sorted(GQA_GATES))
def test_gated_group_query_attention_predicts_and_trains_as_keras(case, keras, rng):
    q, v = rng.normal(size=(4, 5, 6)).astype(np.float32), rng.normal(size=(4, 7, 6)).astype(np.float32)
    gq, gv = gn.Input((5, 6)), gn.Input((7, 6))
    ours = gn.Model([gq, gv], _gqa(L, case)(gq, gv), seed=0)
    kq, kv = keras.Input((5, 6)), keras.Input((7, 6))
    theirs = keras.Model([kq, kv], _gqa(keras.layers, case)(kq, kv))
    # Keras' weights, in its order (query, key, gate, value, attention_output), are glassnet's
    paths = [w.path.split("/")[-2] for w in theirs.layers[-1].weights]
    assert paths[::2 if case != "no_bias" else 1] == ["query", "key", "gate", "value", "attention_output"]
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    assert ours.count_params() == theirs.count_params()
    weights = _jittered(theirs.get_weights(), rng)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours.predict([q, v], verbose=0), theirs.predict([q, v], verbose=0), atol=2e-6)
    # the gate counts: without it (its weights dropped) the outputs differ
    layer = ours.layers[-1]
    plain = L.GroupQueryAttention.from_config({k: c for k, c in layer.get_config().items() if k != "use_gate"})
    plain(q, v)
    plain.set_weights([w for key, w in zip(layer.params, weights) if not key.startswith("gate_")])
    assert not np.allclose(ours.predict([q, v], verbose=0), plain(q, v), atol=1e-3)
    y = rng.normal(size=(4, 5, 6)).astype(np.float32)
    _train_alike(ours, theirs, keras, [q, v], y, 0.5, rtol=1e-4, atol=2e-6)


@pytest.mark.parametrize("options", [dict(), dict(num_key_value_heads=1, use_bias=False),
                                     dict(use_causal_mask=True, sliding_window=2)], ids=str)
def test_gated_group_query_attention_finite_differences(options, rng):
    options = {"num_key_value_heads": 2, **options}
    layer = L.GroupQueryAttention(head_dim=3, num_query_heads=4, use_gate=True, seed=0, dtype="float64", **options)
    q, v = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 6, 2))
    layer([q, v])
    layer.set_weights(_jittered(layer.get_weights(), rng))
    assert check_layer(layer, [q, v])["max_error"] < 1e-6
    assert layer.params["gate_kernel"].shape == (5, 4, 3) and layer.grads["gate_kernel"].shape == (5, 4, 3)


def test_gated_group_query_attention_files_configs_and_onnx(keras, rng, tmp_path):
    q, v = rng.normal(size=(3, 5, 6)).astype(np.float32), rng.normal(size=(3, 7, 6)).astype(np.float32)
    gq, gv = gn.Input((5, 6)), gn.Input((7, 6))
    ours = gn.Model([gq, gv], _gqa(L, "plain")(gq, gv), seed=0)
    ours.set_weights(_jittered(ours.get_weights(), rng))
    expected = ours.predict([q, v], verbose=0)
    layer = ours.layers[-1]
    assert layer.get_config()["use_gate"] is True
    assert L.GroupQueryAttention.from_config(layer.get_config()).use_gate is True
    assert "use_gate" not in L.GroupQueryAttention(3, 4, 2).get_config()      # (configs of before, unchanged)
    assert list(layer.params) == ["query_kernel", "query_bias", "key_kernel", "key_bias", "gate_kernel", "gate_bias",
                                  "value_kernel", "value_bias", "output_kernel", "output_bias"]
    ours.save(tmp_path / "g.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "g.npz").predict([q, v], verbose=0), expected)
    # glassnet -> Keras: Keras reads use_gate and finds the gate's weights in its _gate_dense group
    for suffix in ("keras", "h5"):
        ours.save(tmp_path / f"g.{suffix}", save_format=suffix)
        theirs = keras.saving.load_model(tmp_path / f"g.{suffix}")
        assert theirs.layers[-1].get_config()["use_gate"] is True
        np.testing.assert_allclose(theirs.predict([q, v], verbose=0), expected, atol=2e-6)
        for mine, keras_weights in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(mine, keras_weights)
    # Keras -> glassnet
    theirs.set_weights(_jittered(theirs.get_weights(), rng))
    for suffix in ("keras", "h5", "weights.h5"):
        theirs.save(tmp_path / f"k.{suffix}") if suffix != "weights.h5" else theirs.save_weights(tmp_path / "k.weights.h5")
        if suffix == "weights.h5":
            back = gn.Model([gq, gv], _gqa(L, "plain")(gq, gv))
            back.load_weights(tmp_path / "k.weights.h5")
        else:
            back = gn.load_model(tmp_path / f"k.{suffix}")
            assert back.layers[-1].use_gate is True
        np.testing.assert_allclose(back.predict([q, v], verbose=0), theirs.predict([q, v], verbose=0), atol=2e-6)
    # ONNX: the gate is a Sigmoid of the query's projection
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    from onnx_checks import check
    check(ours, [rng.normal(size=(7, 5, 6)).astype(np.float32), rng.normal(size=(7, 7, 6)).astype(np.float32)],
          tmp_path)


def test_gated_group_query_attention_refuses_a_flag_that_is_not_one():
    with pytest.raises(TypeError, match=r"GroupedQueryAttention: use_gate"):
        L.GroupQueryAttention(head_dim=2, num_query_heads=2, num_key_value_heads=1, use_gate="yes")


# -- Bidirectional(layer, backward_layer=...) of another class or number of units ------------------
# Keras 3.15 takes any reader as backward_layer (of the other direction, agreeing on stateful,
# return_sequences and return_state) and concatenates or merges what the two return. Its shapes,
# though, are the forward reader's twice (compute_output_shape): with other units a layer drawn
# after it fails in Keras (measured), so those are compared with the wrapper as the model's output.
READERS = {"LSTM": "GRU", "GRU": "SimpleRNN", "SimpleRNN": "LSTM"}


def _mixed(module, forward, units=(3, 3), return_sequences=False, **options):
    layers = module.layers
    return layers.Bidirectional(getattr(layers, forward)(units[0], return_sequences=return_sequences, **options),
                                backward_layer=getattr(layers, READERS[forward])(
                                    units[1], go_backwards=True, return_sequences=return_sequences, **options))


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("forward", sorted(READERS))
def test_backward_layer_of_another_class_predicts_and_trains_as_keras(forward, return_sequences, keras, rng):
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    tail = (lambda m: [m.layers.Flatten()] if return_sequences else [])
    ours = gn.Sequential([gn.Input((5, 4)), _mixed(gn, forward, return_sequences=return_sequences), *tail(gn),
                          L.Dense(2)], seed=0)
    theirs = keras.Sequential([keras.Input((5, 4)), _mixed(keras, forward, return_sequences=return_sequences),
                               *tail(keras), keras.layers.Dense(2)])
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    assert ours.count_params() == theirs.count_params()
    assert ours.layers[0].output_shape((5, 4)) == tuple(theirs.layers[0].output.shape[1:])
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    _train_alike(ours, theirs, keras, x, y, 0.3, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_backward_layer_of_other_units_predicts_and_trains_as_keras(return_sequences, keras, rng):
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    gi, ki = gn.Input((5, 4)), keras.Input((5, 4))
    ours = gn.Model(gi, _mixed(gn, "LSTM", (3, 5), return_sequences)(gi), seed=0)
    theirs = keras.Model(ki, _mixed(keras, "LSTM", (3, 5), return_sequences)(ki))
    # the forward LSTM's 3 features, then the backward GRU's 5
    assert ours.output_shape == ((None, 5, 8) if return_sequences else (None, 8))
    assert ours.count_params() == theirs.count_params() == 4 * 3 * (4 + 3 + 1) + 3 * 5 * (4 + 5 + 2)
    theirs.set_weights(ours.get_weights())
    expected = np.asarray(theirs.predict(x, verbose=0))
    assert expected.shape[-1] == 8
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    y = rng.normal(size=expected.shape).astype(np.float32)
    _train_alike(ours, theirs, keras, x, y, 0.3, rtol=1e-5, atol=1e-6)


def test_backward_layer_of_other_units_states_and_unmerged_outputs_as_keras(keras, rng):
    # Keras' eager call returns each reader's own states (its drawn shapes would say twice the LSTM's)
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    ours, theirs = _mixed(gn, "LSTM", (3, 5), return_state=True), _mixed(keras, "LSTM", (3, 5), return_state=True)
    mine = ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    keras_out = [np.asarray(a) for a in theirs(x)]
    assert [a.shape for a in mine] == [a.shape for a in keras_out] == [(4, 8), (4, 3), (4, 3), (4, 5)]
    for a, b in zip(mine, keras_out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # drawn: the output and the three states, each its own shape; initial states in the same order
    gi = gn.Input((5, 3))
    outs = _mixed(gn, "LSTM", (3, 5), return_state=True)(gi)
    assert [tuple(t.shape) for t in outs] == [(None, 8), (None, 3), (None, 3), (None, 5)]
    states = [rng.normal(size=(4, n)).astype(np.float32) for n in (3, 3, 5)]
    started = ours(x, initial_state=states)
    # by hand: each reader alone from its own states, with the wrapper's weights
    ahead, behind = L.LSTM(3, return_state=True), L.GRU(5, go_backwards=True, return_state=True)
    ahead(x), behind(x)
    ahead.set_weights(ours.forward_layer.get_weights())
    behind.set_weights(ours.backward_layer.get_weights())
    a_out, *a_states = ahead(x, initial_state=states[:2])
    b_out, *b_states = behind(x, initial_state=states[2:])
    for got, want in zip(started, [np.concatenate([a_out, b_out], -1), *a_states, *b_states]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # merge_mode=None: the two outputs, each its own width
    pair = gn.layers.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=None,
                                   backward_layer=L.SimpleRNN(5, go_backwards=True, return_sequences=True))
    kpair = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), merge_mode=None,
                                       backward_layer=keras.layers.SimpleRNN(5, go_backwards=True,
                                                                             return_sequences=True))
    kpair(x)
    model = gn.Model(gi, list(pair(gi)), seed=0)
    assert model.output_shape == [(None, 5, 3), (None, 5, 5)]
    kpair.set_weights(model.get_weights())
    for got, want in zip(model.predict(x, verbose=0), kpair(x)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_backward_layer_of_other_units_finite_differences(merge_mode, rng):
    x = rng.normal(size=(3, 4, 2))
    layer = gn.layers.Bidirectional(L.GRU(2, return_sequences=True), merge_mode=merge_mode, dtype="float64", seed=0,
                                    backward_layer=L.LSTM(3, go_backwards=True, return_sequences=True))
    layer.build(x.shape[1:])
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    report = check_layer(layer, x)
    assert report["max_error"] < 1e-6 and "backward_kernel" in report["errors"]


def test_backward_layer_of_other_units_files_summary_and_onnx(keras, rng, tmp_path, capsys):
    x = rng.normal(size=(4, 5, 4)).astype(np.float32)
    gi = gn.Input((5, 4))
    ours = gn.Model(gi, _mixed(gn, "GRU", (4, 2), return_sequences=True)(gi), seed=0)
    ours.set_weights([w + 0.1 for w in ours.get_weights()])
    expected = ours.predict(x, verbose=0)
    ours.summary()
    assert "(None, 5, 6)" in capsys.readouterr().out
    ours.save(tmp_path / "g.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "g.npz").predict(x, verbose=0), expected)
    # glassnet -> Keras: the backward SimpleRNN of 2 units with its own weights
    for suffix in ("keras", "h5"):
        ours.save(tmp_path / f"g.{suffix}", save_format=suffix)
        theirs = keras.saving.load_model(tmp_path / f"g.{suffix}")
        assert type(theirs.layers[-1].backward_layer).__name__ == "SimpleRNN"
        assert theirs.layers[-1].backward_layer.units == 2
        np.testing.assert_allclose(theirs.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # Keras -> glassnet
    theirs.set_weights([w - 0.2 for w in theirs.get_weights()])
    for suffix in ("keras", "h5"):
        theirs.save(tmp_path / f"k.{suffix}")
        back = gn.load_model(tmp_path / f"k.{suffix}")
        assert back.layers[-1].backward_layer.units == 2 and back.output_shape == (None, 5, 6)
        np.testing.assert_allclose(back.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    from onnx_checks import check
    check(ours, x, tmp_path)


@pytest.mark.parametrize("make,words", [
    (lambda: L.Bidirectional(L.LSTM(3), merge_mode="sum", backward_layer=L.GRU(4, go_backwards=True)),
     r"need one shape for merge_mode='sum'"),
    (lambda: L.Bidirectional(L.LSTM(3), backward_layer=L.ConvLSTM1D(3, 2, go_backwards=True)),
     r"both read sequences of vectors"),
])
def test_backward_layers_that_cannot_merge_are_named(make, words):
    with pytest.raises(ValueError, match=rf"Bidirectional: .*{words}"):
        make()(np.ones((2, 5, 3), np.float32))


# -- TimeDistributed(BatchNormalization()) --------------------------------------------------------
# Keras 3.15's TimeDistributed loops over the steps, calling the layer on each: in training each
# step is normalised by its own batch's statistics and the moving ones take one update per step
# (measured against that formula below), at inference the moving statistics serve every step.
BN_OPTIONS = {"plain": dict(momentum=0.9), "no_center": dict(momentum=0.8, center=False),
              "renorm": dict(momentum=0.9, renorm=True, renorm_clipping={"rmax": 1.5, "dmax": 0.5},
                             renorm_momentum=0.8)}


def _by_hand(x, momentum, epsilon=1e-3):
    """Keras' loop over the steps written out: the training output and the moving statistics after."""
    mean, var = x.mean(axis=0), x.var(axis=0)                   # (steps, features): over the batch alone
    moving_mean, moving_variance = np.zeros(x.shape[-1]), np.ones(x.shape[-1])
    for step in range(x.shape[1]):
        moving_mean = moving_mean * momentum + mean[step] * (1 - momentum)
        moving_variance = moving_variance * momentum + var[step] * (1 - momentum)
    return (x - mean) / np.sqrt(var + epsilon), moving_mean, moving_variance


def test_time_distributed_batch_normalization_steps_as_keras_measured(keras, rng):
    x = (rng.normal(size=(4, 5, 3)) * 2 + 1).astype(np.float32)
    out, moving_mean, moving_variance = _by_hand(x.astype(np.float64), 0.9)
    theirs = keras.layers.TimeDistributed(keras.layers.BatchNormalization(momentum=0.9))
    ours = L.TimeDistributed(L.BatchNormalization(momentum=0.9))
    for layer, statistics in ((theirs, lambda: theirs.layer.get_weights()[2:]), (ours, lambda: list(ours.state.values()))):
        np.testing.assert_allclose(np.asarray(layer(x, training=True)), out, atol=2e-6)
        for got, want in zip(statistics(), (moving_mean, moving_variance)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # not the statistics of the batch * steps rows, which a BatchNormalization on the sequence computes
    assert not np.allclose(L.BatchNormalization(momentum=0.9)(x, training=True), out, atol=1e-2)


@pytest.mark.parametrize("case", sorted(BN_OPTIONS))
def test_time_distributed_batch_normalization_predicts_and_trains_as_keras(case, keras, rng):
    x = (rng.normal(size=(8, 5, 3)) * 2 + 1).astype(np.float32)
    y = rng.normal(size=(8, 5, 2)).astype(np.float32)
    ours = gn.Sequential([gn.Input((5, 3)), L.TimeDistributed(L.BatchNormalization(**BN_OPTIONS[case])),
                          L.Dense(2)], seed=0)
    theirs = keras.Sequential([keras.Input((5, 3)),
                               keras.layers.TimeDistributed(keras.layers.BatchNormalization(**BN_OPTIONS[case])),
                               keras.layers.Dense(2)])
    assert [tuple(w.shape) for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    assert ours.count_params() == theirs.count_params()
    weights = [w + 0.1 * rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    # gamma, beta (trained), the moving statistics (four updates of five steps each), Dense's
    _train_alike(ours, theirs, keras, x, y, 0.2, rtol=1e-4, atol=1e-5, batch_size=4, epochs=2, shuffle=False)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("options", [dict(), dict(center=False, momentum=0.5), dict(scale=False)], ids=str)
def test_time_distributed_batch_normalization_finite_differences(options, rng):
    layer = L.TimeDistributed(L.BatchNormalization(**options), dtype="float64")
    x = rng.normal(size=(3, 4, 2))
    layer.build(x.shape[1:])
    layer.set_weights([rng.normal(size=w.shape) if k < len(layer.params) else w
                       for k, w in enumerate(layer.get_weights())])
    before = [w.copy() for w in layer.state.values()]
    report = check_layer(layer, x, training=True)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]
    for kept, now in zip(before, layer.state.values()):        # (the check leaves the statistics as they were)
        np.testing.assert_array_equal(kept, now)


def test_time_distributed_batch_normalization_files_frozen_and_masks(keras, rng, tmp_path):
    x = (rng.normal(size=(4, 5, 3)) * 2 + 1).astype(np.float32)
    ours = gn.Sequential([gn.Input((5, 3)), L.TimeDistributed(L.BatchNormalization()), L.Dense(2)], seed=0)
    ours.compile(loss="mse", optimizer="sgd")
    ours.fit(x, rng.normal(size=(4, 5, 2)), epochs=1, verbose=0)
    expected = ours.predict(x, verbose=0)
    assert np.abs(ours.layers[0].state["moving_mean"]).max() > 0      # moved from its zeros
    ours.save(tmp_path / "g.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "g.npz").predict(x, verbose=0), expected)
    for suffix in ("keras", "h5"):
        ours.save(tmp_path / f"g.{suffix}", save_format=suffix)
        theirs = keras.saving.load_model(tmp_path / f"g.{suffix}")
        for mine, keras_weights in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(mine, keras_weights)
        np.testing.assert_allclose(theirs.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    theirs.set_weights([w + 0.5 for w in theirs.get_weights()])
    for suffix in ("keras", "h5"):
        theirs.save(tmp_path / f"k.{suffix}")
        back = gn.load_model(tmp_path / f"k.{suffix}")
        np.testing.assert_allclose(back.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # frozen: inference on every step while its model trains, statistics unmoved (Keras' rule)
    frozen = L.TimeDistributed(L.BatchNormalization())
    frozen(x)
    frozen.trainable = False
    np.testing.assert_allclose(frozen(x, training=True), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert not frozen.state["moving_mean"].any()
    # a mask reaching it is refused (Keras leaves each step's masked rows out of its statistics)
    with pytest.raises(ValueError, match=r"TimeDistributed\): receives the mask .* BatchNormalization leaves the masked"):
        gn.Sequential([gn.Input((5, 3)), L.Masking(), L.TimeDistributed(L.BatchNormalization())])
    # ONNX: the moving statistics on every step, as predict
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    from onnx_checks import check
    check(ours, x, tmp_path)


def test_time_distributed_normalization_with_its_statistics_as_keras(keras, rng):
    # a Normalization given its mean and variance keeps no state: wrapped as Keras wraps it
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    options = dict(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 16.0])
    np.testing.assert_allclose(L.TimeDistributed(L.Normalization(**options))(x),
                               keras.layers.TimeDistributed(keras.layers.Normalization(**options))(x), rtol=1e-6)
    # unadapted (its statistics made at build, to be adapted): refused, naming them
    with pytest.raises(ValueError, match=r"keeps state .*\['mean', 'variance'\]"):
        L.TimeDistributed(L.Normalization())(x)


# what glassnet's TimeDistributed still refuses that Keras 3.15's takes (docs/keras_parity.md's row),
# found by wrapping every layer class the two share, made at Keras' required arguments, on a few
# input shapes (per step: (4,), (6, 3), (6, 6, 3), (4, 4, 4, 3); floats, then integers)
TIME_DISTRIBUTED_REFUSED = {
    "ActivityRegularization",   # Keras' TimeDistributed calls layer.call, so its penalty is never added
    "Bidirectional", "RNN", "SpectralNormalization",    # wrappers inside a wrapper
    "Masking",                  # a mask made inside would not leave the wrapper
    "Normalization",            # unadapted: statistics made at build (given mean and variance: taken)
    "Hashing",                  # glassnet's hashes values of shape (1,) only (not TimeDistributed's doing)
    "RandomColorJitter",        # glassnet's needs a factor (Keras' all-None one changes nothing)
}


def test_what_time_distributed_still_refuses_is_listed(keras):
    import inspect
    from test_keras_args_sweep import WRAPS, _required
    skipped = {"Layer", "Wrapper", "InputLayer", "Input", "InputSpec", "TimeDistributed"}
    refused = set()
    for name in sorted(dir(keras.layers)):
        k_cls, g_cls = getattr(keras.layers, name), getattr(L, name, None)
        if (name.startswith("_") or name in skipped or not inspect.isclass(k_cls) or not inspect.isclass(g_cls)
                or not issubclass(k_cls, keras.layers.Layer)):
            continue
        args = {} if name in WRAPS else _required(k_cls)

        def make(module, cls):
            return cls(WRAPS[name](module), **args) if name in WRAPS else cls(**args)
        keras_took = glassnet_took = False
        for shape in ((4,), (6, 3), (6, 6, 3), (4, 4, 4, 3)):
            for dtype in ("float32", "int32"):
                x = np.random.default_rng(0).uniform(0, 3, size=(2, 3, *shape)).astype(dtype)
                try:
                    keras.layers.TimeDistributed(make(keras.layers, k_cls))(x, training=True)
                except Exception:
                    continue
                keras_took = True
                try:
                    L.TimeDistributed(make(L, g_cls))(x, training=True)
                    glassnet_took = True
                    break
                except Exception:
                    pass
            if glassnet_took:
                break
        if keras_took and not glassnet_took:
            refused.add(name)
    assert sorted(refused) == sorted(TIME_DISTRIBUTED_REFUSED)


# -- the cells' activity_regularizer, dtype and trainable: measured in Keras 3.15, still refused ---
def test_a_cells_activity_penalty_in_keras_is_per_step_and_unrolled_only(keras, rng):
    # what Keras 3.15 does with it (docs/keras_parity.md's row): every step's output and state (a
    # SimpleRNNCell's h twice), L2 summed and divided by the batch size; with its default loop
    # (not unrolled) fit and evaluate fail
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    for unroll in (True, False):
        cell = keras.layers.SimpleRNNCell(2, activity_regularizer=keras.regularizers.L2(10.0))
        inputs = keras.Input((5, 3))
        model = keras.Model(inputs, keras.layers.RNN(cell, unroll=unroll, return_sequences=True)(inputs))
        model.compile(loss="mse", optimizer="sgd")
        if not unroll:
            with pytest.raises(Exception, match="out of scope"):
                model.evaluate(x, np.zeros((4, 5, 2)), verbose=0)
            continue
        loss = model.evaluate(x, np.zeros((4, 5, 2)), verbose=0)
        h = np.asarray(model.predict(x, verbose=0), np.float64)
        np.testing.assert_allclose(loss - np.mean(h ** 2), 2 * 10.0 * np.sum(h ** 2) / 4, rtol=1e-4)
    # glassnet refuses it by name, saying so
    for make in (lambda: L.SimpleRNNCell(2, activity_regularizer="l2"),
                 lambda: L.StackedRNNCells([L.GRUCell(2)], activity_regularizer="l2")):
        with pytest.raises(TypeError, match=r"activity_regularizer: .*unroll=True"):
            make()


def test_partly_frozen_and_other_dtype_cells_in_keras_are_still_refused(keras, rng):
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)
    # Keras 3.15 freezes one stacked cell's weights alone (measured), which glassnet refuses
    frozen, free = keras.layers.SimpleRNNCell(2, trainable=False), keras.layers.SimpleRNNCell(2)
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.RNN([frozen, free])(inputs))
    assert (len(model.trainable_weights), len(model.non_trainable_weights)) == (3, 3)
    with pytest.raises(ValueError, match="some of the stacked cells are trainable=False and some not"):
        L.RNN([L.SimpleRNNCell(2, trainable=False), L.SimpleRNNCell(2)])(x)
    # a float64 cell in a float32 RNN: Keras keeps float64 weights and casts the output to float32
    cell = keras.layers.SimpleRNNCell(2, dtype="float64")
    assert keras.layers.RNN(cell)(x).dtype == "float32" and cell.kernel.dtype == "float64"
    with pytest.raises(ValueError, match="a cell computes in its RNN's dtype here"):
        L.RNN(L.SimpleRNNCell(2, dtype="float64"), dtype="float32")(x)


# -- AdditiveAttention(score_mode=...) and quantization_config= ------------------------------------
def test_additive_attention_takes_score_mode_and_changes_nothing_as_keras(keras, rng):
    q, v = rng.normal(size=(2, 3, 4)).astype(np.float32), rng.normal(size=(2, 5, 4)).astype(np.float32)
    plain = L.AdditiveAttention(seed=0)
    expected = plain([q, v])
    for mode in ("dot", "concat"):
        ours, theirs = L.AdditiveAttention(score_mode=mode), keras.layers.AdditiveAttention(score_mode=mode)
        ours([q, v]), theirs([q, v])
        assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()] == [(4,)]
        ours.set_weights(plain.get_weights())
        theirs.set_weights(plain.get_weights())
        np.testing.assert_array_equal(ours([q, v]), expected)
        np.testing.assert_allclose(theirs([q, v]), expected, rtol=1e-5, atol=1e-6)
        # Keras' config leaves it out; so does glassnet's
        assert "score_mode" not in theirs.get_config() and "score_mode" not in ours.get_config()
    with pytest.raises(ValueError, match="AdditiveAttention: score_mode"):
        L.AdditiveAttention(score_mode="add")
    with pytest.raises(ValueError, match="score_mode"):     # (Keras checks it as well)
        keras.layers.AdditiveAttention(score_mode="add")


QUANTIZED = {"Dense": (lambda m, **o: m.layers.Dense(4, **o), (2, 3), np.float32),
             "EinsumDense": (lambda m, **o: m.layers.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c", **o),
                             (2, 3), np.float32),
             "Embedding": (lambda m, **o: m.layers.Embedding(6, 4, **o), (2, 3), np.int32)}


@pytest.mark.parametrize("kind", sorted(QUANTIZED))
@pytest.mark.parametrize("config", ["Int8QuantizationConfig", "Int4QuantizationConfig"])
def test_quantization_config_is_kept_and_quantizes_nothing_as_keras(kind, config, keras, rng, tmp_path):
    make, shape, dtype = QUANTIZED[kind]
    x = rng.integers(0, 6, size=shape).astype(dtype) if dtype == np.int32 else rng.normal(size=shape).astype(dtype)
    theirs = make(keras, quantization_config=getattr(keras.quantizers, config)())
    ours = make(gn, quantization_config=getattr(gn.quantizers, config)())
    theirs(x), ours(x)
    # measured: Keras 3.15 builds and computes a float layer given one (quantized only under a
    # quantized dtype policy, or by quantize()), keeping it as its quantization_config
    assert theirs.quantization_mode is None and ours.quantization_mode is None
    assert type(ours.quantization_config).__name__ == type(theirs.quantization_config).__name__ == config
    assert [w.dtype for w in ours.get_weights()] == [np.float32] * len(theirs.get_weights())
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-6, atol=1e-6)
    assert "quantization_config" not in ours.get_config()
    # Keras' file of it reads as the float layer it is (its config keeps the argument)
    inputs = keras.Input(shape[1:], dtype="int32" if dtype == np.int32 else "float32")
    model = keras.Model(inputs, make(keras, quantization_config=getattr(keras.quantizers, config)())(inputs))
    model.save(tmp_path / "k.keras")
    back = gn.load_model(tmp_path / "k.keras")
    assert back.layers[-1].quantization_mode is None
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    # quantize() afterwards is Keras' and glassnet's own (its config, not this one)
    if kind != "EinsumDense" or config == "Int8QuantizationConfig":
        ours.quantize("int8")
        assert ours.quantization_mode == "int8"
    with pytest.raises(TypeError, match=f"{kind}: quantization_config"):
        make(gn, quantization_config=3)


def test_a_gated_layers_gate_is_keras_gate_dense(keras, rng):
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    for make in (lambda m: m.layers.MultiHeadAttention(2, 3, use_gate=True, name="mha"),
                 lambda m: m.layers.GroupQueryAttention(3, 2, 1, use_gate=True, name="mha")):
        ours, theirs = make(gn), make(keras)
        ours(x, x), theirs(x, x)
        assert ours._gate_dense.kernel.path == theirs._gate_dense.kernel.path == "mha/gate/kernel"
        assert ours._gate_dense.kernel.shape == tuple(theirs._gate_dense.kernel.shape)
        np.testing.assert_array_equal(np.asarray(ours._gate_dense.bias), ours.params["gate_bias"])
    plain, keras_plain = L.MultiHeadAttention(2, 3), keras.layers.MultiHeadAttention(2, 3)
    plain(x, x), keras_plain(x, x)
    for layer in (plain, keras_plain):
        with pytest.raises(AttributeError, match="_gate_dense"):
            layer._gate_dense
