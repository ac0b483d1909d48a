"""add_loss terms that reduce over the batch axis first (glassnet._batch_vectors) against Keras 3.15:
keras.io's Switch Transformer load-balancing loss (``ops.mean(router_probs, axis=0)``) as keras.io
writes it; batch vectors in +, -, *, / with numbers, arrays, batch terms and each other, reduced over
some or all of their axes; ``model.losses``, evaluate, 2 epochs of SGD and Adam with batches that do
not divide the data (the last batch's mean over its own rows); model files; a Sequential's blocks;
gradients against float64 central finite differences; what stays refused, by name."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

E = 3           # experts


def load_balanced_loss(o, router_probs, expert_mask, num_experts):
    """keras.io's (text_classification_with_switch_transformer.py), on keras.ops / glassnet.ops."""
    density = o.mean(expert_mask, axis=0)
    density_proxy = o.mean(router_probs, axis=0)
    return o.mean(density_proxy * density) * o.cast(num_experts ** 2, "float32")


def _router_net(base, L, o):
    """keras.io's Router (without its training noise): softmax probabilities, top-1 expert, the
    load-balancing add_loss; each sample one token here, as keras.io flattens the batch's tokens."""
    class Router(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.route = L.Dense(E)

        def call(self, inputs):
            router_probs = o.softmax(self.route(inputs), axis=-1)
            expert_gate, expert_index = o.top_k(router_probs, k=1)
            expert_mask = o.one_hot(expert_index, E)               # (tokens, 1, E), as keras.io's
            self.add_loss(load_balanced_loss(o, router_probs, expert_mask, E))
            return router_probs * expert_gate

    class Net(base):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(4, activation="tanh")
            self.router = Router()
            self.out = L.Dense(1)

        def call(self, x):
            h = self.hidden(x)
            return self.out(o.concatenate([h, self.router(h)], axis=-1))
    return Net()


def _pair(keras, make, x):
    keras.utils.set_random_seed(0)
    theirs, ours = make(keras.Model, keras.layers, keras.ops), make(gn.Model, gn.layers, ops)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def _data(rng, n=10):
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def _optimizers(keras, name):
    if name == "sgd":
        return keras.optimizers.SGD(0.1), gn.optimizers.SGD(learning_rate=0.1)
    return keras.optimizers.Adam(0.001), gn.optimizers.Adam(learning_rate=0.001)


def _trains_as_keras(keras, theirs, ours, x, y, optimizer, batch_size=4):
    k_opt, g_opt = _optimizers(keras, optimizer)
    theirs.compile(optimizer=k_opt, loss="mse")
    ours.compile(optimizer=g_opt, loss="mse")
    np.testing.assert_allclose(ours.evaluate(x, y, batch_size=batch_size, verbose=0),
                               theirs.evaluate(x, y, batch_size=batch_size, verbose=0), rtol=1e-5)
    k = theirs.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, batch_size=batch_size, verbose=0),
                               theirs.evaluate(x, y, batch_size=batch_size, verbose=0), rtol=1e-5)
    return g


