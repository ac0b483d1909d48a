"""The order of a functional model's layers and weights is Keras 3.15's (glassnet._layer_order), so
that ``gn_model.set_weights(keras_model.get_weights())`` ports a model: a random graph fuzz and
named cases against Keras, files written before that order (tests/data/weight_order), and what
depends on the order (summary, get_layer, save/load, from_config, streams)."""
import os
import re
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import load_model

sys.path.insert(0, os.path.dirname(__file__))
from weight_order_graphs import draw, keras_names, recipe  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data", "weight_order"))
from make_files import build as build_files_graph  # noqa: E402

L = gn.layers
DATA = os.path.join(os.path.dirname(__file__), "data", "weight_order")


def _shared_and_parallel(lib):
    """The graph of the report: d1 shared (called on b, and after d2 -> d3), d1 and d2 of the same
    shapes. Keras: input a, d2, input b, d3, d1, add."""
    a, b = lib.layers.Input((4,), name="a"), lib.layers.Input((4,), name="b")
    d1, d2, d3 = lib.layers.Dense(3, name="d1"), lib.layers.Dense(3, name="d2"), lib.layers.Dense(4, name="d3")
    x = d2(a)
    y = d1(b)
    z = d3(x)
    w = d1(z)
    return [a, b], lib.layers.Add(name="add")([y, w])


def _keras_weights(keras_model, rng):
    """Random weights for ``keras_model`` (variances positive), set and returned."""
    weights = [rng.uniform(0.5, 1.5, w.shape) if "variance" in w.name else rng.standard_normal(w.shape)
               for w in keras_model.weights]
    keras_model.set_weights([w.astype(np.float32) for w in weights])
    return keras_model.get_weights()


def _same_predictions(ours, theirs, xs):
    """``ours.predict`` and Keras' call on ``xs`` (a list, one array per input) agree to 1e-5."""
    x = xs if len(xs) > 1 else xs[0]
    mine, their = ours.predict(x, verbose=0), theirs(x, training=False)
    mine = mine if isinstance(mine, list) else [mine]
    their = list(their) if isinstance(their, (list, tuple)) else [their]
    assert len(mine) == len(their)
    for a, b in zip(mine, their):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)


def _assert_ported(ours, theirs, rng, shapes):
    """Same layer names (Keras' InputLayers left out, nested models by their layers), same weight
    shapes in all three lists, and after set_weights(get_weights()) the same predictions."""
    assert [layer.name for layer in ours.layers] == keras_names(theirs)
    for attribute in ("weights", "trainable_weights", "non_trainable_weights"):
        assert [tuple(w.shape) for w in getattr(ours, attribute)] == \
               [tuple(w.shape) for w in getattr(theirs, attribute)], attribute
    ours.set_weights(_keras_weights(theirs, rng))
    _same_predictions(ours, theirs, [rng.standard_normal((5, *shape)).astype(np.float32) for shape in shapes])


# -- without Keras: the rule on the report's graph ------------------------------------------------
def test_shared_layer_and_parallel_branch_take_keras_order():
    inputs, output = _shared_and_parallel(gn)
    model = gn.Model(inputs, output, seed=0)
    assert [layer.name for layer in model.layers] == ["d2", "d3", "d1", "add"]
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 4), (4,), (4, 3), (3,)]
    assert [w.shape for w in model.trainable_weights] == [(4, 3), (3,), (3, 4), (4,), (4, 3), (3,)]
    assert model.get_layer(index=0).name == "d2" and model.get_layer(index=-2).name == "d1"
    # Keras' summary rows: its model.layers, the Inputs where it lists them
    rows = [line.split()[0] for line in _summary(model).splitlines()
            if re.match(r"\S+ \(\w+\) ", line) and not line.startswith("Layer (type)")]
    assert rows == ["a", "d2", "b", "d3", "d1", "add"]
    # set_weights goes by that order: d1's weights are the fifth and sixth
    weights = [np.full(w.shape, k, np.float32) for k, w in enumerate(model.get_weights())]
    model.set_weights(weights)
    assert model.get_layer("d1").params["kernel"][0, 0] == 4 and model.get_layer("d2").params["kernel"][0, 0] == 0
    # the flat buffer (the optimizer's layout) and the random streams keep the first calls' order
    assert [layer.name for layer in model._layout_layers()] == ["d1", "d2", "d3", "add"]


