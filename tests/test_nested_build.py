"""A model nested in another before it was built is built on its layers once the outer model
builds them (glassnet._nested_build), as Keras 3.15 builds it: a Sequential called on a symbolic
tensor in a functional Model, held by a subclass and called in its ``call``, or nested in a
Sequential. Its get_weights, set_weights, summary, count_params and predict then work, on the
very weights the outer model trains, and nothing the outer model drew or saves changes."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def encoder(lib):
    return lib.Sequential([lib.layers.Dense(8, activation="relu"), lib.layers.Dense(2)])


def data(n=12):
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32)


def fit_sgd(model, x, y, lib, epochs=3):
    """Plain SGD, full batches, no shuffling: the same steps in glassnet and in Keras."""
    optimizer = lib.optimizers.SGD(learning_rate=0.1)
    model.compile(loss="mse", optimizer=optimizer)
    model.fit(x, y, epochs=epochs, batch_size=len(x), shuffle=False, verbose=0)


def assert_weights_equal(mine, theirs, rtol=1e-5, atol=1e-6):
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_a_sequential_called_in_a_functional_model_is_built_as_keras_builds_it(keras):
    x, y = data()
    enc = encoder(gn)
    inputs = gn.Input((4,))
    model = gn.Model(inputs, L.Dense(1)(enc(inputs)), seed=0)
    # built with the outer model, for the shape it was called on (it was "not built yet" before)
    assert enc.built and enc.input_shape == (None, 4) and enc.output_shape == (None, 2)
    assert [w.shape for w in enc.get_weights()] == [(4, 8), (8,), (8, 2), (2,)]
    assert enc.count_params() == 4 * 8 + 8 + 8 * 2 + 2 == model.count_params() - 3
    k_enc = encoder(keras)
    k_inputs = keras.Input((4,))
    theirs = keras.Model(k_inputs, keras.layers.Dense(1)(k_enc(k_inputs)))
    assert k_enc.built                              # Keras: built by the call
    theirs.set_weights(model.get_weights())         # (the nested model's weights first in both)
    assert_weights_equal(enc.get_weights(), k_enc.get_weights(), rtol=0, atol=0)
    np.testing.assert_allclose(enc.predict(x, verbose=0), k_enc.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # the outer model trains the nested one's weights, in both libraries alike
    fit_sgd(model, x, y, gn)
    fit_sgd(theirs, x, y, keras)
    assert_weights_equal(enc.get_weights(), k_enc.get_weights())
    np.testing.assert_allclose(enc.predict(x, verbose=0), k_enc.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # and the nested model's set_weights reaches the outer model (the same arrays)
    new = [w * 0.5 + 0.1 for w in enc.get_weights()]
    enc.set_weights(new)
    k_enc.set_weights(new)
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert enc.summary(print_fn=lambda *_: None) is None


def test_a_sequential_held_by_a_subclass_is_built_with_it_as_keras_builds_it(keras):
    x, _ = data()
    y = np.tanh(x)

    def block_class(lib):
        class Block(lib.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.ffn = lib.Sequential([lib.layers.Dense(6, activation="relu"), lib.layers.Dense(4)])
                self.norm = lib.layers.LayerNormalization()

            def call(self, inputs):
                return self.norm(lib.layers.Add()([inputs, self.ffn(inputs)]))
        return Block

    mine, theirs = block_class(gn)(seed=0), block_class(keras)()
    mine.predict(x, verbose=0)
    theirs.predict(x, verbose=0)
    assert mine.ffn.built and mine.ffn.input_shape == (None, 4) and mine.ffn.count_params() == theirs.ffn.count_params()
    theirs.ffn.set_weights(mine.ffn.get_weights())
    theirs.norm.set_weights(mine.norm.get_weights())
    np.testing.assert_allclose(mine.ffn.predict(x, verbose=0), theirs.ffn.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    fit_sgd(mine, x, y, gn)
    fit_sgd(theirs, x, y, keras)
    assert_weights_equal(mine.ffn.get_weights(), theirs.ffn.get_weights())
    np.testing.assert_allclose(mine.ffn.predict(x, verbose=0), theirs.ffn.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_a_sequential_nested_in_a_sequential_is_built_when_the_outer_one_is(keras):
    x, _ = data()
    y = x.copy()
    enc, dec = encoder(gn), gn.Sequential([L.Dense(4)])
    model = gn.Sequential([enc, dec], seed=0)       # no input shape: built by its first fit
    assert not enc.built and not dec.built
    k_enc, k_dec = encoder(keras), keras.Sequential([keras.layers.Dense(4)])
    theirs = keras.Sequential([keras.Input((4,)), k_enc, k_dec])
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(learning_rate=0.1))
    model.build((4,))
    assert enc.built and dec.built and enc.input_shape == (None, 4) and dec.input_shape == (None, 2)
    theirs.set_weights(model.get_weights())
    fit_sgd(model, x, y, gn)
    fit_sgd(theirs, x, y, keras)
    assert_weights_equal(enc.get_weights(), k_enc.get_weights())
    assert_weights_equal(dec.get_weights(), k_dec.get_weights())
    np.testing.assert_allclose(dec.predict(enc.predict(x, verbose=0), verbose=0),
                               k_dec.predict(k_enc.predict(x, verbose=0), verbose=0), rtol=1e-5, atol=1e-6)


def test_the_outer_model_keeps_its_arrays_and_both_train_the_same_weights():
    x, y = data()
    enc = encoder(gn)
    inputs = gn.Input((4,))
    model = gn.Model(inputs, L.Dense(1)(enc(inputs)), seed=0)
    # the outer model computes with its own flat buffer's arrays, as before the nested one was built
    assert all(layer.params[key] is param for layer, key, param, _ in model._views)
    assert all(a is b for a, b in zip(enc.layers, model.layers[:2]))
    # and its layers' marks as its build left them: a nested model's first layer after a layer
    # that learns passes a gradient on (the nested model's own build marks it as passing none)
    first = gn.Sequential([L.Dense(2)])
    inputs = gn.Input((4,))
    gn.Model(inputs, first(L.Dense(3)(inputs)), seed=0)
    assert first.built and first.layers[0].needs_input_gradient
    # the nested model trained alone changes what the outer one predicts, and the other way round
    before = model.predict(x, verbose=0)
    enc.compile(loss="mse", optimizer="sgd")
    enc.fit(x, np.ones((len(x), 2), np.float32), epochs=2, verbose=0)
    assert not np.allclose(before, model.predict(x, verbose=0))
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], enc.get_weights()[0])
    before = enc.get_weights()
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.allclose(before[0], enc.get_weights()[0])
    np.testing.assert_array_equal(model.get_weights()[0], enc.get_weights()[0])


def test_nesting_draws_and_saves_what_the_same_layers_unnested_draw(tmp_path):
    """The nested model is built on the layers the outer model built with its seed: the weights,
    the config and the file are those of the same network drawn without it (as they were before
    nested models were built)."""
    enc = encoder(gn)
    inputs = gn.Input((4,))
    nested = gn.Model(inputs, L.Dense(1)(enc(inputs)), seed=3, name="net")
    inputs = gn.Input((4,))
    hidden = L.Dense(8, activation="relu")(inputs)       # made in the graph's order: named as enc's are
    hidden = L.Dense(2)(hidden)
    flat = gn.Model(inputs, L.Dense(1)(hidden), seed=3, name="net")
    assert enc.built
    assert_weights_equal(nested.get_weights(), flat.get_weights(), rtol=0, atol=0)
    # the same config, but for the nested model's record beside its layers (glassnet._nested_configs)
    assert _unnested(nested.to_json()) == flat.to_json()
    inner, outer = encoder(gn), gn.Sequential([L.Dense(4)])
    nested_seq = gn.Sequential([gn.Input((4,)), inner, outer], seed=5, name="seq")
    flat_seq = gn.Sequential([gn.Input((4,)), L.Dense(8, activation="relu"), L.Dense(2), L.Dense(4)], seed=5, name="seq")
    assert inner.built and outer.built
    assert_weights_equal(nested_seq.get_weights(), flat_seq.get_weights(), rtol=0, atol=0)
    assert _unnested(nested_seq.to_json()) == flat_seq.to_json()
    nested_seq.save(tmp_path / "nested.npz")
    flat_seq.save(tmp_path / "flat.npz")
    with np.load(tmp_path / "nested.npz") as a, np.load(tmp_path / "flat.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            if key != "config":     # (the config: its "nested" record aside, checked above)
                np.testing.assert_array_equal(a[key], b[key])


def _unnested(text):
    """A model's JSON without its "nested" record of the models nested in it."""
    import json
    spec = json.loads(text)
    assert "nested" in spec["config"]
    del spec["config"]["nested"]
    return json.dumps(spec)


