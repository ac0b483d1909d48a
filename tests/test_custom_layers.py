"""Writing a layer of one's own: the mistakes a user makes get caught where they are made.

gradcheck must fail a wrong backward (one that accumulates, forgets a gradient, or is wrong only
by a little on small gradients), leave the layer as it found it, and work on a model's first layer;
fit and trace must name a layer whose backward returns None; save_model must refuse a layer that
load_model could not rebuild; trace must not print tiny numbers as zeros.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import GradientCheckError, check_layer, check_model
from glassnet.layers import BatchNormalization, Dense, Layer


class UserScale(Layer):
    """y = x * gamma, with gamma per feature: the Layer docstring's example."""

    def build(self, input_shape):
        self.add_weight("gamma", input_shape, "ones")
        super().build(input_shape)

    def forward(self, x, training=False):
        self.x = x
        return x * self.params["gamma"]

    def backward(self, grad_output):
        self.grads["gamma"][...] = (grad_output * self.x).sum(axis=0)
        return grad_output * self.params["gamma"]


class AccumulatingScale(UserScale):
    def backward(self, grad_output):
        self.grads["gamma"] += (grad_output * self.x).sum(axis=0)      # the bug: += onto last step's
        return grad_output * self.params["gamma"]


class ForgetfulScale(UserScale):
    def backward(self, grad_output):
        return grad_output * self.params["gamma"]                      # the bug: no gamma gradient


class SilentScale(UserScale):
    def backward(self, grad_output):
        self.grads["gamma"][...] = (grad_output * self.x).sum(axis=0)  # the bug: no return


class TinyScale(UserScale):
    """y = 1e-8 * x * gamma: every gradient of gamma is around 1e-8."""
    wrong = 1.0           # a test sets it to make the gamma gradient wrong by that factor

    def forward(self, x, training=False):
        self.x = x
        return 1e-8 * x * self.params["gamma"]

    def backward(self, grad_output):
        self.grads["gamma"][...] = 1e-8 * (grad_output * self.x).sum(axis=0) * self.wrong
        return 1e-8 * grad_output * self.params["gamma"]


class UserShift(Layer):
    """y = x + offset: a constructor argument, kept by get_config only in the fixed version."""

    def __init__(self, offset, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def forward(self, x, training=False):
        return x + self.offset

    def backward(self, grad_output):
        return grad_output


class ShiftWithConfig(UserShift):
    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


class Pairs(Layer):
    """(batch, 2k) -> (batch, k): sums neighbouring features, but forgets to override output_shape."""

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1, 2).sum(axis=2)

    def backward(self, grad_output):
        return np.repeat(grad_output, 2, axis=1)