def _summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def test_inputs_given_in_another_order_and_a_deeper_branch():
    a, b = L.Input((2,), name="a"), L.Input((2,), name="b")
    long = L.Dense(2, name="long2")(L.Dense(2, name="long1")(a))
    short = L.Dense(2, name="short")(b)
    model = gn.Model([b, a], L.Concatenate(name="cat")([short, long]))
    # depth first: long1 (3) before long2 and short (2, short reached first from the output)
    assert [layer.name for layer in model.layers] == ["long1", "short", "long2", "cat"]


# -- against Keras 3.15 ---------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", range(4))
def test_random_graphs_order_layers_and_weights_as_keras(keras, chunk):
    """200 random small graphs (50 per chunk): shared layers, parallel branches, several inputs in
    another order, one or two outputs, nested functional models (some called twice) and
    Sequentials, BatchNormalization (weights that do not train). Built, not trained."""
    for seed in range(50 * chunk, 50 * chunk + 50):
        plan = recipe(seed)
        theirs, ours = draw(keras, plan, keras.Model), draw(gn, plan, gn.Model)
        try:
            _assert_ported(ours, theirs, np.random.default_rng(seed), [(plan["inputs"][j],) for j in plan["given"]])
        except AssertionError as exc:
            raise AssertionError(f"graph of seed {seed}: {plan}") from exc


def test_the_reported_graph_ports_from_keras(keras, rng):
    ours, theirs = gn.Model(*_shared_and_parallel(gn)), keras.Model(*_shared_and_parallel(keras))
    assert [layer.name for layer in theirs.layers] == ["a", "d2", "b", "d3", "d1", "add"]
    _assert_ported(ours, theirs, rng, [(4,), (4,)])


def _nesting(lib):
    """A functional model and a Sequential called as layers, on parallel branches."""
    L_ = lib.layers
    i0 = L_.Input((4,))
    base = lib.Model(i0, L_.Dense(2, name="b2")(L_.Dense(3, name="b1")(i0)), name="base")
    seq = lib.Sequential([L_.Input((4,)), L_.Dense(5, name="s1"), L_.Dense(5, name="s2")], name="seq")
    a = L_.Input((4,), name="a")
    x = L_.Dense(4, name="pre")(a)
    again = base(L_.Dense(4, name="pre2")(a))         # base called twice: one operation, two calls
    return a, L_.Concatenate(name="cat")([base(x), seq(a), again])


def test_nested_models_keep_their_weights_together_at_their_place(keras, rng):
    ours, theirs = gn.Model(*_nesting(gn)), keras.Model(*_nesting(keras))
    assert [layer.name for layer in theirs.layers] == ["a", "pre", "pre2", "base", "seq", "cat"]
    _assert_ported(ours, theirs, rng, [(4,)])
    # a Sequential nesting a functional model: its layers, then the Sequential's own
    ours2 = gn.Sequential([ours, L.Dense(2, name="top")])
    theirs2 = keras.Sequential([theirs, keras.layers.Dense(2, name="top")])
    theirs2.build((None, 4))
    _assert_ported(ours2, theirs2, rng, [(4,)])


