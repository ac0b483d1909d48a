"""Session 47's regression differential (the start tree eb95659e against the end, ~400 random
programs run on both and compared bit for bit) and what it found: a model file, or a weights-only
file, written before session 47 by a model with a layer of the user's holding a ``gn.Variable``
attribute no longer loaded once such variables became weights (glassnet._attr_variables)."""
import numpy as np
import pytest

import glassnet as gn
import glassnet._attr_variables as attr_variables

L = gn.layers


@gn.saving.register_serializable(package="regrev47")
class _HeldVariableScale(L.Layer):
    """A layer of glassnet's own form (forward/backward) keeping a constant in a gn.Variable."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.s = gn.Variable(np.float32(2.0), name="s")

    def build(self, input_shape):
        super().build(input_shape)

    def forward(self, x, training=False):
        return x * float(self.s.numpy())

    def backward(self, grad_output):
        return grad_output * float(self.s.numpy())

    def output_shape(self, input_shape):
        return input_shape


def _data():
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    return x, x.sum(1, keepdims=True)


def _model():
    gn.utils.set_random_seed(0)
    model = gn.Sequential([gn.Input((4,)), L.Dense(3), _HeldVariableScale(), L.Dense(1)])
    model.compile(gn.optimizers.Adam(0.01), "mse")
    return model


@pytest.fixture
def older(monkeypatch, tmp_path):
    """The model trained and saved as a glassnet before session 47 did (the variable no weight),
    and the same model going on training there."""
    x, y = _data()
    with monkeypatch.context() as m:
        m.setattr(attr_variables, "adopt_in_layer", lambda layer: None)
        model = _model()
        model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
        assert len(model.get_weights()) == 4
        paths = {ext: str(tmp_path / f"m{ext}") for ext in (".npz", ".weights.npz", ".weights.h5")}
        model.save(paths[".npz"])
        model.save_weights(paths[".weights.npz"])
        model.save_weights(paths[".weights.h5"])
        before = model.predict(x, verbose=0)
        going_on = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history["loss"]
    return paths, before, going_on


def test_an_older_model_file_of_a_layer_holding_a_variable_loads_and_trains_on(older):
    """load_model refused it ("the config declares more parameters than the file's weights hold:
    corrupt or crafted", then the optimizer state's shape): the variable, now a weight the file
    lacks, keeps its value and starts a new weight's optimizer state; the rest as saved."""
    paths, before, going_on = older
    x, y = _data()
    model = gn.load_model(paths[".npz"])
    assert len(model.get_weights()) == 5 and float(model.layers[1].s.numpy()) == 2.0
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    assert model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history["loss"] == going_on


@pytest.mark.parametrize("ext", [".weights.npz", ".weights.h5"])
def test_an_older_weights_file_of_a_layer_holding_a_variable_loads(older, ext):
    paths, before, _ = older
    x, _ = _data()
    model = _model()
    model.load_weights(paths[ext])
    assert float(model.layers[1].s.numpy()) == 2.0
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)


def test_a_file_missing_another_weight_is_still_refused(older, tmp_path):
    """Only the adopted variables' weights may be missing: a file lacking a weight of the model's
    layers is refused as before."""
    model = gn.Sequential([gn.Input((4,)), L.Dense(3), _HeldVariableScale(), L.Dense(1, use_bias=False)])
    model.compile("adam", "mse")
    with pytest.raises(Exception, match="weights|shape"):
        model.load_weights(older[0][".weights.h5"])


@gn.saving.register_serializable(package="regrev47")
class _HeldVariableBlock(L.Layer):
    """A block drawn from call, holding a gn.Variable it does not read (now a weight of its own)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = L.Dense(2)
        self.temperature = gn.Variable(np.float32(1.5), trainable=False, name="temperature")

    def call(self, x):
        return self.d(x) * 2.0


def _block_model():
    gn.utils.set_random_seed(0)
    return gn.Sequential([gn.Input((4,)), L.Dense(3), _HeldVariableBlock(), L.Dense(1)])


@pytest.mark.parametrize("ext", [".weights.npz", ".weights.h5"])
def test_an_older_weights_file_of_a_block_holding_a_variable_loads(monkeypatch, tmp_path, ext):
    """load_weights refused it ("expected 7 arrays ..., got 6"; "has 1 weights in glassnet, the
    file 0 there"): the block's variable keeps its value, the other weights are the file's."""
    import glassnet.graph
    x, _ = _data()
    path = str(tmp_path / f"w{ext}")
    with monkeypatch.context() as m:
        m.setattr(glassnet.graph, "adopt_variables", lambda model: None)
        model = _block_model()
        assert len(model.get_weights()) == 6
        model.save_weights(path)
        before = model.predict(x, verbose=0)
    model = _block_model()
    model.load_weights(path)
    names = [name for name, _ in model._weight_items()]
    assert len(names) == 7 and names[2].endswith("/temperature") and float(model.get_weights()[2]) == 1.5
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
