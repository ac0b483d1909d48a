"""Review trainrev41: MultiOptimizer's weight paths against Keras 3.15's ``variable.path``."""
import numpy as np
import pytest

import glassnet as gn


def _recurrent_stack(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((3, 4)),
                           L.LSTM(2, return_sequences=True), L.GRU(2, return_sequences=True),
                           L.SimpleRNN(2, return_sequences=True),
                           L.RNN([L.LSTMCell(2), L.GRUCell(2), L.LSTMCell(2)], return_sequences=True),
                           L.RNN(L.GRUCell(2, name="cell"), return_sequences=True),
                           L.Bidirectional(L.LSTM(2, return_sequences=True, name="reader")),
                           L.TimeDistributed(L.Dense(3, name="step")), L.Flatten(), L.Dense(1, name="out")])


def _attention(lib):
    query, value = lib.Input((5, 8)), lib.Input((4, 3))
    out = lib.layers.MultiHeadAttention(2, 4, name="mha")(query, value)
    out = lib.layers.MultiHeadAttention(2, 4, use_bias=False, output_shape=3, name="mha2")(out, out)
    conv = lib.layers.Reshape((1, 6, 6, 2))(lib.layers.Dense(72)(lib.layers.Flatten()(out)))
    conv = lib.layers.ConvLSTM2D(2, 3)(conv)
    return lib.Model([query, value], lib.layers.Dense(1, name="head")(lib.layers.Flatten()(conv)))


@pytest.mark.parametrize("make", [_recurrent_stack, _attention])
def test_weight_paths_are_keras_variable_paths_below_layers_too(keras, make):
    # the paths a MultiOptimizer's patterns match were the layer's name and glassnet's key:
    # "sequential/lstm/kernel", "mha/query_kernel", "bidirectional/forward_kernel", where Keras'
    # are "sequential/lstm/lstm_cell/kernel", "mha/query/kernel",
    # "bidirectional/forward_lstm/lstm_cell/kernel": a Keras pattern ".*lstm_cell.*" matched nothing
    # and those weights went, silently, to the default optimizer
    keras.backend.clear_session()
    k_model = make(keras)
    g_model = make(gn)
    g_model.compile(optimizer="sgd", loss="mse")
    assert sorted(g_model._weight_paths()) == sorted(v.path for v in k_model.trainable_variables)


def test_a_keras_pattern_on_lstm_cells_steps_them_as_keras(keras):
    keras.backend.clear_session()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")

    def model(lib):
        return lib.Sequential([lib.Input((5, 3)), lib.layers.Bidirectional(lib.layers.LSTM(4)),
                               lib.layers.Dense(1)])

    def optimizer(lib):
        # the LSTMs' weights by SGD with momentum, the rest not moved (SGD at rate 0)
        return lib.optimizers.MultiOptimizer(lib.optimizers.OptimizerMap(
            lib.optimizers.SGD(0.0), {".*/lstm_cell/.*": lib.optimizers.SGD(0.1, momentum=0.9)}))

    k_model, g_model = model(keras), model(gn)
    start = k_model.get_weights()
    g_model.set_weights(start)
    k_model.compile(optimizer=optimizer(keras), loss="mse")
    g_model.compile(optimizer=optimizer(gn), loss="mse")
    k_model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    g_model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for g, k in zip(g_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(g, k, atol=1e-5)
    moved = [not np.array_equal(a, b) for a, b in zip(g_model.get_weights(), start)]
    assert moved == [True] * 6 + [False] * 2        # the LSTMs' weights, not the Dense's
