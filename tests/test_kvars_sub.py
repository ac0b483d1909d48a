"""Keras' sub-layers of the built-in layers (``mha.query_dense.kernel``, GroupQueryAttention's
``_query_dense``, ``TimeDistributed.layer``, ``Bidirectional.forward_layer.cell.kernel``, an RNN's
``cell.kernel``) and a weight view's ``path`` with the models that built its layer
(``"sequential/dense/kernel"``): beside Keras 3.15, names, paths, shapes, values, and the effect of
an assignment on predict and on training that goes on."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.layers._sublayer_views import SublayerView
from glassnet.variables import WeightVariable


@pytest.fixture(autouse=True)
def _fresh_names():
    yield
    gn.utils.clear_session()


@pytest.fixture
def keras(keras):
    """Keras, its names counted afresh (Keras numbers a session's default names: a second
    LSTMCell is "lstm_cell_1", where glassnet's paths read "lstm_cell")."""
    keras.backend.clear_session()
    return keras


def _random_weights(keras_layer, seed=0):
    """Other values than Keras' initial ones (zeros, ones), to tell the weights apart."""
    rng = np.random.default_rng(seed)
    for v in keras_layer.weights:
        v.assign((rng.standard_normal(v.shape) * 0.3).astype(v.dtype))


def _same_variable(got, want, where):
    assert isinstance(got, gn.Variable), where
    assert got.path == want.path and got.name == want.name, (where, got.path, want.path)
    assert got.shape == tuple(want.shape) and got.dtype == want.dtype, where
    assert got.trainable == want.trainable, where
    np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=where)


# -- MultiHeadAttention's and GroupQueryAttention's EinsumDense layers ---------------------------------------
ATTENTION = {   # name -> (make(module), the sub-layer attributes Keras 3.15 has)
    "mha": (lambda m: m.layers.MultiHeadAttention(2, 4, value_dim=3, name="mha"),
            ("query_dense", "key_dense", "value_dense", "output_dense",
             "_query_dense", "_key_dense", "_value_dense", "_output_dense")),
    "mha_nobias": (lambda m: m.layers.MultiHeadAttention(2, 4, use_bias=False, output_shape=6, name="mha"),
                   ("query_dense", "output_dense")),
    "gqa": (lambda m: m.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2,
                                                   name="gqa"),
            ("_query_dense", "_key_dense", "_value_dense", "_output_dense")),
}


@pytest.mark.parametrize("case", sorted(ATTENTION))
def test_attention_sublayers_are_keras(keras, case):
    make, attributes = ATTENTION[case]
    theirs, ours = make(keras), make(gn)
    theirs.build((None, 3, 5), (None, 6, 7))
    ours.build((None, 3, 5), (None, 6, 7))
    _random_weights(theirs)
    ours.set_weights(theirs.get_weights())
    for attribute in attributes:
        sub, ksub = getattr(ours, attribute), getattr(theirs, attribute)
        assert isinstance(sub, SublayerView)
        assert sub.name == ksub.name and sub.path == ksub.path, (attribute, sub.path, ksub.path)
        assert sub.built and sub.trainable and sub.dtype == ksub.dtype == "float32"
        assert sub.count_params() == ksub.count_params()
        for weight in ("kernel", "bias"):
            got, want = getattr(sub, weight), getattr(ksub, weight)
            if want is None:
                assert got is None, (attribute, weight)
            else:
                _same_variable(got, want, f"{case}.{attribute}.{weight}")
        assert [w.path for w in sub.weights] == [w.path for w in ksub.weights]
        for a, b in zip(sub.get_weights(), ksub.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_attention_sublayer_assign_changes_the_output_as_keras(keras):
    rng = np.random.default_rng(1)
    q, v = rng.standard_normal((2, 3, 5)).astype(np.float32), rng.standard_normal((2, 6, 7)).astype(np.float32)
    theirs, ours = keras.layers.MultiHeadAttention(2, 4, name="mha"), L.MultiHeadAttention(2, 4, name="mha")
    theirs.build((None, 3, 5), (None, 6, 7))
    ours.build((None, 3, 5), (None, 6, 7))
    _random_weights(theirs)
    ours.set_weights(theirs.get_weights())
    for layer in (theirs, ours):
        layer.query_dense.kernel.assign(layer.query_dense.kernel * 0.5)
        layer.value_dense.bias.assign_add(np.full((2, 4), 0.25, np.float32))
        layer.output_dense.kernel.assign(-layer.output_dense.kernel)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours(q, v), np.asarray(theirs(q, v)), atol=1e-5)


