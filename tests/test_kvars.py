"""Keras' weight attributes of the built-in layers (``dense.kernel``, ``bn.moving_mean``,
``lstm.cell.kernel``: views onto the live arrays), ``glassnet.Variable``, and Keras' build shape
(batch axis first) handed to a built-in ``build`` by a block's own build (keras.io's PixelCNN):
beside Keras 3.15 (through its fixture), and against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L, ops
from glassnet.gradcheck import check_layer
from glassnet.layers._keras_attributes import KERAS_ATTRIBUTES


@pytest.fixture(autouse=True)
def _fresh_names():
    yield
    gn.utils.clear_session()


# class -> (args, kwargs, Keras' build shape): one small layer of each class with a row
SPECS = {
    "Dense": ((3,), {}, (None, 5)), "EinsumDense": (("ab,bc->ac",), {"output_shape": 3, "bias_axes": "c"}, (None, 5)),
    "Conv1D": ((2, 3), {}, (None, 8, 3)), "Conv2D": ((2, 3), {}, (None, 8, 8, 3)), "Conv3D": ((2, 3), {}, (None, 5, 5, 5, 3)),
    "Conv1DTranspose": ((2, 3), {}, (None, 8, 3)), "Conv2DTranspose": ((2, 3), {}, (None, 8, 8, 3)),
    "Conv3DTranspose": ((2, 3), {}, (None, 5, 5, 5, 3)),
    "DepthwiseConv1D": ((3,), {}, (None, 8, 3)), "DepthwiseConv2D": ((3,), {}, (None, 8, 8, 3)),
    "SeparableConv1D": ((2, 3), {}, (None, 8, 3)), "SeparableConv2D": ((2, 3), {}, (None, 8, 8, 3)),
    "ConvLSTM1D": ((2, 3), {}, (None, 4, 8, 3)), "ConvLSTM2D": ((2, 3), {}, (None, 4, 8, 8, 3)),
    "ConvLSTM3D": ((2, 3), {}, (None, 3, 5, 5, 5, 3)),
    "Embedding": ((10, 3), {}, (None, 4)), "ReversibleEmbedding": ((10, 3), {}, (None, 4)),
    "BatchNormalization": ((), {}, (None, 5)), "LayerNormalization": ((), {}, (None, 5)),
    "GroupNormalization": ((), {"groups": 1}, (None, 5)), "RMSNormalization": ((), {}, (None, 5)),
    "Normalization": ((), {}, (None, 5)), "PReLU": ((), {}, (None, 5)),
    "SimpleRNN": ((3,), {}, (None, 4, 5)), "GRU": ((3,), {}, (None, 4, 5)), "LSTM": ((3,), {}, (None, 4, 5)),
    "Attention": ((), {"use_scale": True}, [(None, 4, 5), (None, 4, 5)]),
    "AdditiveAttention": ((), {}, [(None, 4, 5), (None, 4, 5)]),
}
_LISTS = ("weights", "variables", "trainable_weights", "non_trainable_weights", "trainable_variables",
          "non_trainable_variables")


def _keras_attributes(keras, layer):
    """{attribute: variable} of every Variable attribute of a built Keras layer and of its cell."""
    found = {}
    for prefix, obj in [("", layer)] + ([("cell.", layer.cell)] if hasattr(layer, "cell") else []):
        for name in dir(obj):
            if name.startswith("_") or name in _LISTS:
                continue
            try:
                value = getattr(obj, name)
            except Exception:
                continue
            if isinstance(value, keras.Variable):
                found[prefix + name] = value
    return found


def _read(layer, attribute):
    obj = layer
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


# -- the table, generated again from Keras 3.15 ---------------------------------------------------------
def test_the_table_is_keras_and_every_attribute_reads_keras_weight(keras):
    assert set(SPECS) == set(KERAS_ATTRIBUTES)
    rng = np.random.default_rng(0)
    for name, (args, kwargs, shape) in SPECS.items():
        theirs = getattr(keras.layers, name)(*args, **kwargs)
        theirs.build(shape)
        attributes = _keras_attributes(keras, theirs)
        assert {a: v.path.split("/", 1)[1] for a, v in attributes.items()} == KERAS_ATTRIBUTES[name], name
        for v in theirs.weights:        # other values than Keras' initial ones (ones, zeros) to tell them apart
            v.assign(rng.standard_normal(v.shape).astype(v.dtype))
        ours = getattr(L, name)(*args, **kwargs)
        ours.build(shape)               # Keras' shape, batch axis first, from code of yours
        if name != "Normalization":     # (Keras keeps a count glassnet's never has)
            ours.set_weights(theirs.get_weights())
        for attribute, variable in attributes.items():
            if (name, attribute) == ("Normalization", "count"):
                with pytest.raises(AttributeError, match="has no 'count'"):
                    _read(ours, attribute)
                continue
            got = _read(ours, attribute)
            assert isinstance(got, gn.Variable), (name, attribute)
            assert got.shape == tuple(variable.shape) and got.dtype == variable.dtype, (name, attribute)
            assert got.name == variable.name and got.trainable == variable.trainable, (name, attribute)
            assert got.path.split("/", 1)[1] == variable.path.split("/", 1)[1], (name, attribute)
            if name != "Normalization":
                np.testing.assert_array_equal(got.numpy(), variable.numpy(), err_msg=f"{name}.{attribute}")


def test_an_absent_weight_is_none_and_a_frozen_layer_untrainable_as_keras(keras):
    for make in (lambda m: m.layers.Dense(3, use_bias=False), lambda m: m.layers.Conv2D(2, 3, use_bias=False),
                 lambda m: m.layers.BatchNormalization(center=False)):
        theirs, ours = make(keras), make(gn)
        shape = (None, 6, 6, 2) if isinstance(ours, L.Conv2D) else (None, 4)
        theirs.build(shape)
        ours.build(shape)
        attribute = "beta" if isinstance(ours, L.BatchNormalization) else "bias"
        assert getattr(theirs, attribute) is None and getattr(ours, attribute) is None
    theirs, ours = keras.layers.Dense(3), L.Dense(3)
    with pytest.raises(AttributeError, match="You must build the layer before accessing `kernel`"):
        theirs.kernel
    with pytest.raises(AttributeError, match="build the layer before accessing `kernel`"):
        ours.kernel
    assert not hasattr(ours, "kernel")
    theirs.build((None, 4))
    ours.build((None, 4))
    theirs.trainable = ours.trainable = False
    assert ours.kernel.trainable is theirs.kernel.trainable is False


# -- gn.Variable beside keras.Variable --------------------------------------------------------------------
def _as(value):
    return np.asarray(value)


def test_variable_behaves_as_keras_variable(keras):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((3, 3)).astype(np.float32)
    for given in ([1.0, 2.0], [1, 2], np.array([1.0, 2.0]), np.array([1, 2]), np.array([True]), 3.0):
        assert gn.Variable(given).dtype == keras.Variable(given).dtype, given
    ours, theirs = gn.Variable(a, name="w"), keras.Variable(a, name="w")
    assert (ours.name, ours.path, ours.trainable, ours.dtype, ours.shape, ours.ndim) == \
        (theirs.name, theirs.path, theirs.trainable, theirs.dtype, tuple(theirs.shape), theirs.ndim)
    assert repr(ours).split(", value=")[0] == repr(theirs).split(", value=")[0]
    for op in (lambda v: v * 2, lambda v: 2 * v, lambda v: v + 1, lambda v: 1 - v, lambda v: v / 2, lambda v: -v,
               lambda v: v ** 2, lambda v: v @ b, lambda v: a.T @ v, lambda v: v[0], lambda v: v > 0,
               lambda v: abs(v), lambda v: np.asarray(v), lambda v: v.numpy(), lambda v: v.value):
        np.testing.assert_allclose(_as(op(ours)), _as(op(theirs)), rtol=1e-6)
    for step in (lambda v: v.assign(np.full((2, 3), 2.0)), lambda v: v.assign_add(np.ones((2, 3))),
                 lambda v: v.assign_sub(0.5), lambda v: v.assign(v * 3)):
        np.testing.assert_allclose(_as(step(ours)), _as(step(theirs)), rtol=1e-6)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    assert ours.numpy().dtype == np.float32
    with pytest.raises(ValueError, match="shape"):
        theirs.assign(np.ones(3))
    with pytest.raises(ValueError, match=r"assign: the value's shape must be the variable's, \(2, 3\), got \(3,\)"):
        ours.assign(np.ones(3))
    ours.trainable = theirs.trainable = False
    assert ours.trainable is theirs.trainable is False
    for init in ("ones", "zeros"):
        np.testing.assert_array_equal(gn.Variable(init, shape=(2,)).numpy(), keras.Variable(init, shape=(2,)).numpy())
    with pytest.raises(ValueError, match="shape"):
        keras.Variable(keras.initializers.Ones())
    with pytest.raises(ValueError, match="Variable: shape: required"):
        gn.Variable(gn.initializers.get("ones"))
    random = gn.Variable("glorot_uniform", shape=(20, 30))
    assert random.dtype == "float32" and np.abs(random.numpy()).max() <= np.sqrt(6 / 50)


def test_variable_refuses_bad_input_by_name():
    v = gn.Variable(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match=r"assign: the variable's dtype is int32, got a value of dtype float64"):
        v.assign(np.array([1.5, 2.0, 3.0]))     # (Keras truncates silently)
    with pytest.raises(TypeError, match="assign: the variable's dtype is float64, got a value of dtype object"):
        gn.Variable(np.zeros(2)).assign(object())
    with pytest.raises(TypeError, match="assign: the variable's dtype is float64, got a value of dtype (str|<U)"):
        gn.Variable(np.zeros(1)).assign(np.array(["a"]))
    with pytest.raises(ValueError, match=r"Variable: shape: \(3,\) given for a value of shape \(2,\)"):
        gn.Variable(np.ones(2), shape=(3,))
    with pytest.raises(ValueError, match="Variable: shape: expected a tuple of non-negative ints"):
        gn.Variable("ones", shape=(-1,))
    with pytest.raises(TypeError, match="Variable: initializer: expected numbers"):
        gn.Variable(["a", "b"])
    with pytest.raises(TypeError, match="Variable: name: expected a str"):
        gn.Variable(1.0, name=3)
    with pytest.raises(TypeError, match=r"Variable: unexpected keyword argument\(s\) \['colour'\]"):
        gn.Variable(1.0, colour="red")
    v = gn.Variable(np.ones(2, np.float32))
    v.assign(np.array([2, 3]))          # ints into floats cast, as Keras
    assert v.numpy().tolist() == [2.0, 3.0] and v.dtype == "float32"
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        v.value[0] = 5.0                # value is read-only: assign writes


# -- the views: live, in place, optimizer state kept ------------------------------------------------------
def test_views_write_in_place_and_follow_the_model_buffer():
    model = gn.Sequential([gn.Input((4,)), L.Dense(3), L.BatchNormalization(), L.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = x[:, :1]
    model.fit(x, y, epochs=1, verbose=0)
    dense, bn = model.layers[0], model.layers[1]
    before = dense.params["kernel"]
    kernel = dense.kernel
    # Keras' path: the Sequential that built the layer first (tests/test_kvars_sub.py compares them)
    assert np.shares_memory(kernel.value, before) and kernel.path == f"{model.name}/{dense.name}/kernel"
    kernel.assign(np.full((4, 3), 0.25))
    assert dense.params["kernel"] is before and np.all(before == 0.25)
    assert np.all(model.get_weights()[0] == 0.25)          # the model's flat buffer saw it
    copy = kernel.numpy()
    copy[:] = 7.0
    assert np.all(dense.params["kernel"] == 0.25)
    bn.moving_mean.assign_add(np.ones(3))
    assert bn.moving_mean.trainable is False and np.all(bn.state["moving_mean"] == bn.moving_mean.numpy())
    with pytest.raises(TypeError, match="glassnet freezes whole layers"):
        kernel.trainable = False
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.all(dense.kernel.numpy() == 0.25)         # trained on from the value assigned


def test_assign_between_fits_keeps_the_optimizer_state_as_keras(keras):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)
    keras.utils.set_random_seed(0)              # the same initial weights every run
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    ours = gn.Sequential([gn.Input((5,)), L.Dense(4, activation="tanh"), L.Dense(1)])
    ours.set_weights(theirs.get_weights())
    fit = dict(batch_size=8, epochs=1, shuffle=False, verbose=0)
    # glassnet's Adam computing Keras' step (rule="keras"): the default, PyTorch's epsilon placement,
    # drifted past 2e-5 from Keras' for some of the unseeded initial weights (a flaky failure)
    for model, optimizer in ((theirs, keras.optimizers.Adam(0.01)), (ours, gn.optimizers.Adam(0.01, rule="keras"))):
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, **fit)
        first = model.layers[0]
        first.kernel.assign(first.kernel * 0.5)     # Adam's moments carry on through the assignment
        first.bias.assign_sub(0.1)
        model.layers[1].kernel.assign_add(np.ones((4, 1), np.float32) * 0.2)
        model.fit(x, y, **fit)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)
    np.testing.assert_allclose(ours.layers[0].kernel.numpy(), theirs.layers[0].kernel.numpy(), atol=2e-5)


# -- Keras' build shape from a block's build --------------------------------------------------------------
CASES = {   # name -> (make(module), sample shape, integer ids)
    "Conv2D": (lambda m: m.layers.Conv2D(3, 3, padding="same"), (6, 6, 2), False),
    "Dense": (lambda m: m.layers.Dense(4), (5,), False),
    "LSTM": (lambda m: m.layers.LSTM(3), (4, 5), False),
    "BatchNormalization": (lambda m: m.layers.BatchNormalization(), (5,), False),
    "Embedding": (lambda m: m.layers.Embedding(10, 3), (4,), True),
}


def _block(module, make, keras_form):
    class Block(module.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = make(module)

        def build(self, input_shape):
            # keras.io's PixelCNN builds its Conv2D here, with the shape build was given (batch first)
            self.inner.build(input_shape if keras_form else tuple(input_shape[1:]))
            self.first_shape = tuple(self.inner.weights[0].shape)

        def call(self, inputs):
            return self.inner(inputs)
    return Block


def _model(module, block, shape, ids):
    inputs = module.Input(shape, dtype="int32" if ids else "float32")
    b = block()
    return module.Model(inputs, module.layers.Dense(1)(module.layers.Flatten()(b(inputs)))), b


@pytest.mark.parametrize("name", list(CASES))
def test_built_in_build_takes_keras_shape_both_ways(name):
    make, shape, ids = CASES[name]
    for keras_form in (True, False):
        model, block = _model(gn, _block(gn, make, keras_form), shape, ids)
        assert block.inner.input_shape == shape
        direct = make(gn)
        direct.build((None, *shape))            # from a script as from a block
        assert block.first_shape == direct.weights[0].shape
    # glassnet's own callers keep the sample form: a leading None there is a length of any size
    lengths = gn.Sequential([gn.Input((None, 5)), make(gn) if name in ("LSTM", "Dense") else L.Dense(2)])
    assert lengths.layers[0].input_shape == (None, 5)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("keras_form", [True, False])
def test_blocks_building_their_layers_train_as_keras(keras, name, keras_form):
    make, shape, ids = CASES[name]
    rng = np.random.default_rng(3)
    x = rng.integers(0, 10, (24, *shape)) if ids else rng.standard_normal((24, *shape)).astype(np.float32)
    y = rng.standard_normal((24, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    theirs, their_block = _model(keras, _block(keras, make, True), shape, ids)
    ours, our_block = _model(gn, _block(gn, make, keras_form), shape, ids)
    assert our_block.first_shape == their_block.first_shape
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    ours.compile(optimizer=gn.optimizers.SGD(0.05), loss="mse")
    fit = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    expected, got = theirs.fit(x, y, **fit).history["loss"], ours.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=5e-5)
    # the attributes read the trained weights, live in the model's buffer
    attribute = KERAS_ATTRIBUTES[name]
    for key in attribute:
        np.testing.assert_allclose(_read(our_block.inner, key).numpy(), _read(their_block.inner, key).numpy(),
                                   atol=5e-5, err_msg=key)


def test_keras_shapes_built_layers_pass_finite_differences():
    rng = np.random.default_rng(4)
    for layer, x in ((L.Conv2D(2, 3, dtype="float64"), rng.standard_normal((2, 5, 5, 2))),
                     (L.LSTM(3, dtype="float64"), rng.standard_normal((2, 4, 3))),
                     (L.Dense(2, dtype="float64"), rng.standard_normal((3, 4)))):
        layer.build((None, *x.shape[1:]))
        assert layer.input_shape == x.shape[1:]
        assert check_layer(layer, x)["max_error"] < 1e-5


# -- a weight read in a drawn call -------------------------------------------------------------------------
class _Masked(gn.constraints.Constraint):
    """Keeps the masked entries of a kernel at zero after every update (glassnet's PixelCNN port)."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, w):
        return w * self.layer.mask


def _pixel_layer(module, kops, in_call):
    class PixelConvLayer(module.layers.Layer):        # keras.io's PixelCNN, as written there
        def __init__(self, mask_type, **kwargs):
            super().__init__()
            self.mask_type = mask_type
            self.conv = module.layers.Conv2D(**kwargs)

        def build(self, input_shape):
            if not in_call:       # glassnet's port keeps the kernel masked after every update
                self.conv.kernel_constraint = _Masked(self)
            self.conv.build(input_shape)
            kernel_shape = kops.shape(self.conv.kernel)
            self.mask = np.zeros(shape=kernel_shape)
            self.mask[: kernel_shape[0] // 2, ...] = 1.0
            self.mask[kernel_shape[0] // 2, : kernel_shape[1] // 2, ...] = 1.0
            if self.mask_type == "B":
                self.mask[kernel_shape[0] // 2, kernel_shape[1] // 2, ...] = 1.0
            if not in_call:       # and masks it once here, before any call
                self.conv.kernel.assign(self.conv.kernel * self.mask)

        def call(self, inputs):
            if in_call:
                self.conv.kernel.assign(self.conv.kernel * self.mask)
            return self.conv(inputs)
    return PixelConvLayer


def test_a_weight_read_in_a_drawn_call_is_refused_by_name():
    inputs = gn.Input((6, 6, 1))
    with pytest.raises(TypeError, match=r"layer Conv2D.*: \.kernel read while PixelConvLayer\.call is drawn; "
                                        r"glassnet runs call once"):
        _pixel_layer(gn, ops, in_call=True)("A", filters=2, kernel_size=3, padding="same")(inputs)
    v = gn.Variable(np.ones(3))

    class Scaled(gn.layers.Layer):
        def call(self, x):
            return x * np.asarray(v)
    with pytest.raises(TypeError, match=r"variable: read as an array while Scaled\.call is drawn"):
        Scaled()(gn.Input((3,)))


def test_pixelcnn_port_trains_as_keras_pixelcnn(keras):
    # Keras masks the kernel before every call; glassnet masks it in build and after every update
    # (the constraint): the masked kernel, all a call ever uses, is the same at every step
    rng = np.random.default_rng(5)
    x = (rng.random((16, 6, 6, 1)) > 0.5).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    models = []
    for module, kops, in_call in ((keras, keras.ops, True), (gn, ops, False)):
        inputs = module.Input((6, 6, 1))
        pixel = _pixel_layer(module, kops, in_call)("B", filters=2, kernel_size=3, padding="same")
        out = module.layers.Dense(1)(module.layers.Flatten()(pixel(inputs)))
        models.append((module.Model(inputs, out), pixel))
    (theirs, their_pixel), (ours, our_pixel) = models
    ours.set_weights(theirs.get_weights())
    our_pixel.conv.kernel.assign(our_pixel.conv.kernel * our_pixel.mask)
    theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    ours.compile(optimizer=gn.optimizers.Adam(0.01), loss="mse")
    fit = dict(batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"], theirs.fit(x, y, **fit).history["loss"],
                               rtol=1e-4, atol=1e-5)
    mask = our_pixel.mask
    np.testing.assert_allclose(our_pixel.conv.kernel.numpy(), their_pixel.conv.kernel.numpy() * mask, atol=5e-5)
    assert np.all(our_pixel.conv.kernel.numpy()[mask == 0] == 0)
