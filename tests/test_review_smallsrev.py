"""Review of the small Keras gaps (tests/test_smalls43.py): compile in Keras' positional order past
the first two arguments (Keras 3.15's compile(optimizer, loss, loss_weights, metrics,
weighted_metrics)) and with the loss by keyword; InputSpec's dtype checked on the input as the
layer computes it (Keras casts floating inputs to the layer's dtype before its check)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _models(lib, seed=0):
    """A Sequential and a functional model of one Dense layer, as ``lib`` (glassnet or keras) draws them."""
    kwargs = {"seed": seed} if lib is gn else {}
    sequential = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)], **kwargs)
    inputs = lib.Input((3,))
    functional = lib.Model(inputs, lib.layers.Dense(1)(inputs), **kwargs)
    return [sequential, functional]


def _data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)), rng.uniform(0.1, 2, size=12).astype(np.float32)


@pytest.mark.parametrize("args", [(0.5,), (None, ["mae"]), (0.5, ["mae"], ["mse"]), (None, None, ["mae"])], ids=str)
def test_keras_positional_order_past_the_loss_trains_as_keras(args, keras):
    # Keras 3.15's third positional argument is loss_weights, its fourth metrics, its fifth
    # weighted_metrics: glassnet took the third as metrics (0.5 refused), a Sequential's fourth as
    # weighted_metrics (its "mae" weighed by sample_weight, silently) and its fifth as loss_weights
    x, y, w = _data()
    for ours, theirs in zip(_models(gn), _models(keras)):
        theirs.set_weights(ours.get_weights())
        ours.compile(gn.optimizers.SGD(0.05), "mse", *args)
        theirs.compile(keras.optimizers.SGD(0.05), "mse", *args)
        got = ours.fit(x, y, sample_weight=w, epochs=2, batch_size=4, shuffle=False, verbose=0).history
        expected = theirs.fit(x, y, sample_weight=w, epochs=2, batch_size=4, shuffle=False, verbose=0).history
        assert sorted(got) == sorted(expected), (type(ours).__name__, args)
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, err_msg=f"{key} {args}")


@pytest.mark.parametrize("optimizer", ["sgd", "object"])
def test_keras_optimizer_by_position_and_loss_by_keyword_trains_as_keras(optimizer, keras):
    # Keras' compile(Adam(1e-3), loss="mse") (keras.io's miniature GPT: the optimizer by position,
    # the loss by keyword) was refused with a TypeError, though compile("adam", "mse") was taken
    x, y, w = _data()
    for ours, theirs in zip(_models(gn), _models(keras)):
        theirs.set_weights(ours.get_weights())
        ours.compile(gn.optimizers.SGD(0.05) if optimizer == "object" else "sgd", loss="mse", metrics=["mae"])
        theirs.compile(keras.optimizers.SGD(0.05) if optimizer == "object" else "sgd", loss="mse", metrics=["mae"])
        got = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
        expected = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
        for key in ("loss", "mae"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)


def test_keras_order_refusals_say_why(keras):
    # compile("adam", "mse", ["mae"]): Keras 3.15 takes ["mae"] as loss_weights and fails in fit
    # ("dtype='string' is not a valid dtype"); glassnet refuses it at compile, naming the place
    x, y, _ = _data()
    theirs = _models(keras)[0]
    theirs.compile("adam", "mse", ["mae"])
    with pytest.raises(Exception):
        theirs.fit(x, y, epochs=1, verbose=0)
    for model in _models(gn):
        with pytest.raises(TypeError, match=r"compile: in Keras' order, compile\(optimizer, loss, loss_weights, "
                                            r"metrics, weighted_metrics\), the third argument is loss_weights, got "
                                            r"\['mae'\]; give metrics by keyword, metrics=\['mae'\]"):
            model.compile("adam", "mse", ["mae"])
        with pytest.raises(TypeError, match="multiple values for argument 'loss_weights'"):
            model.compile("adam", "mse", 0.5, loss_weights=0.5)
        assert getattr(model, "optimizer", None) is None            # nothing taken up
        # glassnet's own order keeps its places: the third is metrics there
        model.compile("mse", "adam", ["mae"])
        assert [name for name, _ in model._compiled_metrics] == ["mae"]
        # two optimizers stay refused by name, the loss by keyword too
        with pytest.raises(ValueError, match="compile: loss: expected a loss, got 'adam', an optimizer"):
            model.compile("adam", "sgd")
        with pytest.raises(TypeError, match="compile: got loss= and a positional argument, 'adam'"):
            model.compile("adam", loss="sgd")
        with pytest.raises(TypeError, match="compile: got loss= and a positional argument, 'mae'"):
            model.compile("mae", loss="mse")


# ------------------------------------------------------------------ InputSpec's dtype
def _spec_layer(lib, dtype):
    class Same(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = lib.layers.InputSpec(dtype=dtype)

        def forward(self, x, training=False):
            return x

        def backward(self, grad_output):
            return grad_output

        def output_shape(self, input_shape):
            return input_shape

        def call(self, x):
            return x

    return Same()


def _outcome(run):
    try:
        run()
    except ValueError as exc:
        assert "is incompatible with the layer: expected dtype=" in str(exc), exc
        return str(exc).split("expected ")[-1]
    return "ok"


@pytest.mark.parametrize("spec", ["float32", "float64", "int64"])
def test_input_spec_dtype_is_checked_after_keras_cast(spec, keras):
    # Keras casts floating inputs to the layer's dtype (float32) before it checks the spec: float64
    # arrays and Inputs meet InputSpec(dtype="float32"), nothing meets "float64"; glassnet checked
    # the input as given (float64 data refused by a float32 spec; a float64 spec drew and then
    # failed at every pass)
    for given in ("float32", "float64", "int64"):
        x = np.ones((2, 3), given)
        ours, theirs = (_outcome(lambda: _spec_layer(lib, spec)(x)) for lib in (gn, keras))
        assert ours == theirs, ("eager", spec, given, ours, theirs)
        if given == "int64":
            continue
        for lib in (gn, keras):
            def draw():
                inputs = lib.Input((3,), dtype=given)
                lib.Model(inputs, _spec_layer(lib, spec)(inputs)).predict(x, verbose=0)
            if lib is gn:
                ours = _outcome(draw)
            else:
                theirs = _outcome(draw)
        assert ours == theirs, ("model", spec, given, ours, theirs)


def test_input_spec_dtype_of_a_float64_model_drawn_first():
    # glassnet's float64 functional model: drawn, then Model(..., dtype="float64") sets its layers'
    # dtype; a float64 spec is met at every pass (the drawing cannot tell the dtype yet)
    inputs = gn.Input((3,), dtype="float64")
    model = gn.Model(inputs, L.Dense(2)(_spec_layer(gn, "float64")(inputs)), dtype="float64")
    assert model.predict(np.ones((2, 3)), verbose=0).dtype == np.float64
    model = gn.Sequential([gn.Input((3,)), _spec_layer(gn, "float64"), L.Dense(2)], dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)
    assert model(np.ones((2, 3))).dtype == np.float64
    with pytest.raises(ValueError, match="expected dtype=float64, found dtype=float32"):
        gn.Sequential([gn.Input((3,)), _spec_layer(gn, "float64"), L.Dense(2)]).predict(np.ones((2, 3)), verbose=0)