def test_switch_router_losses_as_keras(keras, rng):
    x, _ = _data(rng)
    theirs, ours = _pair(keras, _router_net, x)
    for batch in (x, x[:7]):
        theirs(batch)
        ours(batch)
        k, g = [np.asarray(v) for v in theirs.losses], ours.losses
        assert len(g) == len(k) == 1 and g[0].shape == k[0].shape == () and g[0].dtype == np.float32
        np.testing.assert_allclose(g[0], k[0], rtol=1e-6)
    # and as NumPy computes keras.io's formula on the router's probabilities
    (w1, b1), (w2, b2) = ours.hidden.get_weights(), ours.router.route.get_weights()
    probs = np.tanh(x[:7] @ w1 + b1) @ w2 + b2
    probs = np.exp(probs - probs.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    mask = np.eye(E)[probs.argmax(-1)]
    np.testing.assert_allclose(ours.losses[0], np.mean(probs.mean(0) * mask.mean(0)) * E ** 2, rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [4, 3])
def test_switch_router_trains_as_keras(keras, rng, optimizer, batch_size):
    x, y = _data(rng)                       # 10 rows: the last batch has 2 (or 1), its mean over them
    theirs, ours = _pair(keras, _router_net, x)
    _trains_as_keras(keras, theirs, ours, x, y, optimizer, batch_size)
    theirs(x)
    ours(x)
    np.testing.assert_allclose(ours.losses[0], np.asarray(theirs.losses[0]), rtol=1e-5)


def _tokens_switch(L, o, Input, Model, flat):
    """test_review_switchport.py's Switch model (tokens on axis 1) with keras.io's loss as an add_loss
    term: Keras flattens the tokens ((-1, E), as keras.io), glassnet reduces over axes (0, 1)."""
    from test_review_switchport import _switch, E as SE

    class Router(Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.route = L.Dense(SE)

        def call(self, x):
            probs = o.softmax(self.route(x), axis=-1)
            if flat:
                p = o.reshape(probs, (-1, SE))
                m = o.one_hot(o.argmax(p, axis=-1), SE)
                self.add_loss(load_balanced_loss(o, p, m, SE))
            else:
                m = o.one_hot(o.argmax(probs, axis=-1), SE)
                self.add_loss(o.mean(o.mean(probs, axis=(0, 1)) * o.mean(o.mean(m, axis=1), axis=0)) * float(SE ** 2))
            return probs
    return _switch(L, o, Input, Model, Router())


def test_tokens_switch_with_add_loss_trains_as_keras(keras, rng):
    """The Switch port of tests/test_review_switchport.py, its activity_regularizer stand-in replaced
    by keras.io's add_loss: losses, histories and weights as Keras 3.15's."""
    keras.utils.set_random_seed(0)
    theirs = _tokens_switch(keras.layers, keras.ops, keras.Input, keras.Model, flat=True)
    ours = _tokens_switch(gn.layers, ops, gn.Input, gn.Model, flat=False)
    ours.set_weights(theirs.get_weights())
    x, y = rng.integers(0, 20, size=(30, 6)), rng.integers(0, 2, size=30)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    theirs(x[:8])
    ours(x[:8])
    np.testing.assert_allclose(ours.losses[0], np.asarray(theirs.losses[0]), rtol=1e-5)
    theirs.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy")
    k = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _forms_net(base, L, o, which):
    """Batch vectors in every form: sums, keepdims, partial reductions, constants, batch terms."""
    class Net(base):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(4, activation="tanh")
            self.side = L.Dense(4, activation="sigmoid")
            self.out = L.Dense(1)

        def call(self, x):
            h, s = self.hidden(x), self.side(x)
            m, v = o.mean(h, axis=0), o.sum(s, axis=0, keepdims=True)         # (4,) and (1, 4)
            if which == "arithmetic":
                self.add_loss(o.sum(m * v) / 10.0 - o.mean(m / (1.0 + v)))
                self.add_loss(0.5 * o.mean(o.square(m - o.mean(h))))         # a batch term in a vector
                self.add_loss(o.sum(o.multiply(np.array([1.0, -2.0, 0.5, 3.0], "float32"), m)))
            elif which == "partial":
                t = o.expand_dims(h, -1) * o.expand_dims(s, 1)              # (None, 4, 4)
                c = o.mean(t, axis=0)                                       # (4, 4)
                self.add_loss(o.mean(o.sum(c, axis=-1) * o.mean(c, axis=0)))
                self.add_loss(o.mean(o.sum(t, axis=(0, 2))) / 7.0)
                self.add_loss(o.mean(o.mean(h, axis=(0, 1), keepdims=True) * o.mean(s, axis=-2)))
            else:                               # a batch vector given as it is: summed whole
                self.add_loss(m * v * 0.1)
            return self.out(h + s)
    return Net()


@pytest.mark.parametrize("which", ["arithmetic", "partial", "whole"])
def test_batch_vector_forms_as_keras(keras, rng, which):
    x, y = _data(rng)
    theirs, ours = _pair(keras, lambda b, L, o: _forms_net(b, L, o, which), x)
    theirs(x[:7])
    ours(x[:7])
    k, g = [np.asarray(v) for v in theirs.losses], ours.losses
    assert len(g) == len(k)
    for a, b in zip(g, k):
        assert a.shape == b.shape and a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    _trains_as_keras(keras, theirs, ours, x, y, "sgd")


def test_loss_none_trains_on_the_batch_terms_alone_as_keras(keras, rng):
    x, _ = _data(rng)
    theirs, ours = _pair(keras, lambda b, L, o: _forms_net(b, L, o, "arithmetic"), x)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=None)
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss=None)
    with pytest.warns(UserWarning):             # Keras: the output layer gets no gradient
        k = theirs.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _finite_differences(model, x, y, eps=1e-6):
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.0), loss="mse")
    model._loss_and_gradients(x, y)
    layers = [layer for layer in model.layers if getattr(layer, "params", None)]
    checked = 0
    for layer in layers:
        for name, p in layer.params.items():
            g = layer.grads[name].copy()
            numeric = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                keep = p[i]
                p[i] = keep + eps
                up = model._loss_from_output(model._forward(x, training=True), y)
                p[i] = keep - eps
                down = model._loss_from_output(model._forward(x, training=True), y)
                p[i] = keep
                numeric[i] = (up - down) / (2 * eps)
            np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)
            checked += 1
    assert checked