def _subclass(lib):
    class Net(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.head = lib.layers.Dense(2, name="head")         # assigned first, called last
            self.blocks = [lib.layers.Dense(4, name="b0"), lib.layers.Dense(4, name="b1")]
            self.norm = lib.layers.LayerNormalization(name="norm")
            self.stem = lib.layers.Dense(4, name="stem")

        def call(self, x):
            h = self.stem(x)
            for block in self.blocks:
                h = block(h)
            return self.head(self.norm(h))
    return Net()


def test_subclassed_models_order_layers_by_their_attributes_as_keras(keras, rng):
    ours, theirs = _subclass(gn), _subclass(keras)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    theirs(x)
    ours.build((None, 4))
    assert [layer.name for layer in ours.layers] == ["head", "b0", "b1", "norm", "stem"]
    _assert_ported(ours, theirs, rng, [(4,)])
    # nested, not drawn yet, in a functional model: its layers together, in that order
    def outer(lib, model_class):
        i = lib.layers.Input((4,))
        return model_class(i, lib.layers.Dense(3, name="top")(_subclass(lib)(lib.layers.Dense(4, name="pre")(i))))
    ours, theirs = outer(gn, gn.Model), outer(keras, keras.Model)
    assert [layer.name for layer in ours.layers] == ["pre", "head", "b0", "b1", "norm", "stem", "top"]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(_keras_weights(theirs, rng))
    _same_predictions(ours, theirs, [x])


def _odd_layer(lib):
    """A layer whose weights are made in another order than Keras lists them: a weight that does
    not train first, then the bias before the kernel (Keras: trained ones first, as made)."""
    class Odd(lib.layers.Layer):
        def build(self, shape):
            self.scale = self.add_weight(shape=(3,), initializer="ones", trainable=False, name="scale")
            self.b = self.add_weight(shape=(3,), initializer="zeros", name="b")
            self.w = self.add_weight(shape=(shape[-1], 3), initializer="glorot_uniform", name="w")

        def call(self, x):
            return (x @ self.w + self.b) * self.scale

        def forward(self, x, training=False):        # glassnet's (Keras' call is not run)
            return (x @ self.params["w"] + self.params["b"]) * self.scale

        def output_shape(self, shape):               # glassnet's
            return (*shape[:-1], 3)
    return Odd


@pytest.mark.parametrize("case", ["odd", "BatchNormalization", "SeparableConv2D", "LSTM", "Bidirectional",
                                  "MultiHeadAttention", "ConvLSTM1D"])
def test_each_layers_own_weights_in_keras_order(keras, rng, case):
    def build(lib):
        layers = lib.layers
        shape = {"SeparableConv2D": (6, 6, 2), "LSTM": (4, 2), "Bidirectional": (4, 2), "ConvLSTM1D": (3, 6, 2),
                 "MultiHeadAttention": (3, 4)}.get(case, (4,))
        i = layers.Input(shape)
        x = layers.Dense(shape[-1], name="before")(i)      # a neighbour: the layer's weights in their place
        make = {"odd": lambda: _odd_layer(lib)(name="odd"), "BatchNormalization": layers.BatchNormalization,
                "SeparableConv2D": lambda: layers.SeparableConv2D(3, 3),
                "LSTM": lambda: layers.LSTM(3), "Bidirectional": lambda: layers.Bidirectional(layers.LSTM(3)),
                "MultiHeadAttention": lambda: layers.MultiHeadAttention(num_heads=2, key_dim=3),
                "ConvLSTM1D": lambda: layers.ConvLSTM1D(2, 3)}[case]()
        out = make(x, x) if case == "MultiHeadAttention" else make(x)
        return shape, (keras.Model if lib is keras else gn.Model)(i, out)
    shape, theirs = build(keras)
    ours = build(gn)[1]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    if case == "odd":
        assert [name for name, _ in ours._weight_items()][2:] == ["odd/b", "odd/w", "odd/scale"]
    ours.set_weights(_keras_weights(theirs, rng))
    _same_predictions(ours, theirs, [rng.standard_normal((2, *shape)).astype(np.float32)])


# -- files and configs ----------------------------------------------------------------------------
def test_a_model_file_of_the_older_order_loads_its_weights_by_layer(tmp_path):
    """model.npz was saved by glassnet at f00902c (make_files.py), which listed the layers
    d1 d2 d3 add bn drop out; d1 and d2 have weights of the same shapes."""
    expected = np.load(os.path.join(DATA, "expected.npz"))
    x, y = [expected["xa"], expected["xb"]], expected["y"]
    assert list(expected["names"]) == ["d1", "d2", "d3", "add", "bn", "drop", "out"]
    model = load_model(os.path.join(DATA, "model.npz"))
    assert [layer.name for layer in model.layers] == ["d2", "d3", "d1", "add", "bn", "drop", "out"]
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected["predicted"])
    # Adam's moments, the trainable flags and the random streams (Dropout, shuffling) went with them.
    # expected["trained"] was computed on another machine, whose BLAS rounds the last bits of some
    # sums otherwise; Adam's first steps turn those into differences of up to ~1e-3 (8e-4 measured on
    # an AMD EPYC's OpenBLAS). Fresh moments end 1.7e-2 away, so 3e-3 still tells them apart; the
    # exact check is a twin written again in today's format and trained on this machine.
    model.save(tmp_path / "again.npz")
    twin = load_model(tmp_path / "again.npz")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    twin.fit(x, y, epochs=1, batch_size=8, verbose=0)
    trained = model.predict(x, verbose=0)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), trained)
    np.testing.assert_allclose(trained, expected["trained"], rtol=0, atol=3e-3)
    # load_weights from that file into the model built by the same code
    fresh = build_files_graph(gn)
    fresh.load_weights(os.path.join(DATA, "model.npz"))
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), expected["predicted"])


