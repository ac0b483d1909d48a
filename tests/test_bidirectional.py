"""Bidirectional: against Keras 3.15 (outputs for every merge mode, training) and PyTorch's
bidirectional LSTM (gradients); seeds, files and the refused settings."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("inner", [lambda: LSTM(4, return_sequences=True), lambda: GRU(4),
                                   lambda: SimpleRNN(4, return_sequences=True, activation="relu")], ids=["LSTM", "GRU", "RNN"])
def test_outputs_match_keras(inner, merge_mode, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(3, 6, 5)).astype(np.float32)
    layer = inner()
    ours = Bidirectional(layer, merge_mode=merge_mode, seed=0)
    out = ours(x)
    keras_inner = getattr(keras.layers, type(layer).__name__)(4, return_sequences=layer.return_sequences,
                                                              activation=layer.activation.name)
    theirs = keras.layers.Bidirectional(keras_inner, merge_mode=merge_mode)
    theirs.build((None, 6, 5))
    assert [w.shape for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-5, atol=2e-6)


def test_gradients_match_torch_bidirectional_lstm(rng, torch):
    x = rng.normal(size=(2, 5, 3))
    layer = Bidirectional(LSTM(4, return_sequences=True, bias_initializer="random_normal"), dtype="float64", seed=0)
    out = layer(x)
    grad_out = rng.normal(size=out.shape)
    grad_x = layer.backward(grad_out)
    module = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    p = layer.params
    with torch.no_grad():
        for suffix, prefix in (("", "forward_"), ("_reverse", "backward_")):
            getattr(module, f"weight_ih_l0{suffix}").copy_(torch.tensor(p[prefix + "kernel"].T))
            getattr(module, f"weight_hh_l0{suffix}").copy_(torch.tensor(p[prefix + "recurrent_kernel"].T))
            getattr(module, f"bias_ih_l0{suffix}").copy_(torch.tensor(p[prefix + "bias"]))
            getattr(module, f"bias_hh_l0{suffix}").zero_()
    tx = torch.tensor(x, requires_grad=True)
    theirs, _ = module(tx)
    theirs.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for suffix, prefix in (("", "forward_"), ("_reverse", "backward_")):
        np.testing.assert_allclose(layer.grads[prefix + "kernel"], getattr(module, f"weight_ih_l0{suffix}").grad.numpy().T,
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads[prefix + "recurrent_kernel"],
                                   getattr(module, f"weight_hh_l0{suffix}").grad.numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads[prefix + "bias"], getattr(module, f"bias_ih_l0{suffix}").grad.numpy(),
                                   rtol=1e-10, atol=1e-12)


def test_training_matches_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.integers(0, 12, (32, 6))
    y = (x[:, 0] > x[:, -1]).astype(np.float32)
    ours = gn.Sequential([Embedding(12, 4, input_length=6), Bidirectional(GRU(3)), Dense(1, activation="sigmoid")], seed=0)
    # SGD: Adam's normalised steps would turn float32 rounding in near-zero gradients into whole steps
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5, momentum=0.5))
    theirs = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(12, 4),
                               keras.layers.Bidirectional(keras.layers.GRU(3)), keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5, momentum=0.5))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_seeded_dropout_files_and_resumed_training(rng, tmp_path):
    x, y = rng.normal(size=(16, 5, 3)).astype(np.float32), rng.integers(0, 2, 16).astype(np.float32)

    def model():
        m = gn.Sequential([Bidirectional(LSTM(4, dropout=0.3, recurrent_dropout=0.2), input_shape=(5, 3),
                                         merge_mode="ave"),
                           Dense(1, activation="sigmoid")], seed=4)
        m.compile("binary_crossentropy", "adam")
        return m

    a, b = model(), model()
    for m in (a, b):
        m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))          # the model's seed draws everything
    a.save(tmp_path / "bi.npz")
    loaded = gn.load_model(tmp_path / "bi.npz")
    assert loaded.layers[0].get_config() == a.layers[0].get_config()
    for m in (a, loaded):
        m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(a.predict(x), loaded.predict(x))
    assert [n for n, _ in a._weight_items()][:3] == ["bidirectional/forward_kernel", "bidirectional/forward_recurrent_kernel",
                                                     "bidirectional/forward_bias"]


def test_the_training_data_is_let_go_after_fit(rng):
    x, y = rng.normal(size=(8, 5, 3)).astype(np.float32), rng.integers(0, 2, 8).astype(np.float32)
    model = gn.Sequential([Bidirectional(SimpleRNN(2), input_shape=(5, 3)), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for inner in (model.layers[0].forward_layer, model.layers[0].backward_layer):
        assert not np.shares_memory(inner.x, x)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Bidirectional(Dense(3)), TypeError, "layer must be a SimpleRNN, LSTM, GRU, ConvLSTM1D, ConvLSTM2D or ConvLSTM3D"),
    (lambda: Bidirectional(GRU(3, go_backwards=True)), ValueError, "wrap a layer that reads forwards"),
    (lambda: Bidirectional(GRU(3, input_shape=(4, 2)), input_shape=(4, 2)), ValueError, "not both"),
    # (merge_mode=None is taken since session 47, in a functional Model: tests/test_keras_args47.py)
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), ValueError, "merge_mode must be one of"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3)), ValueError, "must read in opposite directions"),
    (lambda: Bidirectional(LSTM(3, activity_regularizer="l2")), ValueError, "activity_regularizer would never be applied"),
    (lambda: Bidirectional({"class_name": "Dense", "config": {"units": 2}}), ValueError, "class_name must be SimpleRNN"),
    (lambda: Bidirectional({"class_name": ["x"], "config": {}}), ValueError, "layer must be a layer or"),
    (lambda: Bidirectional(LSTM(2, trainable=False)), ValueError, "wrapped layer's trainable would not reach"),
    # (the wrapped layer's dtype is the wrapper's since layerfuzz48, as Keras computes it in its own)
    (lambda: Bidirectional(LSTM(2, seed=3, dtype="float64")), ValueError, "wrapped layer's seed would not"),
])
def test_refused_settings(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_penalties_and_constraints_of_the_wrapped_layer_apply(rng):
    x, y = rng.normal(size=(16, 5, 3)), rng.normal(size=(16, 1))
    penalised = gn.Sequential([Bidirectional(SimpleRNN(2, kernel_regularizer=gn.regularizers.L2(10.0),
                                                       recurrent_constraint="non_neg"), input_shape=(5, 3)),
                               Dense(1)], seed=0)
    plain = gn.Sequential([Bidirectional(SimpleRNN(2), input_shape=(5, 3)), Dense(1)], seed=0)
    for model in (penalised, plain):
        model.compile("mse", gn.optimizers.SGD(0.1))
    wrapper = penalised.layers[0]
    penalty = 10.0 * sum(float(np.sum(wrapper.params[k] ** 2)) for k in ("forward_kernel", "backward_kernel"))
    assert penalised.evaluate(x, y, verbose=0) == pytest.approx(plain.evaluate(x, y, verbose=0) + penalty, rel=1e-5)
    penalised.fit(x, y, epochs=3, batch_size=4, verbose=0)
    for key in ("forward_recurrent_kernel", "backward_recurrent_kernel"):
        assert (wrapper.params[key] >= 0).all()


def test_the_wrapped_layers_read_and_write_the_wrapper_s_live_weights(rng, tmp_path):
    x, y = rng.normal(size=(8, 4, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model = gn.Sequential([Bidirectional(GRU(2), input_shape=(4, 3)), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    wrapper = loaded.layers[0]
    np.testing.assert_array_equal(wrapper.forward_layer.get_weights()[0], wrapper.params["forward_kernel"])
    wrapper.backward_layer.set_weights([np.zeros_like(w) for w in wrapper.backward_layer.get_weights()])
    assert not wrapper.params["backward_kernel"].any()
    assert np.shares_memory(wrapper.params["backward_kernel"], loaded._triples[0][1])     # still the trained buffer
    assert [w.name for w in (wrapper.forward_layer, wrapper.backward_layer)] == ["forward_gru", "backward_gru"]


def test_load_model_limits_the_wrapped_layers_weights_too(rng, tmp_path, edit_model_file):
    model = gn.Sequential([Bidirectional(LSTM(2), input_shape=(4, 3)), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.save(tmp_path / "m.npz")

    def declare_millions(config):         # 36 million weights declared, a few dozen held
        config["model"]["layers"][0]["config"]["layer"]["config"]["units"] = 3000
    edit_model_file(tmp_path / "m.npz", declare_millions, tmp_path / "crafted.npz")
    with pytest.raises(gn.errors.ModelFileError, match="more parameters than the file's weights hold "
                                                      r"\(at parameter 'forward_kernel'"):
        gn.load_model(tmp_path / "crafted.npz")