@pytest.mark.parametrize("which", ["arithmetic", "partial", "whole", "router"])
def test_gradients_match_float64_finite_differences(rng, which):
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 1))
    model = _float64(lambda: _router_net(gn.Model, gn.layers, ops) if which == "router"
                     else _forms_net(gn.Model, gn.layers, ops, which))
    model(x)
    _finite_differences(model, x, y)


def _float64(make):
    """``make()``'s subclass drawn in float64 (its layers made again by ``make``, the dtype set first)."""
    original = gn.Model.__init__

    def init(self, *args, **kwargs):
        kwargs.setdefault("dtype", "float64")
        original(self, *args, **kwargs)
    gn.Model.__init__ = init
    try:
        return make()
    finally:
        gn.Model.__init__ = original


@pytest.mark.parametrize("which", ["arithmetic", "partial", "whole", "router"])
def test_model_files_keep_batch_vector_terms(rng, tmp_path, which):
    """save/load_model, to_json and clone_model: the same losses, and fit goes on bit for bit."""
    from test_add_loss_saving import _resumes_exactly
    x, y = rng.normal(size=(24, 3)).astype(np.float32), rng.normal(size=(24, 1)).astype(np.float32)
    model = _router_net(gn.Model, gn.layers, ops) if which == "router" else _forms_net(gn.Model, gn.layers, ops, which)
    model(x)
    model.compile(optimizer="adam", loss="mse")
    loaded = _resumes_exactly(model, x, y, tmp_path / "m.npz")
    assert any(node["op"] in ("batch_mean", "batch_sum") for node in
               json.loads(loaded.to_json())["config"]["added_losses"]["nodes"])
    for copy in (gn.models.model_from_json(model.to_json()), gn.models.clone_model(model)):
        copy.set_weights(model.get_weights())
        copy(x[:5])
        model(x[:5])
        for a, b in zip(copy.losses, model.losses):
            np.testing.assert_array_equal(a, b)


def _block(base, L, o):
    class Balanced(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = L.Dense(E, activation="softmax")

        def call(self, x):
            p = self.d(x)
            m = o.one_hot(o.argmax(p, axis=-1), E)
            self.add_loss(o.sum(o.mean(p, axis=0) * o.mean(m, axis=0)) * float(E))
            self.add_loss(0.1 * o.mean(o.square(o.mean(x, axis=0) - o.mean(x))))   # its input: the call before
            return p
    return Balanced()


def test_sequential_blocks_with_batch_terms_as_keras(keras, rng, tmp_path):
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), _block(keras.Model, keras.layers, keras.ops),
                               _block(keras.Model, keras.layers, keras.ops), keras.layers.Dense(1)])
    ours = gn.Sequential([gn.layers.Dense(4), _block(gn.Model, gn.layers, ops), _block(gn.Model, gn.layers, ops),
                          gn.layers.Dense(1)])
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs(x[:7])
    ours(x[:7])
    assert len(ours.losses) == len(theirs.losses) == 4
    for a, b in zip(ours.losses, theirs.losses):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-7)
    _trains_as_keras(keras, theirs, ours, x, y, "sgd")
    ours.save(tmp_path / "seq.npz")
    loaded = gn.load_model(tmp_path / "seq.npz")
    loaded(x[:7])
    ours(x[:7])
    for a, b in zip(loaded.losses, ours.losses):
        np.testing.assert_array_equal(a, b)


def test_drawn_model_called_again_keeps_its_batch_terms_as_keras(keras, rng):
    """A drawn model with batch-vector terms called in a functional model (``base(x)``)."""
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    models = []
    for base, L, o, Input, Model in [(keras.Model, keras.layers, keras.ops, keras.Input, keras.Model),
                                     (gn.Model, gn.layers, ops, gn.Input, gn.Model)]:
        inner = _forms_net(base, L, o, "arithmetic")
        inner(x)
        inputs = Input((3,))
        models.append(Model(inputs, L.Dense(1)(inner(inputs))))
    theirs, ours = models
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    assert len(ours.losses) == len(theirs.losses) == 3
    for a, b in zip(ours.losses, theirs.losses):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-7)
    _trains_as_keras(keras, theirs, ours, x, y, "sgd")


def _refused(body):
    class Net(gn.Model):
        def __init__(self):
            super().__init__()
            self.d, self.out = gn.layers.Dense(4), gn.layers.Dense(1)

        def call(self, x):
            return body(self, self.d(x))
    return Net()