def test_a_weights_only_file_of_the_older_order_loads_by_name(tmp_path):
    expected = np.load(os.path.join(DATA, "expected.npz"))
    model = build_files_graph(gn, with_lambda=True)
    model.load_weights(os.path.join(DATA, "weights.npz"))
    np.testing.assert_array_equal(model.predict([expected["xa"], expected["xb"]], verbose=0), expected["coded"])
    # written again now: in Keras' order, read back by position
    model.save_weights(tmp_path / "w.npz")
    again = build_files_graph(gn, with_lambda=True)
    again.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])


def test_seeded_layers_draw_the_weights_they_drew_before():
    """Each layer's stream is its first call's place, as before: the same seed, the same weights."""
    expected = np.load(os.path.join(DATA, "expected.npz"))
    model = build_files_graph(gn)
    for layer in model.layers:
        for k, w in enumerate(layer.get_weights()):
            np.testing.assert_array_equal(w, expected[f"initial/{layer.name}/{k}"], err_msg=layer.name)


def test_files_and_configs_keep_the_order_a_nested_model_gave(tmp_path, rng):
    inputs = gn.Input((3,))
    chain = gn.Sequential([gn.Input((3,)), L.Dense(3, name="c1"), L.Dense(3, name="c2"), L.Dense(3, name="c3")],
                          name="chain")
    side = L.Dense(3, name="side2")(L.Dense(3, name="side1")(inputs))
    model = gn.Model(inputs, L.Add(name="add")([chain(inputs), side]), seed=0)
    # the chain is one operation, at depth 1 as side2 (Keras): its layers come after side1's
    kept = ["side1", "c1", "c2", "c3", "side2", "add"]
    assert [layer.name for layer in model.layers] == kept
    model.compile(loss="mse", optimizer="adam")
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")     # flat there: its own Keras order would differ
    assert [layer.name for layer in loaded.layers] == kept
    x = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = model.get_config()
    assert config["layer_order"] == "keras"
    assert [layer.name for layer in gn.Model.from_config(config).layers] == kept
    # a config of the older order (no "layer_order"; the layers at their first calls): the Keras
    # order of its graph, flat (such a config records no nested model: no "nested", which later
    # configs have, glassnet._nested_configs)
    older_names = ["c1", "c2", "c3", "side1", "side2", "add"]
    place = {kept.index(name): k for k, name in enumerate(older_names)}
    older = {**config, "layers": [config["layers"][kept.index(name)] for name in older_names],
             "calls": [place[c] for c in config["calls"]]}
    del older["layer_order"], older["nested"]
    rebuilt = gn.Model.from_config(older)
    assert [layer.name for layer in rebuilt.layers] == ["c1", "c2", "side1", "c3", "side2", "add"]
    with pytest.raises(ValueError, match="'layer_order' must be"):
        gn.Model.from_config({**config, "layer_order": "glassnet"})


@pytest.mark.parametrize("how", ["keywords", "mixed", "positional", "key_by_keyword"])
def test_tensors_given_by_keyword_order_their_layers_as_keras(how):
    # Keras' call reads the tensors given by position, then those by keyword sorted by name: with
    # pq, pk, pv of one shape, any other order swapped their weights silently in set_weights
    keras = pytest.importorskip("keras")

    def build(lib):
        x = lib.layers.Input((5, 4))
        pq, pk, pv = (lib.layers.Dense(4, name=name) for name in ("pq", "pk", "pv"))
        q, k, v = pq(x), pk(x), pv(x)
        mha = lib.layers.MultiHeadAttention(2, 3, name="mha")
        out = {"keywords": lambda: mha(query=q, value=v, key=k), "mixed": lambda: mha(q, value=v, key=k),
               "positional": lambda: mha(q, v, k), "key_by_keyword": lambda: mha(q, v, key=k)}[how]()
        return (keras.Model if lib is keras else gn.Model)(x, out)

    theirs, ours = build(keras), build(gn)
    assert [layer.name for layer in ours.layers] == [
        layer.name for layer in theirs.layers if not isinstance(layer, keras.layers.InputLayer)]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