def test_models_nested_in_nested_models_and_open_lengths_are_built_on_their_layers(rng):
    innermost = gn.Sequential([L.Dense(3, activation="tanh")], seed=2)
    middle = gn.Sequential([L.Dense(5), innermost])           # neither built: no input shape
    inputs = gn.Input((4,))
    model = gn.Model(inputs, L.Dense(2)(middle(inputs)), seed=13)
    assert middle.built and innermost.built and middle.input_shape == (None, 4) and innermost.input_shape == (None, 5)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(innermost.predict(middle.layers[0].forward(x)), middle.predict(x), rtol=1e-6)
    assert middle.count_params() == 4 * 5 + 5 + 5 * 3 + 3 and model.layers[1] is innermost.layers[0]
    recurrent = gn.Sequential([L.LSTM(4)])
    sequences = gn.Input((None, 8))
    gn.Model(sequences, recurrent(sequences), seed=3)
    assert recurrent.built and recurrent.input_shape == (None, None, 8)
    assert recurrent.predict(rng.random((2, 5, 8)).astype(np.float32)).shape == (2, 4)


def test_a_nesting_refused_leaves_no_model_waiting():
    from glassnet import _nested_build
    enc = encoder(gn)
    enc_seq = gn.Sequential([gn.Input((4,)), enc])          # enc nested and built here: not waiting
    assert enc.built and enc_seq.built and not _nested_build._waiting(enc)
    unbuilt = gn.Sequential([L.Dense(3)], dtype="float64")
    with pytest.raises(ValueError, match="has dtype float64, the model float32"):
        gn.Sequential([gn.Input((4,)), unbuilt])
    assert not _nested_build._waiting(unbuilt) and not unbuilt.built


def test_models_without_a_hash_are_built_and_a_model_dropped_leaves_nothing_waiting():
    import gc
    from glassnet import _nested_build

    class EqualByName(gn.Sequential):          # defines __eq__, so it has no hash
        def __eq__(self, other):
            return isinstance(other, gn.Sequential) and other.name == self.name

    inputs = gn.Input((3,))
    enc = EqualByName([L.Dense(2)])
    gn.Model(inputs, enc(inputs), seed=0)
    assert enc.built and enc.input_shape == (None, 3)
    dropped = EqualByName([L.Dense(2)])
    dropped(inputs)                 # called in a draw never made a model: it waits, for nothing
    key = id(dropped)
    assert _nested_build._waiting(dropped)
    del dropped
    gc.collect()
    assert key not in _nested_build._WAITING
