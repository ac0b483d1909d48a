"""Weights made by add_weight in a layer (or model) drawn from call, used through operators and ops
(glassnet._call_weights): beside Keras 3.15 running the same classes, from the same weights, and
against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers, ops
from glassnet.gradcheck import GradientCheckError, check_model


@pytest.fixture(autouse=True)
def _fresh_names():
    yield
    gn.utils.clear_session()


# -- the classes, as the Keras guide and keras.io write them, over a module (gn or keras) -------------
def _classes(module, kops):
    base = module.layers.Layer

    class Linear(base):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return kops.matmul(inputs, self.w) + self.b

    class HandNorm(base):           # LayerNormalization by hand: a scale and an offset of its own
        def build(self, input_shape):
            self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="beta")

        def call(self, inputs):
            mean = kops.mean(inputs, axis=-1, keepdims=True)
            var = kops.var(inputs, axis=-1, keepdims=True)
            return (inputs - mean) / kops.sqrt(var + 1e-3) * self.gamma + self.beta

    class PositionEmbedding(base):      # keras.io's, its table made with add_weight
        def __init__(self, sequence_length, **kwargs):
            super().__init__(**kwargs)
            self.sequence_length = sequence_length

        def build(self, input_shape):
            self.pos = self.add_weight(shape=(self.sequence_length, input_shape[-1]), initializer="glorot_uniform",
                                       name="embeddings")

        def call(self, inputs):
            steps = inputs.shape[1]
            return inputs + self.pos[:steps]

    class Gated(base):          # a weight beside a sub-layer, on either side of the operators and ops
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = module.layers.Dense(3, activation="tanh")

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(3,), initializer="ones", name="scale")
            self.floor = self.add_weight(shape=(3,), initializer="zeros", name="floor", trainable=False)
            self.mix = self.add_weight(shape=(3, 3), initializer="glorot_uniform", name="mix")

        def call(self, inputs):
            h = self.dense(inputs)
            h = kops.maximum(h, self.floor) + 0.5 * h / self.scale
            return kops.matmul(self.mix, kops.expand_dims(h, -1))[:, :, 0] - self.scale

    return Linear, HandNorm, PositionEmbedding, Gated


@pytest.fixture(autouse=True)
def _fresh_keras_names(request):
    if "keras" in request.fixturenames:
        request.getfixturevalue("keras").backend.clear_session()


@pytest.fixture
def gn_classes():
    return _classes(gn, ops)


def _same_training(keras, kmodel, gmodel, x, y, optimizer, epochs=2, loss="mse", atol=1e-5):
    """From Keras' weights: predictions, then `epochs` of the optimizer, losses and weights."""
    assert [w.shape for w in gmodel.get_weights()] == [tuple(w.shape) for w in kmodel.get_weights()]
    gmodel.set_weights(kmodel.get_weights())
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=atol)
    kopt, gopt = (keras.optimizers.SGD(0.1), gn.optimizers.SGD(0.1)) if optimizer == "sgd" else (
        keras.optimizers.Adam(0.01), gn.optimizers.Adam(0.01))
    kmodel.compile(optimizer=kopt, loss=loss)
    gmodel.compile(optimizer=gopt, loss=loss)
    fit = dict(batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    expected, got = kmodel.fit(x, y, **fit).history["loss"], gmodel.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-5)
    assert expected[-1] < expected[0]
    for a, b in zip(gmodel.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol)
    np.testing.assert_allclose(gmodel.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=atol)