@pytest.mark.parametrize("body, error, match", [
    (lambda self, h: self.out(h - ops.mean(h, axis=0)), TypeError, "batch vector.*per-sample tensor"),
    (lambda self, h: self.out(ops.mean(h, axis=0) * h), TypeError, "batch vector.*per-sample tensor"),
    (lambda self, h: self.out(ops.mean(h, axis=0)), TypeError, "batch vector"),
    (lambda self, h: self.out(h + ops.exp(ops.mean(h, axis=0))), TypeError, "batch vector used as an array"),
    (lambda self, h: self.out(h + ops.max(h, axis=0)), ValueError, "batch axis"),
    (lambda self, h: ops.mean(h, axis=0), (TypeError, ValueError), "batch vector"),
    (lambda self, h: self.add_loss(ops.mean(ops.mean(h, axis=0) * np.ones(3))), ValueError,
     r"shapes \(4,\) and \(3,\) do not broadcast"),
    (lambda self, h: self.add_loss(ops.mean(ops.mean(h, axis=0), axis=1)), ValueError, r"axis must be in \[-1, 1\)"),
    (lambda self, h: self.add_loss(ops.mean(h, axis=(0, 2))), ValueError, r"axis must hold integers in \[-2, 2\)"),
    (lambda self, h: self.add_loss(ops.mean(h, axis=0) * "a"), TypeError, "unsupported operand"),
])
def test_infeasible_uses_refused_by_name(rng, body, error, match):
    with pytest.raises(error, match=match):
        _refused(body)(rng.normal(size=(5, 3)).astype(np.float32))


def test_term_reading_an_input_taken_an_output_refused(rng):
    x = rng.normal(size=(5, 3)).astype(np.float32)

    class ReadsInput(gn.Model):
        def __init__(self):
            super().__init__()
            self.out = gn.layers.Dense(1)

        def call(self, x):
            self.add_loss(ops.sum(ops.mean(x, axis=0)))
            return self.out(x)
    # a term of the Input itself is taken as Keras takes it (read through an Identity call: a
    # constant that moves no weight; tests/test_review_guides.py)
    model = ReadsInput()
    model(x)
    np.testing.assert_allclose(model.losses, [x.mean(axis=0).sum()], rtol=1e-6)

    class ReadsOutput(gn.Model):
        def __init__(self):
            super().__init__()
            self.d, self.out = gn.layers.Dense(4), gn.layers.Dense(2)

        def call(self, x):
            y = self.out(self.d(x))
            self.add_loss(ops.sum(ops.mean(y, axis=0)))
            return y
    with pytest.raises(NotImplementedError, match="reads a model output"):
        ReadsOutput()(x)


def _crafted(nodes, terms):
    return {"nodes": nodes, "terms": terms}


@pytest.mark.parametrize("bad, match", [
    (_crafted([{"op": "batch_mean", "call": 0, "keepdims": False, "shape": [5]},
               {"op": "reduce_mean", "operand": 0, "axis": [0], "keepdims": False}], [1]), "sample shape"),
    (_crafted([{"op": "batch_mean", "call": 0, "keepdims": False}], [0]), "batch_mean"),
    (_crafted([{"op": "batch_sum", "call": 0, "keepdims": False, "shape": [4]}], [0]), "is a batch vector"),
    (_crafted([{"op": "batch_sum", "call": 0, "keepdims": False, "shape": [4]},
               {"op": "reduce_sum", "operand": 0, "axis": [3], "keepdims": False}], [1]), "axis must be in"),
    (_crafted([{"op": "batch_sum", "call": 0, "keepdims": False, "shape": [4]}, {"op": "constant", "value": [1.0, 2.0]},
               {"op": "multiply", "operands": [0, 1]}, {"op": "reduce_sum", "operand": 2, "axis": [0],
                                                        "keepdims": False}], [3]), "do not broadcast"),
    (_crafted([{"op": "constant", "value": "nan"}], [0]), "finite number"),
    (_crafted([{"op": "number", "value": 1.0}, {"op": "reduce_mean", "operand": 0, "axis": [], "keepdims": False}],
              [1]), "must reduce a batch vector"),
])
def test_crafted_batch_vector_nodes_refused_by_name(rng, bad, match):
    model = _forms_net(gn.Model, gn.layers, ops, "arithmetic")
    model(rng.normal(size=(5, 3)).astype(np.float32))
    spec = json.loads(model.to_json())
    nodes = spec["config"]["added_losses"]["nodes"]
    assert any(node["op"] == "batch_mean" and node["shape"] == [4] for node in nodes)
    call = next(node["call"] for node in nodes if node["op"] == "batch_mean")
    for node in bad["nodes"]:
        if "call" in node:
            node["call"] = call
    spec["config"]["added_losses"] = bad
    with pytest.raises(ValueError, match=match):
        gn.models.model_from_json(json.dumps(spec))
