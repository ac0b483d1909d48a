"""Review of Keras-style model subclassing (graph.Model._draw, _symbolic_call, _attribute_layers):
Keras idioms that crashed or failed unclearly."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


class WithConfig(gn.Model):
    """Keras' idiom for a subclass that serialises: get_config returns the constructor's arguments."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = L.Dense(units)

    def call(self, inputs):
        return self.dense(inputs)

    def get_config(self):
        return {"units": self.units, "seed": self.seed}


def test_from_config_of_a_subclass_own_config_makes_the_subclass_as_keras(rng):
    model = WithConfig(units=3, seed=0)
    model.build((None, 5))
    again = WithConfig.from_config(model.get_config())      # Keras: cls(**config); was KeyError 'layers'
    assert type(again) is WithConfig and again.units == 3 and not again.built
    assert again.predict(rng.standard_normal((2, 5))).shape == (2, 3)
    # a config the constructor does not take is refused naming the class and the config
    with pytest.raises(TypeError, match="WithConfig.from_config: .*constructor.*'nope'"):
        WithConfig.from_config({"nope": 1})
    # a graph's config names the subclass with get_config's arguments (glassnet._subclass_files): the
    # subclass again; without that entry (a config of an older glassnet), the functional Model of the graph
    graph = gn.Model._config(model, with_compile=True)
    assert graph["subclass"]["config"] == {"units": 3, "seed": 0}
    assert type(WithConfig.from_config(graph)) is WithConfig
    graph.pop("subclass")
    assert type(WithConfig.from_config(graph)) is gn.Model


def test_a_dask_sweep_of_a_subclass_with_its_own_get_config_rebuilds_it(rng):
    pytest.importorskip("dask", reason="dask not installed")
    from glassnet.dask import best_model, sweep
    x, y = rng.standard_normal((16, 5)), rng.standard_normal((16, 2))

    def build(units=2):
        built = WithConfig(units=units, seed=0)
        built.compile(loss="mse", optimizer="sgd")
        return built

    results = sweep(build, {"units": [2]}, x, y, scheduler="synchronous", fit_kwargs={"epochs": 1, "verbose": 0})
    np.testing.assert_allclose(best_model(results).predict(x), best_model(results, build).predict(x), rtol=1e-6)


def test_a_subclass_making_its_layers_in_build_is_drawn_as_keras_builds_it(rng):
    x = rng.standard_normal((6, 5))

    class OwnBuild(gn.Model):                   # Keras: build makes the layers, without super().build
        def build(self, input_shape):
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    class OwnBuildFlag(OwnBuild):
        def build(self, input_shape):
            super().build(input_shape)
            self.built = True                   # as Keras' custom builds often end

    class Reference(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    expected = Reference(seed=0).predict(x)
    for kind in (OwnBuild, OwnBuildFlag):
        # was: UnboundLocalError / "'NoneType' object is not iterable" (an empty graph ran)
        np.testing.assert_array_equal(kind(seed=0).predict(x), expected)
        model = kind(seed=0)
        model.compile(loss="mse", optimizer="sgd")
        model.fit(x, rng.standard_normal((6, 2)), verbose=0)
        assert [type(layer).__name__ for layer in model.layers] == ["Dense"]


def test_a_call_returning_none_is_refused_naming_call():
    class Forgets(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            self.dense(inputs)          # no return

    with pytest.raises(TypeError, match="Forgets.call: .*got NoneType"):
        Forgets().build((None, 4))


def test_a_failed_draw_leaves_no_trace_on_layers_held_in_a_dict(rng):
    class Flaky(gn.Model):
        def __init__(self):
            super().__init__()
            self.blocks, self.fail = {"a": L.Dense(2)}, True        # Keras tracks dicts of layers too

        def call(self, inputs):
            h = self.blocks["a"](inputs)
            if self.fail:
                raise RuntimeError("not yet")
            return h

    model = Flaky()
    with pytest.raises(RuntimeError):
        model.build((None, 4))
    model.fail = False
    model.build((None, 4))
    assert model.blocks["a"].input is model.input       # was the failed draw's Input
    assert gn.Model(model.input, model.blocks["a"].output).predict(rng.standard_normal((2, 4))).shape == (2, 2)


@pytest.mark.parametrize("function", [np.tanh, np.exp])
def test_numpy_functions_on_tensors_in_call_are_refused_with_the_way_out(function):
    class OnInput(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs):
            return self.dense(function(inputs))

    class OnTensor(OnInput):
        def call(self, inputs):
            return function(self.dense(inputs))

    for kind in (OnInput, OnTensor):
        # was NumPy's "operand 'InputLayer' does not support ufuncs (__array_ufunc__=None)"
        with pytest.raises(TypeError, match="holds no values.*Layer of your own"):
            kind().build((None, 4))
    with pytest.raises(TypeError, match="holds no values"):
        np.sin(gn.Input((3,)))                  # NumPy's functions still refuse by name
    # array @ x is ops.matmul's node (tests/test_ops_more.py), whose constant must be a matrix
    with pytest.raises(ValueError, match="matmul's constant must be a matrix"):
        np.ones(3) @ gn.Input((3,))
    assert (np.ones(3) + gn.Input((3,))).layer.op == "add"      # + is a TensorOp (test_tensor_ops.py)


def test_compute_output_shape_of_several_inputs_a_batch_size_and_an_undrawn_subclass():
    a, b = gn.Input((5,)), gn.Input((4,))
    two = gn.Model([a, b], L.Add()([L.Dense(3)(a), L.Dense(3)(b)]))
    assert two.compute_output_shape([(8, 5), (8, 4)]) == (8, 3)         # Keras 3.15's; was refused
    assert two.compute_output_shape([(None, 5), (None, 4)]) == (None, 3)
    inputs = gn.Input((5,))
    heads = gn.Model(inputs, [L.Dense(3)(inputs), L.Dense(2)(inputs)])
    assert heads.compute_output_shape((7, 5)) == [(7, 3), (7, 2)]         # Keras 3.15's; was refused

    class Undrawn(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(3)

        def call(self, inputs):
            return self.dense(inputs)

    model = Undrawn()
    assert model.compute_output_shape((7, 5)) == (7, 3)         # was "the model has no layers"
    assert model.input_shape == (None, 5)                      # drawn for samples of 5, not (7, 5)
    with pytest.raises(ValueError, match="compute_output_shape: expected a shape with the batch axis first"):
        Undrawn().compute_output_shape((5,))