def test_attention_sublayer_assign_between_fits_as_keras(keras):
    # an assignment through the sub-layer reaches the model's flat buffer: the fit after it trains on
    # from the value assigned, as Keras' does (SGD: no slots, so nothing but the weights to agree on)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 3, 5)).astype(np.float32)
    y = rng.standard_normal((16, 3, 5)).astype(np.float32)
    models = []
    for m in (keras, gn):
        inputs = m.Input((3, 5))
        models.append(m.Model(inputs, m.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs)))
    theirs, ours = models
    _random_weights(theirs)
    ours.set_weights(theirs.get_weights())
    fit = dict(batch_size=8, epochs=1, shuffle=False, verbose=0)
    for model, optimizer in ((theirs, keras.optimizers.SGD(0.05)), (ours, gn.optimizers.SGD(0.05))):
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, **fit)
        mha = model.layers[-1]
        mha.key_dense.kernel.assign(mha.key_dense.kernel * 0.5)
        mha.output_dense.bias.assign_sub(0.1)
        model.fit(x, y, **fit)
    mha = ours.layers[-1]
    assert np.shares_memory(mha.key_dense.kernel.value, mha.params["key_kernel"])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=2e-5)


def test_attention_sublayer_views_without_keras():
    mha = L.MultiHeadAttention(2, 4, name="mha")
    with pytest.raises(AttributeError, match="build the layer before accessing `kernel`"):
        mha.query_dense.kernel
    mha.build((None, 3, 5), (None, 6, 7))
    q = mha.query_dense
    # hand-derived: Keras' EinsumDense "query" of 2 heads of 4 over 5 query features
    assert (q.name, q.path, q.kernel.path, q.kernel.shape, q.bias.shape) == \
        ("query", "mha/query", "mha/query/kernel", (5, 2, 4), (2, 4))
    assert mha.output_dense.kernel.path == "mha/attention_output/kernel" and mha.output_dense.kernel.shape == (2, 4, 5)
    assert np.shares_memory(q.kernel.value, mha.params["query_kernel"])
    q.set_weights([np.ones((5, 2, 4)), np.zeros((2, 4))])       # in place
    assert np.all(mha.params["query_kernel"] == 1) and np.all(mha.params["query_bias"] == 0)
    with pytest.raises(ValueError, match="expected shape"):
        q.set_weights([np.ones((5, 2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="list of 2 arrays"):
        q.set_weights([np.ones((5, 2, 4))])
    with pytest.raises(AttributeError, match="sub-layer"):
        mha.query_dense = None
    with pytest.raises(TypeError, match="freezes whole layers"):
        q.trainable = False
    mha.trainable = False
    assert q.trainable is False and q.trainable_weights == [] and len(q.non_trainable_weights) == 2


# -- wrappers' layers and an RNN's cells ---------------------------------------------------------------
WRAPPED = {     # name -> (make(module), Keras' build shape, [(attribute chain, ...)])
    "time_distributed": (lambda m: m.layers.TimeDistributed(m.layers.Dense(3, name="d"), name="td"), (None, 4, 5),
                         ["layer.kernel", "layer.bias"]),
    "bidirectional": (lambda m: m.layers.Bidirectional(m.layers.LSTM(3, name="l"), name="bi"), (None, 4, 5),
                      [f"{side}_layer.cell.{w}" for side in ("forward", "backward")
                       for w in ("kernel", "recurrent_kernel", "bias")]),
    "bidirectional_gru": (lambda m: m.layers.Bidirectional(m.layers.GRU(2), name="bg"), (None, 4, 5),
                          ["forward_layer.cell.kernel", "backward_layer.cell.bias"]),
    "rnn_cell": (lambda m: m.layers.RNN(m.layers.LSTMCell(3), name="r"), (None, 4, 5),
                 ["cell.kernel", "cell.recurrent_kernel", "cell.bias"]),
    "rnn_stacked": (lambda m: m.layers.RNN([m.layers.LSTMCell(3, name="c0"), m.layers.GRUCell(2, name="c1")],
                                           name="rs"), (None, 4, 5),
                    ["cell.cells.0.kernel", "cell.cells.1.kernel", "cell.cells.1.recurrent_kernel",
                     "cell.cells.0.bias"]),
    "spectral": (lambda m: m.layers.SpectralNormalization(m.layers.Dense(3, name="d"), name="sn"), (None, 5),
                 ["layer.kernel", "layer.bias"]),
}


def _read(obj, chain):
    for part in chain.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


@pytest.mark.parametrize("case", sorted(WRAPPED))
def test_wrapped_layers_weights_are_keras(keras, case):
    make, shape, chains = WRAPPED[case]
    theirs, ours = make(keras), make(gn)
    theirs.build(shape)
    ours.build(shape)
    _random_weights(theirs)
    # (a SpectralNormalization lists vector_u between the kernel and the bias in both, since kfiles3)
    ours.set_weights(theirs.get_weights())
    for chain in chains:
        _same_variable(_read(ours, chain), _read(theirs, chain), f"{case}.{chain}")


def test_wrapped_layer_assign_changes_predict_as_keras(keras):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    models = [m.Sequential([m.Input((4, 5)), m.layers.Bidirectional(m.layers.LSTM(3, name="l"), name="bi"),
                            m.layers.Dense(1, name="out")], name="s") for m in (keras, gn)]
    theirs, ours = models
    _random_weights(theirs)
    ours.set_weights(theirs.get_weights())
    for model in models:
        bi = model.layers[0]
        assert bi.forward_layer.cell.kernel.path == "s/bi/forward_l/lstm_cell/kernel"
        bi.backward_layer.cell.kernel.assign(bi.backward_layer.cell.kernel * 0.5)
        bi.forward_layer.cell.bias.assign_add(0.3)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    td = gn.Sequential([gn.Input((4, 5)), L.TimeDistributed(L.Dense(3, name="d"), name="td")], name="s")
    td.layers[0].layer.kernel.assign(np.zeros((5, 3)))
    td.layers[0].layer.bias.assign(np.arange(3.0))
    np.testing.assert_array_equal(td.predict(x, verbose=0), np.broadcast_to(np.arange(3.0), (2, 4, 3)))
    assert td.layers[0].layer.kernel.path == "s/td/d/kernel"


# -- paths: the models that built a layer, as Keras 3.15 fixes them ------------------------------------------
def _path_cases(K):
    """The same models in Keras and glassnet (``K`` either), every layer named (Keras counts names
    across a session), each built as Keras builds it: name -> model."""
    D, one = K.layers.Dense, np.ones((1, 4), np.float32)
    cases = {"sequential": K.Sequential([K.Input((4,)), D(3, name="a"), D(2, name="b")], name="s1")}
    lazy = K.Sequential([D(3, name="a"), D(2, name="b")], name="s2")
    lazy(one)
    cases["sequential built at its first call"] = lazy
    prebuilt = D(3, name="a")
    prebuilt.build((None, 4))
    cases["a layer built on its own, then in a Sequential"] = K.Sequential([K.Input((4,)), prebuilt], name="s3")
    x = K.Input((4,))
    cases["functional"] = K.Model(x, D(2, name="b")(D(3, name="a")(x)), name="f1")
    inner, x = K.Sequential([D(3, name="a")], name="enc"), K.Input((4,))
    cases["a Sequential in a functional model"] = K.Model(x, D(2, name="b")(inner(x)), name="f2")
    xi = K.Input((4,))
    inner, x = K.Model(xi, D(3, name="a")(xi), name="fin"), K.Input((4,))
    cases["a functional model in a functional model"] = K.Model(x, D(2, name="b")(inner(x)), name="f3")
    xi = K.Input((4,))
    inner = K.Model(xi, D(3, name="a")(xi), name="fin2")
    cases["a functional model in a Sequential"] = K.Sequential([K.Input((4,)), inner, D(2, name="b")], name="s4")
    inner = K.Sequential([D(3, name="a")], name="inner")
    cases["a Sequential in a Sequential"] = K.Sequential([K.Input((4,)), inner, D(2, name="b")], name="outer")
    inner = K.Sequential([K.Input((4,)), D(3, name="a")], name="inner2")
    cases["a built Sequential in a Sequential"] = K.Sequential([K.Input((4,)), inner, D(2, name="b")], name="outer2")
    with K.name_scope("blk"):
        cases["a Sequential in a name_scope"] = K.Sequential([K.Input((4,)), D(3, name="a")], name="s5")
    lazy = K.Sequential([D(3, name="a")], name="s6")
    with K.name_scope("blk2"):
        lazy(one)
    cases["a Sequential first called in a name_scope"] = lazy
    cases["TimeDistributed in a Sequential"] = K.Sequential(
        [K.Input((4, 5)), K.layers.TimeDistributed(D(3, name="a"), name="td")], name="s7")
    cases["RNN(cell) in a Sequential"] = K.Sequential(
        [K.Input((4, 5)), K.layers.RNN(K.layers.GRUCell(3, name="c"), name="r")], name="s8")

    class Block(K.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d, self.e = D(3, name="a"), D(3, name="b")

        def build(self, input_shape):
            self.e.build(input_shape)       # built here, d in call: both below the block

        def call(self, x):
            return self.d(x) + self.e(x)

    cases["a block of layers in a Sequential"] = K.Sequential([K.Input((4,)), Block(name="blk"), D(1, name="c")],
                                                              name="s9")
    x = K.Input((4,))
    cases["a block of layers in a functional model"] = K.Model(x, Block(name="blk3")(x), name="f4")

    class Sub(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = D(3, name="a")

        def call(self, x):
            return self.d(x)

    sub = Sub(name="sub")
    sub(one)
    cases["a subclassed model"] = sub
    return cases


def _views(model):
    """Keras' variable of each trained weight of a glassnet model, in its order: its view."""
    return [WeightVariable(layer, key) for layer, key, _, _ in model._views]


def test_weight_paths_name_the_models_that_built_the_layer_as_keras(keras):
    theirs, ours = _path_cases(keras), _path_cases(gn)
    for case, kmodel in theirs.items():
        want = [v.path for v in kmodel.trainable_weights]
        assert sorted(v.path for v in _views(ours[case])) == sorted(want), case
        if case != "a layer built on its own, then in a Sequential":    # (docs/layers.md: the one difference)
            assert sorted(ours[case]._weight_paths()) == sorted(want), case
    # what the attributes give: the same views
    assert ours["sequential"].layers[0].kernel.path == "s1/a/kernel"
    assert ours["a Sequential in a Sequential"].get_layer("a").kernel.path == "outer/inner/a/kernel"


def test_weight_paths_without_keras():
    # hand-derived from Keras' rule: a Sequential's (or subclass') name, then the layer's
    model = gn.Sequential([gn.Input((4,)), L.Dense(3, name="a")], name="net")
    assert model.layers[0].kernel.path == "net/a/kernel" and model._weight_paths()[0] == "net/a/kernel"
    x = gn.Input((4,))
    functional = gn.Model(x, L.Dense(2, name="b")(x), name="fn")
    assert functional.layers[-1].bias.path == "b/bias"
    with gn.name_scope("outer"):
        scoped = gn.Sequential([gn.Input((4,)), L.Dense(3, name="a")], name="net2")
    assert scoped.layers[0].kernel.path == "outer/net2/a/kernel"
    # the path is fixed when the layer is built, as Keras' is: a model made of it later keeps it
    dense = L.Dense(3, name="alone")
    dense.build((None, 4))
    gn.Sequential([gn.Input((4,)), dense], name="later")
    assert dense.kernel.path == "alone/kernel"