class PairsWithShape(Pairs):
    def output_shape(self, input_shape):
        return (input_shape[0] // 2,)


def x64(shape=(5, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_a_correct_custom_layer_passes():
    report = check_layer(UserScale(dtype="float64", seed=0), x64())
    assert report["max_error"] < 1e-8 and set(report["errors"]) == {"input", "gamma"}


def test_a_backward_that_accumulates_gradients_fails_the_check():
    # the gradient arrays start at zero, so one += pass equals the right answer: only the NaN
    # that check_layer writes into them first shows the bug
    with pytest.raises(GradientCheckError, match=r"gamma.*never wrote this entry, or added to it with \+="):
        check_layer(AccumulatingScale(dtype="float64", seed=0), x64())


def test_a_backward_that_forgets_a_gradient_fails_the_check():
    with pytest.raises(GradientCheckError, match="gamma.*backward never wrote this entry"):
        check_layer(ForgetfulScale(dtype="float64", seed=0), x64())


def test_a_backward_that_returns_none_fails_the_check():
    with pytest.raises(GradientCheckError, match="input: backward returned None"):
        check_layer(SilentScale(dtype="float64", seed=0), x64())


def test_a_small_gradient_that_is_wrong_by_half_fails_the_check():
    # gamma's gradients are ~1e-8: an absolute tolerance of 1e-7 alone would pass them 50 % wrong
    layer = TinyScale(dtype="float64", seed=0)
    assert check_layer(layer, x64())["max_error"] < 1e-12
    layer.wrong = 1.5
    with pytest.raises(GradientCheckError, match="gamma"):
        check_layer(layer, x64())


def test_check_layer_works_on_a_model_s_first_layer_and_leaves_it_skipping_its_input_gradient():
    model = gn.Sequential([Dense(4, activation="tanh", input_dim=3), Dense(1)], seed=0, dtype="float64")
    first = model.layers[0]
    assert first.needs_input_gradient is False
    report = check_layer(first, x64())
    assert report["max_error"] < 1e-7 and "input" in report["errors"]
    assert first.needs_input_gradient is False


def test_check_layer_in_training_mode_leaves_moving_statistics_alone():
    layer = BatchNormalization(dtype="float64", seed=0)
    layer.build((3,))
    before = [w.copy() for w in layer.get_weights()]
    check_layer(layer, x64((6, 3)), training=True)
    for old, new in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_check_model_fails_an_accumulating_layer_inside_a_model():
    model = gn.Sequential([Dense(3, input_dim=3), AccumulatingScale(), Dense(1)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(GradientCheckError, match="added to it with \\+= instead of assigning it"):
        check_model(model, x64(), np.ones((5, 1)))


@pytest.mark.parametrize("run", ["fit", "trace"])
def test_a_backward_returning_none_inside_a_model_is_named(run):
    model = gn.Sequential([Dense(3, input_dim=3), SilentScale(name="silent"), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x, y = x64().astype("float32"), np.ones((5, 1), "float32")
    with pytest.raises(TypeError, match=r"silent\.backward returned None.*shape \(batch, 3\)"):
        model.fit(x, y, epochs=1, verbose=0) if run == "fit" else model.trace(x, y)


def test_save_refuses_a_layer_that_cannot_be_rebuilt_from_its_config(tmp_path):
    model = gn.Sequential([Dense(3, input_dim=2), UserShift(1.5, name="shift")], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    path = tmp_path / "m.npz"
    with pytest.raises(TypeError, match=r"layer 'shift' \(UserShift\) cannot be rebuilt.*offset"):
        model.save(path)
    assert not path.exists()


class NoKwargsScale(Layer):
    """Returns its argument from get_config, but its constructor takes no **kwargs (name...)."""
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x, training=False):
        return x * self.factor

    def backward(self, grad_output):
        return grad_output * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_save_names_a_constructor_without_kwargs(tmp_path):
    # its get_config is right; "return them from get_config" would send the user the wrong way
    model = gn.Sequential([Dense(3, input_dim=2), NoKwargsScale(2.0)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'name'\); its constructor must take "
                                        r"\*\*kwargs and pass them to super\(\)\.__init__\(\*\*kwargs\)"):
        model.save(tmp_path / "m.npz")


def test_a_layer_with_its_config_saves_and_loads(tmp_path):
    model = gn.Sequential([Dense(3, input_dim=2), ShiftWithConfig(1.5, name="shift")], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.save(tmp_path / "m.npz")
    same = gn.load_model(tmp_path / "m.npz")
    x = x64((4, 2)).astype("float32")
    np.testing.assert_array_equal(same.predict(x), model.predict(x))


def test_an_unknown_keyword_argument_of_a_custom_layer_names_it_and_its_arguments():
    # the user's class, with its own arguments, not Layer.__init__ where **kwargs ends up
    with pytest.raises(TypeError, match=r"^UserShift: unexpected keyword argument 'scale'; UserShift "
                                        r"takes offset and, like every layer, name, input_shape"):
        UserShift(offset=1.5, scale=2.0)
    with pytest.raises(TypeError, match=r"^UserScale: unexpected keyword argument 'units'; UserScale "
                                        r"takes the arguments of every layer: name"):
        UserScale(units=3)
    layer = ShiftWithConfig(1.5, name="shift", input_shape=(3,), dtype="float64", seed=1)   # still taken
    assert (layer.name, layer.input_shape, layer.offset) == ("shift", (3,), 1.5)


def test_trace_prints_tiny_values_instead_of_zeros():
    model = gn.Sequential([TinyScale(input_dim=2)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = np.array([[1.0, 2.0]])
    text = str(model.trace(x, np.zeros((1, 2))))
    assert "e-08" in text and "e-16" in text          # A = 1e-8 * x, loss = mean(A**2)
    assert "A       [[0., 0.]]" not in text


def test_a_layer_that_changes_the_shape_without_saying_so_is_named_on_the_first_pass():
    x, y = x64((5, 4)).astype("float32"), np.ones((5, 1), "float32")
    model = gn.Sequential([Pairs(name="pairs", input_dim=4), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"layer pairs \(Pairs\): forward returned samples of shape \(2,\), "
                                         r"but its output_shape\(\) declared \(4,\)"):
        model.fit(x, y, epochs=1, verbose=0)
    fixed = gn.Sequential([PairsWithShape(input_dim=4), Dense(1)], seed=0)
    fixed.compile(loss="mse", optimizer="sgd")
    fixed.fit(x, y, epochs=2, verbose=0)
    assert fixed.predict(x).shape == (5, 1)


def test_a_build_that_forgets_super_build_is_built_once_as_in_keras():
    # built stayed False, so every later model.build made the weights again: training worked,
    # and load_model later blamed the file; it was then refused, and Keras marks the layer built
    # after any build (its guide's builds never call super().build), so glassnet does too
    class Forgetful(Layer):
        def build(self, input_shape):
            self.add_weight("g", input_shape, "random_normal")      # no super().build(input_shape)

        def forward(self, x, training=False):
            return x * self.params["g"]

    model = gn.Sequential([Dense(3, input_dim=2), Forgetful()], seed=0)
    layer = model.layers[1]
    assert layer.built and layer.input_shape == (3,)
    g = layer.get_weights()[0]
    model.build((None, 2))
    np.testing.assert_array_equal(layer.get_weights()[0], g)


def test_a_seeded_random_layer_has_its_generator_without_parameters(rng):
    # a model passes its generator only to layers given no seed, and add_weight made the seeded
    # layer's own lazily: a parameter-free layer that draws in forward found self.rng None
    class Noise(Layer):
        def __init__(self, scale, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def forward(self, x, training=False):
            return x + self.scale * self.rng.standard_normal(x.shape, dtype=x.dtype) if training else x

        def backward(self, grad_output):
            return grad_output

    x = rng.standard_normal((8, 2))
    model = gn.Sequential([Dense(3, input_dim=2), Noise(0.5, seed=5), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    np.testing.assert_array_equal(Noise(1.0, seed=5).forward(np.zeros(3), training=True),
                                  np.random.default_rng(5).standard_normal(3))
    # the same layer drawing float64 noise would up-cast a float32 model: refused on first use
    model = gn.Sequential([Dense(3, input_dim=2), Noise(np.float64(0.5), seed=5), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"layer .* \(Noise\): forward returned float64 values in a float32 model"):
        model.fit(x, x[:, :1], epochs=1, verbose=0)


def test_save_refuses_a_layer_whose_arguments_would_load_as_their_defaults(tmp_path):
    # DefaultShift(3.0) rebuilt from the base config is DefaultShift(1.0): it loaded silently wrong
    class DefaultShift(UserShift):          # UserShift, with a default for its argument
        def __init__(self, offset=1.0, **kwargs):
            super().__init__(offset, **kwargs)

    model = gn.Sequential([Dense(3, input_dim=2), DefaultShift(3.0, name="shift")], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"layer 'shift' \(DefaultShift\) takes the arguments \['offset'\] "
                                        r"but keeps Layer's get_config.*'offset': self.offset"):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_a_layer_holding_another_layer_is_refused():
    # the inner Dense's params are not the block's: a model would neither train nor save them
    class Residual(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Dense(4)

        def forward(self, x, training=False):
            return x + self.inner.forward(x, training)

    with pytest.raises(TypeError, match=r"holds the layer\(s\) \['inner'\] as attributes.*add_weight"):
        gn.Sequential([Dense(4, input_dim=2), Residual()], seed=0)


@pytest.mark.parametrize("container", [list, tuple, lambda layers: {"first": layers[0], "second": layers[1]},
                                       lambda layers: [[layers[0]], {"deeper": (layers[1],)}]])
def test_a_layer_holding_layers_in_a_container_is_refused(container):
    # Keras tracks self.blocks = [Dense(4), Dense(4)]; here their params would silently never train
    class Blocks(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.blocks = container([Dense(4), Dense(4)])
            self.sizes = [4, 4]                         # other lists are the layer's business

        def forward(self, x, training=False):
            return x

    with pytest.raises(TypeError, match=r"holds the layer\(s\) \['blocks'\] as attributes.*glassnet.Model"):
        gn.Sequential([Dense(4, input_dim=2), Blocks()], seed=0)


def test_glassnet_layers_holding_layers_in_lists_still_build():
    model = gn.Sequential([gn.Input((8, 8, 3)), gn.layers.RandAugment(value_range=(0, 1), seed=0),
                           gn.layers.Flatten(), Dense(2)], seed=0)
    assert model.predict(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 2)


class Double(Layer):
    """x -> 2 x, whose backward returns the input gradient in ``grad_dtype`` (float64: a float64
    constant in a user's backward)."""
    grad_dtype = np.float32

    def forward(self, x, training=False):
        return x * np.asarray(2, x.dtype)

    def backward(self, grad_output):
        return (grad_output * 2).astype(self.grad_dtype)


class DoubleIn64(Double):
    grad_dtype = np.float64


class SeenDense(Dense):
    """Dense noting the dtype of the gradients its backward is given."""
    def backward(self, grad_output):
        self.seen = grad_output.dtype
        return super().backward(grad_output)


@pytest.mark.parametrize("functional", [False, True])
def test_a_float64_input_gradient_is_cast_back_to_the_model_dtype(functional, rng):
    """A custom layer's float64 input gradient reaches the layers below in float32 (as PyTorch's
    autograd casts it back), and training is the same as with a float32 backward."""
    X = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)

    def trained(double):
        layers = [SeenDense(4, activation="tanh", name="a"), SeenDense(4, name="b"), double(), Dense(1)]
        if functional:
            x = inp = gn.Input((3,))
            for layer in layers:
                x = layer(x)
            model = gn.Model(inp, x, seed=0)
        else:
            model = gn.Sequential([gn.Input((3,)), *layers], seed=0)
        model.compile(loss="mse", optimizer="adam")
        for _ in range(3):
            model.train_on_batch(X, y)
        assert layers[0].seen == layers[1].seen == np.float32
        return model.get_weights()

    for ours, reference in zip(trained(DoubleIn64), trained(Double)):
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, reference)


# -- a layer called alone on a list of arrays -----------------------------------------------------
@pytest.mark.parametrize("make", [lambda: gn.layers.Dense(2), lambda: gn.layers.Flatten(), lambda: _Doubler()])
def test_a_layer_of_one_input_refuses_a_list_of_arrays(make):
    # (Keras' ReLU, Rescaling, image layers, ..., without an input_spec, stack the list: stacks_lists)
    # np.asarray stacked them into one batch of 2 samples, (2, 4, 3): Dense returned (2, 4, 2),
    # silently. Keras refuses it ("expects 1 input(s), but it received 2 input tensors")
    a, b = np.ones((4, 3), "float32"), np.zeros((4, 3), "float32")
    with pytest.raises(TypeError, match=r"takes one input, got a list of 2 arrays \(shapes \(4, 3\), \(4, 3\)\)"
                                        r".*merges = True"):
        make()([a, b])
    # one batch written as a list of numbers, or of one array, is still one input
    assert make()([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).shape[0] == 2
    assert make()([np.array([1.0, 2.0, 3.0])]).shape[0] == 1


class _Doubler(gn.layers.Layer):
    def forward(self, x, training=False):
        return 2 * x

    def backward(self, grad_output):
        return 2 * grad_output


class _ScaledSum(gn.layers.Layer):
    """x1 + the sum of x2's features: two inputs of different widths, (batch, k) and (batch, m)."""
    merges = True

    def output_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def build(self, input_shape):
        self.seen_shapes = input_shape
        super().build(input_shape)

    def forward(self, inputs, training=False):
        assert isinstance(inputs, list)
        first, second = inputs
        self.second_width = second.shape[1]
        return first + second.sum(axis=1, keepdims=True)

    def backward(self, grad_output):
        return [grad_output, np.repeat(grad_output.sum(axis=1, keepdims=True), self.second_width, axis=1)]


def test_a_merging_layer_of_your_own_called_alone_gets_the_list():
    # before, its forward got np.asarray of the list: one stacked array (unpacking it worked by
    # accident), or a ragged-array error for inputs of different widths
    layer = _ScaledSum()
    out = layer([np.ones((2, 3)), np.full((2, 5), 2.0)])
    np.testing.assert_array_equal(out, np.full((2, 3), 11.0))
    assert out.dtype == np.float32 and layer.built and [tuple(s) for s in layer.seen_shapes] == [(3,), (5,)]
    with pytest.raises(ValueError, match="inputs with different batch sizes"):
        layer([np.ones((2, 3)), np.ones((3, 5))])


def test_keras_2s_list_of_states_for_a_recurrent_layer_points_to_initial_state():
    # Keras 2 took LSTM([x, h, c]); Keras 3 and glassnet take the states by keyword
    x, h = np.ones((2, 5, 3), "float32"), np.ones((2, 4), "float32")
    with pytest.raises(TypeError, match=r"takes one input, got a list of 3 arrays.*initial_state="):
        gn.layers.LSTM(4)([x, h, h])
    with pytest.raises(TypeError, match=r"takes one input") as refused:
        gn.layers.Flatten()([x, x])
    assert "initial_state" not in str(refused.value)
