"""``Lambda`` called on a list of inputs (Keras' ``Lambda(lambda xs: xs[0] * xs[1])([a, b])``):
values and inferred shapes against Keras 3.15, training where nothing below it learns (against a
Keras twin), the refusals kept (a gradient to pass back, model files), and the ways of calling."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def _twins(keras, make_body, shapes, units=2, dtype="float32"):
    """The same functional model in glassnet and Keras: Inputs of ``shapes``, ``make_body(lib,
    inputs)`` for each library's layers, then a Dense of ``units`` with glassnet's weights."""
    ours_in, their_in = [L.Input(s) for s in shapes], [keras.Input(s) for s in shapes]
    ours = gn.Model(ours_in, L.Dense(units, seed=0)(make_body(gn, ours_in)), dtype=dtype)
    theirs = keras.Model(their_in, keras.layers.Dense(units)(make_body(keras, their_in)))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def test_values_against_keras(keras, rng):
    def body(lib, xs):
        product = lib.layers.Lambda(lambda t: t[0] * t[1])(xs[:2])
        # three inputs, with arguments=: the function's keywords, as Keras passes them
        mixed = lib.layers.Lambda(lambda t, scale: (t[0] + t[1]) * scale - t[2], arguments={"scale": 0.5})(xs)
        return lib.layers.Concatenate()([product, mixed])

    ours, theirs = _twins(keras, body, [(3,), (3,), (3,)])
    x = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(3)]
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    # on arrays, outside a model: the function gets the list, as Keras' does
    theirs_eager = keras.layers.Lambda(lambda t: t[0] - 2 * t[1])([x[0], x[1]])
    ours_eager = L.Lambda(lambda t: t[0] - 2 * t[1])([x[0], x[1]])
    assert ours_eager.dtype == np.float32
    np.testing.assert_allclose(ours_eager, keras.ops.convert_to_numpy(theirs_eager), rtol=1e-6)


@pytest.mark.parametrize("case", ["concatenate open axis", "reduce and broadcast", "given tuple", "given callable"])
def test_inferred_output_shapes_against_keras(keras, case):
    shapes = {"concatenate open axis": [(None, 4), (None, 4)], "reduce and broadcast": [(5, 3), (5, 1)],
              "given tuple": [(3,), (3,)], "given callable": [(3,), (2,)]}[case]
    seen = []

    def whole_shape(given):
        seen.append(given)
        return (given[0][0], given[0][1] + given[1][1])

    def make(lib):
        ops = np if lib is gn else keras.ops
        return {"concatenate open axis": lib.layers.Lambda(lambda t: ops.concatenate(t, axis=1)),
                "reduce and broadcast": lib.layers.Lambda(lambda t: ops.sum(t[0] * t[1], axis=1)),
                "given tuple": lib.layers.Lambda(lambda t: t[0] + t[1], output_shape=(3,)),
                "given callable": lib.layers.Lambda(lambda t: ops.concatenate(t, axis=-1),
                                                    output_shape=whole_shape)}[case]

    ours_in, their_in = [L.Input(s) for s in shapes], [keras.Input(s) for s in shapes]
    ours, theirs = make(gn)(ours_in), make(keras)(their_in)
    assert ours.shape == tuple(theirs.shape)
    if case == "given callable":        # Keras' form: the list of the inputs' whole shapes
        assert seen[0] == [(None, 3), (None, 2)]
    # and the values predict gives, Keras' (sequences of length 3 on the open axis)
    data = [np.random.default_rng(k).standard_normal((2, *(3 if d is None else d for d in s))).astype(np.float32)
            for k, s in enumerate(shapes)]
    np.testing.assert_allclose(gn.Model(ours_in, ours).predict(data),
                               keras.Model(their_in, theirs).predict(data, verbose=0), rtol=1e-6, atol=1e-6)


def test_open_axes_take_the_same_length_in_every_input():
    a, b = L.Input((None, 2)), L.Input((None, 2))
    # an element-wise product needs both sequences of one length: the probe gives them one
    assert L.Lambda(lambda t: t[0] * t[1])([a, b]).shape == (None, None, 2)


def test_trains_on_the_inputs_as_keras(keras, rng):
    def body(lib, xs):
        return lib.layers.Lambda(lambda t: t[0] * t[1] + t[0])(xs)

    ours, theirs = _twins(keras, body, [(4,), (4,)], units=1)
    x = [rng.standard_normal((32, 4)).astype(np.float32) for _ in range(2)]
    y = rng.standard_normal((32, 1)).astype(np.float32)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.05))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.05))
    mine = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    assert mine[-1] < mine[0]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_gradient_through_it_is_refused_before_any_weight_changes(rng):
    a, b = L.Input((3,)), L.Input((3,))
    below = L.Dense(3, seed=0, name="below")
    joined = L.Lambda(lambda t: t[0] * t[1])([below(a), b])
    model = gn.Model([a, b], L.Dense(1, seed=1)(joined))
    model.compile(loss="mse", optimizer="sgd")
    x = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(2)]
    y = np.ones((4, 1), np.float32)
    before = model.get_weights()
    assert model.predict(x).shape == (4, 1)          # inference is fine
    with pytest.raises(NotImplementedError, match="cannot pass a gradient back"):
        model.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(w, v) for w, v in zip(before, model.get_weights()))
    # with the layer below frozen, nothing below the Lambda learns: it trains
    below.trainable = False
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("below").get_weights()[0], before[0])


def test_model_files_refuse_it(tmp_path):
    a, b = L.Input((3,)), L.Input((3,))
    model = gn.Model([a, b], L.Dense(1, seed=0)(L.Lambda(lambda t: t[0] + t[1])([a, b])))
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="holds a Python function"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    model.save_weights(tmp_path / "w.npz")          # the weights alone (a weights-only file)
    with pytest.raises(gn.ModelFileError, match="holds weights only"):
        gn.load_model(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="to_json: layer lambda"):
        model.to_json()


def test_nested_model_float64_and_training_argument(rng):
    a, b = L.Input((3,)), L.Input((3,))
    noisy = L.Lambda(lambda t, training=None: t[0] - t[1] + (100.0 if training else 0.0))
    inner = gn.Model([a, b], noisy([a, b]), dtype="float64")
    x = [rng.standard_normal((2, 3)) for _ in range(2)]
    np.testing.assert_allclose(inner.predict(x), x[0] - x[1], rtol=1e-12)
    assert inner.predict(x).dtype == np.float64 and inner.output.dtype == "float64"
    np.testing.assert_allclose(np.asarray(inner(x, training=True)), x[0] - x[1] + 100.0, rtol=1e-12)
    # called as a layer of another model: its calls drawn again, the list included
    c, d = L.Input((3,)), L.Input((3,))
    outer = gn.Model([c, d], inner([c, d]), dtype="float64")
    np.testing.assert_allclose(outer.predict(x), x[0] - x[1], rtol=1e-12)


def test_ways_of_calling_are_kept_and_refused_by_name():
    a, b = L.Input((3,)), L.Input((3,))
    with pytest.raises(ValueError, match="a list needs two or more"):
        L.Lambda(lambda t: t[0])([a])
    single = L.Lambda(lambda t: t * 2)
    single(a)
    with pytest.raises(TypeError, match="first called on one input, now on a list of 2"):
        single([a, b])
    listed = L.Lambda(lambda t: t[0] + t[1])
    listed([a, b])
    with pytest.raises(TypeError, match="first called on a list of inputs, now on one"):
        listed(a)
    # a Lambda built in a Sequential takes one input
    seq = gn.Sequential([L.Input((3,)), L.Lambda(lambda t: t + 1)])
    with pytest.raises(TypeError, match="first called on one input"):
        seq.layers[0]([np.ones((1, 3)), np.ones((1, 3))])
    # shapes of the inputs fixed once built, as for any layer
    eager = L.Lambda(lambda t: t[0] + t[1])
    eager([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"expected input samples of shapes \[\(3,\), \(3,\)\]"):
        eager([np.ones((2, 4)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="different batch sizes"):
        L.Lambda(lambda t: t[0])([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="one row per sample"):
        L.Lambda(lambda t: t[0].sum())([np.ones((2, 3)), np.ones((2, 3))])