def _data(n=32, shape=(4,), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    return x, (x.reshape(n, -1)[:, :1] * 2 - x.reshape(n, -1)[:, 1:2] ** 2).astype(np.float32)


def _keras_paths(keras, kmodel):
    """Keras' weight paths with the program-wide numbering of unnamed variables (variable_7)
    written as glassnet counts within the layer (variable, variable_1, ...)."""
    paths, counts = [], {}
    for w in kmodel.weights:
        layer, name = w.path.rsplit("/", 1)
        if name.startswith("variable"):
            k = counts[layer] = counts.get(layer, -1) + 1
            name = "variable" if k == 0 else f"variable_{k}"
        paths.append(f"{layer}/{name}")
    return paths


def _functional(module, block, shape=(4,)):
    inputs = module.layers.Input(shape)
    x = block(inputs)
    if len(shape) > 1:
        x = module.layers.GlobalAveragePooling1D()(x)
    return module.Model(inputs, module.layers.Dense(1)(x))


# -- Keras parity --------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_guides_linear_layer_in_a_functional_model_trains_as_keras(keras, gn_classes, optimizer):
    KLinear = _classes(keras, keras.ops)[0]
    keras.utils.set_random_seed(0)
    kmodel, gmodel = _functional(keras, KLinear(5)), _functional(gn, gn_classes[0](5))
    paths = [path for path, _ in gmodel._weight_items()]
    assert paths[:2] == _keras_paths(keras, kmodel)[:2] == ["linear/variable", "linear/variable_1"]
    _same_training(keras, kmodel, gmodel, *_data(), optimizer)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_linear_layers_in_a_sequential_train_as_keras(keras, gn_classes, optimizer):
    KLinear = _classes(keras, keras.ops)[0]
    keras.utils.set_random_seed(1)
    kmodel = keras.Sequential([keras.Input((4,)), KLinear(6), keras.layers.Activation("tanh"), KLinear(1)])
    Linear = gn_classes[0]
    gmodel = gn.Sequential([Linear(6), layers.Activation("tanh"), Linear(1)])
    gmodel.build((None, 4))
    assert gmodel.count_params() == kmodel.count_params() == 37
    dense = gn.Sequential([layers.Dense(6), layers.Activation("tanh"), layers.Dense(1)])
    dense.build((None, 4))
    dense.set_weights(kmodel.get_weights())
    # Adam: glassnet's Dense Sequential itself ends 2.4e-5 from Keras' here (entries of near-zero
    # gradient, which Adam scales up; SGD agrees to 1e-5): the blocks must match it exactly
    _same_training(keras, kmodel, gmodel, *_data(), optimizer, atol=1e-5 if optimizer == "sgd" else 5e-5)
    dense.compile(optimizer=gn.optimizers.SGD(0.1) if optimizer == "sgd" else gn.optimizers.Adam(0.01), loss="mse")
    dense.fit(*_data(), batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(gmodel.get_weights(), dense.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_layer_norm_by_hand_with_its_scale_and_offset_trains_as_keras(keras, gn_classes, optimizer):
    KNorm = _classes(keras, keras.ops)[1]
    keras.utils.set_random_seed(2)

    def model(module, norm):
        inputs = module.layers.Input((4,))
        return module.Model(inputs, module.layers.Dense(1)(norm()(module.layers.Dense(4)(inputs))))
    kmodel, gmodel = model(keras, KNorm), model(gn, gn_classes[1])
    assert [p for p, _ in gmodel._weight_items()][2:4] == [w.path for w in kmodel.weights[2:4]] == [
        "hand_norm/gamma", "hand_norm/beta"]
    kmodel.set_weights([w + 0.1 * np.random.default_rng(k).standard_normal(w.shape).astype(np.float32)
                        for k, w in enumerate(kmodel.get_weights())])      # a gamma not 1, a beta not 0
    _same_training(keras, kmodel, gmodel, *_data(seed=2), optimizer)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_keras_ios_position_embedding_with_add_weight_trains_as_keras(keras, gn_classes, optimizer):
    KPos = _classes(keras, keras.ops)[2]
    keras.utils.set_random_seed(3)
    kmodel, gmodel = _functional(keras, KPos(8), (5, 3)), _functional(gn, gn_classes[2](8), (5, 3))
    assert gmodel.get_weights()[0].shape == (8, 3)
    x, _ = _data(shape=(5, 3), seed=3)
    _same_training(keras, kmodel, gmodel, x, x[:, :2, 0].sum(axis=1, keepdims=True), optimizer)
    # the rows past the 5 steps read get no gradient, in both
    np.testing.assert_allclose(gmodel.get_weights()[0][5:], kmodel.get_weights()[0][5:], atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weights_beside_a_sub_layer_and_a_frozen_one_train_as_keras(keras, gn_classes, optimizer):
    KGated = _classes(keras, keras.ops)[3]
    keras.utils.set_random_seed(4)
    kblock, gblock = KGated(), gn_classes[3]()
    kmodel, gmodel = _functional(keras, kblock), _functional(gn, gblock)
    # Keras' order: the block's own trainable weights as made, its frozen one, then its sub-layer's
    assert [p for p, _ in gmodel._weight_items()] == [
        "gated/scale", "gated/mix", "gated/floor", "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert [w.path for w in kmodel.weights][:3] == ["gated/scale", "gated/mix", "gated/floor"]
    assert len(gmodel.trainable_weights) == len(kmodel.trainable_weights) == 6
    assert len(gmodel.non_trainable_weights) == len(kmodel.non_trainable_weights) == 1
    kmodel.set_weights([w - 0.2 if w.shape == (3,) else w for w in kmodel.get_weights()])     # floor -0.2
    floor = kmodel.get_weights()[2].copy()
    _same_training(keras, kmodel, gmodel, *_data(seed=4), optimizer)
    np.testing.assert_array_equal(gmodel.get_weights()[2], floor)          # never trained
    assert gmodel.count_params() == kmodel.count_params()
    assert gblock.count_params() == kblock.count_params() == 30           # the block's own: its weights first
    for a, b in zip(gblock.get_weights(), kblock.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_model_subclass_with_add_weight_in_build_trains_as_keras(keras, optimizer):
    def net(module, kops):
        class Net(module.Model):
            def __init__(self):
                super().__init__()
                self.out = module.layers.Dense(1)

            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1], 3), initializer="glorot_uniform", name="w")
                self.b = self.add_weight(shape=(3,), initializer="zeros", name="b")

            def call(self, x):
                return self.out(kops.tanh(kops.matmul(x, self.w) + self.b))
        return Net()
    keras.utils.set_random_seed(5)
    kmodel, gmodel = net(keras, keras.ops), net(gn, ops)
    x, y = _data(seed=5)
    kmodel(x[:1])
    gmodel.predict(x[:1], verbose=0)
    assert [p for p, _ in gmodel._weight_items()][:2] == [w.path for w in kmodel.weights][:2] == ["net/w", "net/b"]
    _same_training(keras, kmodel, gmodel, x, y, optimizer)


def test_a_regularizer_and_a_constraint_of_add_weight_act_as_keras(keras, tmp_path):
    def model(module, kops):
        class Scaled(module.layers.Layer):
            def build(self, input_shape):
                self.k = self.add_weight(shape=(input_shape[-1], 2), regularizer=module.regularizers.L2(0.05), name="k")
                self.s = self.add_weight(shape=(2,), initializer="ones", constraint=module.constraints.NonNeg(),
                                         name="s")

            def call(self, x):
                return kops.matmul(x, self.k) * self.s
        inputs = module.layers.Input((4,))
        return module.Model(inputs, Scaled()(inputs))
    keras.utils.set_random_seed(6)
    kmodel, gmodel = model(keras, keras.ops), model(gn, ops)
    x, y = _data(seed=6)
    kmodel.set_weights([kmodel.get_weights()[0], np.array([0.05, 1.0], np.float32)])   # s[0] pushed below 0
    y2 = np.concatenate([y, -y], axis=1)
    _same_training(keras, kmodel, gmodel, x, y2, "sgd")
    assert gmodel.get_weights()[1][0] >= 0
    gmodel.save(tmp_path / "scaled.npz")          # both kept in the file: the loss with its penalty, as Keras'
    loaded = gn.load_model(tmp_path / "scaled.npz")
    loaded.compile(loss="mse", optimizer="sgd")
    np.testing.assert_allclose(loaded.evaluate(x, y2, verbose=0), kmodel.evaluate(x, y2, verbose=0), rtol=1e-5)
    owner = loaded.layers[0]            # the block's weights first, as Keras lists them
    assert type(owner).__name__ == "CallWeights" and set(owner.regularizers) == {"k"} and set(owner.constraints) == {"s"}


# -- gradients -----------------------------------------------------------------------------------
def test_gradients_of_every_weight_operand_match_finite_differences(gn_classes):
    Linear, HandNorm, PositionEmbedding, Gated = gn_classes

    class Every(gn.Layer):          # each operator and op with the weight on either side, and indexed
        def build(self, input_shape):
            self.a = self.add_weight(shape=(3,), initializer="random_uniform", name="a")
            self.c = self.add_weight(shape=(1, 3), initializer="ones", name="c")
            self.m = self.add_weight(shape=(3, 3), name="m")
            self.t = self.add_weight(shape=(5, 3), name="t")

        def call(self, x):
            y = (self.a - x) * 0.5 + x * self.a - x / self.c + 1.0 / (x * x + self.c + 1.0)
            y = self.c / (ops.abs(y) + 1.0) + ops.minimum(self.a, y) + ops.maximum(y, self.a[1])
            y = y + self.t[2] + ops.matmul(y, self.m) + self.a * y
            return ops.transpose(ops.matmul(self.t[1:4], ops.transpose(y, (0, 2, 1))), (0, 2, 1))

    inputs = gn.Input((2, 3))
    block = Linear(3)
    x = Every()(HandNorm()(block(inputs)))
    x = block(x)            # a block called twice: its weights' gradients are the two calls' sum
    x = PositionEmbedding(4)(x)
    out = layers.Dense(2)(Gated()(layers.Flatten()(x)))
    model = gn.Model(inputs, out, seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2))
    report = check_model(model, x, y)
    assert report["max_error"] < 1e-6 and not report.get("skipped")
    assert all(w.dtype == np.float64 for w in model.get_weights())
    assert len(model.get_weights()) == 2 + 2 + 4 + 1 + 3 + 2 + 2      # Linear once, though called twice


def test_the_check_fails_on_a_wrong_weight_gradient(gn_classes, monkeypatch):
    """The finite differences above see the weights' gradients: halve one, and the check fails."""
    from glassnet._call_weights import CallWeight
    inputs = gn.Input((4,))
    model = gn.Model(inputs, gn_classes[0](2)(inputs), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.random.default_rng(1).standard_normal((6, 4)), np.random.default_rng(2).standard_normal((6, 2))
    assert check_model(model, x, y)["max_error"] < 1e-6
    add = CallWeight.add_gradient
    monkeypatch.setattr(CallWeight, "add_gradient", lambda self, g: add(self, g * 0.5))
    with pytest.raises(GradientCheckError, match="linear/variable"):
        check_model(model, x, y)


# -- weights as a model's: set_weights, save and load, clone, summary ----------------------------------
def test_set_weights_save_load_and_clone_keep_the_weights(gn_classes, tmp_path):
    Linear, HandNorm, _, Gated = gn_classes
    inputs = gn.Input((4,))
    model = gn.Model(inputs, layers.Dense(1)(Gated()(HandNorm()(Linear(3)(inputs)))), seed=0)
    x, y = _data(seed=7)
    rng = np.random.default_rng(7)
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    before = model.predict(x, verbose=0)
    model.set_weights(weights)
    moved = model.predict(x, verbose=0)
    assert not np.allclose(before, moved)            # set_weights moves what the nodes read
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), moved)
    for a, b in zip(loaded.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert loaded.count_params() == model.count_params()
    loaded.compile(loss="mse", optimizer="sgd")
    history = loaded.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"]
    assert history[1] < history[0]
    np.testing.assert_array_equal(loaded.get_weights()[6], weights[6])      # the frozen floor stays
    clone = gn.models.clone_model(model)
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in weights]
    clone.set_weights(weights)
    np.testing.assert_allclose(clone.predict(x, verbose=0), moved, atol=1e-6)
    clone.compile(loss="mse", optimizer="sgd")
    clone.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(clone.get_weights()[0], weights[0])      # the clone trains its own
    np.testing.assert_array_equal(model.get_weights()[0], weights[0])


def test_summary_and_counts_as_keras(keras, gn_classes, capsys):
    KGated = _classes(keras, keras.ops)[3]
    kmodel, gmodel = _functional(keras, KGated()), _functional(gn, gn_classes[3]())
    gmodel.summary()
    text = capsys.readouterr().out
    assert "gated (Gated)" in text
    for line in ("Total params", "Trainable params", "Non-trainable params"):
        counted = next(row for row in text.splitlines() if row.startswith(line)).split(":")[1].split()[0]
        expected = {"Total params": kmodel.count_params(),
                    "Trainable params": sum(int(np.prod(w.shape)) for w in kmodel.trainable_weights),
                    "Non-trainable params": sum(int(np.prod(w.shape)) for w in kmodel.non_trainable_weights)}[line]
        assert int(counted.replace(",", "")) == expected


# -- refusals --------------------------------------------------------------------------------------
def test_what_cannot_take_a_weight_is_refused_by_name():
    class Uses(gn.Layer):
        def __init__(self, use, **kwargs):
            super().__init__(**kwargs)
            self.use = use

        def build(self, input_shape):
            self.w = self.add_weight(shape=(3,), name="w")

        def call(self, x):
            return self.use(self, x)
    cases = [(lambda s, x: ops.einsum("bi,i->b", x, s.w), TypeError, "einsum|never train|makes it an array"),
             (lambda s, x: x + np.asarray(s.w), TypeError, "an array, a constant that never trains"),
             (lambda s, x: x + s.w * s.w, TypeError, "with another weight or an array"),
             (lambda s, x: ops.power(x, s.w), TypeError, "never train"),
             (lambda s, x: x + s.w[np.array([0, 1, 2])], TypeError, "basic indexing"),
             (lambda s, x: x + s.w[5], ValueError, "out of bounds"),
             (lambda s, x: ops.sqrt(s.w) + x, TypeError, "never train"),
             (lambda s, x: ops.exp(s.w) * x, TypeError, "never train"),
             (lambda s, x: ops.take(s.w, x * 0.0), TypeError, "never train"),
             (lambda s, x: ops.where(x > 0.0, s.w, x), TypeError, "never train")]
    for use, error, words in cases:
        with pytest.raises(error, match=words):
            Uses(use)(gn.Input((3,)))


def test_add_weight_arguments_are_checked_by_name():
    def block(**given):
        class B(gn.Layer):
            def build(self, input_shape):
                self.w = self.add_weight(**given)

            def call(self, x):
                return x * self.w
        return B()
    for given, error, words in [({"shape": (None, 3)}, TypeError, "shape must be a tuple of non-negative"),
                                ({"shape": (3,), "aggregation": "sum"}, ValueError, "aggregation='sum'"),
                                ({"shape": (3,), "name": 3}, TypeError, "name must be a string"),
                                ({"shape": (3,), "trainable": "yes"}, TypeError, "trainable must be True or False"),
                                ({"shape": (3,), "initializer": "nope"}, ValueError, "initializer"),
                                ({"shape": (3,), "dtype": "int32"}, ValueError, "dtype must be a float dtype"),
                                ({"shape": (3,), "trainable": False, "regularizer": "l2"}, ValueError,
                                 "regularizer or constraint applies to a trainable weight")]:
        with pytest.raises(error, match=words):
            block(**given)(gn.Input((3,)))

    class Twice(gn.Layer):
        def build(self, input_shape):
            self.w, self.v = self.add_weight(shape=(3,), name="w"), self.add_weight(shape=(3,), name="w")

        def call(self, x):
            return x * self.w
    with pytest.raises(ValueError, match="a weight named 'w' exists already"):
        Twice()(gn.Input((3,)))

    class Late(gn.Layer):
        def call(self, x):
            return x * 2.0
    late = Late()
    late.build((None, 3))
    with pytest.raises(ValueError, match="drawn already"):
        late.add_weight(shape=(3,))
