"""A model's ``input_shape`` / ``output_shape`` against Keras 3.15's: the batch axis first, a list of
shapes for several inputs or outputs (a dict's in sorted-key order), AttributeError before the
model is built. Each case builds the same model in both libraries and compares the attributes."""
import contextlib

import numpy as np
import pytest

import glassnet as gn


def _shapes(model):
    """(input_shape, output_shape) with Keras' lists and tuples as plain tuples in a list."""
    def plain(shape):
        return [tuple(s) for s in shape] if isinstance(shape, list) else tuple(shape)
    return plain(model.input_shape), plain(model.output_shape)


def _both(build, keras):
    """``build(lib)`` for glassnet and for Keras: the two models."""
    return build(gn), build(keras)


@pytest.mark.parametrize("way", ["input", "input_shape", "build", "build_list"])
def test_a_sequential_s_shapes_are_keras_whichever_way_it_was_built(way, keras):
    def build(lib):
        if way == "input":
            return lib.Sequential([lib.Input((5, 3)), lib.layers.Dense(2)])
        if way == "input_shape":
            return lib.Sequential([lib.layers.Dense(2, input_shape=(5, 3))])
        model = lib.Sequential([lib.layers.Dense(2)])
        model.build((None, 5, 3) if way == "build" else [None, 5, 3])
        return model
    with pytest.warns(UserWarning) if way == "input_shape" else contextlib.nullcontext():    # Keras 3 warns on input_shape=
        ours, theirs = _both(build, keras)
    assert _shapes(ours) == _shapes(theirs) == ((None, 5, 3), (None, 5, 2))
    # the code ported as written: a new Input of the same samples, the sizes read by position
    twin = gn.Sequential([gn.Input(shape=ours.input_shape[1:]), gn.layers.Dense(ours.output_shape[-1])])
    assert twin.input_shape == ours.input_shape and twin.output_shape == ours.output_shape
    assert ours.input_shape[1] == theirs.input_shape[1] == 5 and ours.output_shape[2] == 2
    # compute_output_shape takes what input_shape gives and says what output_shape says (Keras' both)
    assert ours.compute_output_shape(ours.input_shape) == ours.output_shape
    assert tuple(theirs.compute_output_shape(theirs.input_shape)) == tuple(theirs.output_shape)


def test_a_sequential_built_by_its_first_data_keeps_the_batch_axis_open(keras, rng):
    x, y = rng.standard_normal((8, 5, 3)).astype(np.float32), rng.standard_normal((8, 5, 2)).astype(np.float32)
    ours, theirs = gn.Sequential([gn.layers.Dense(2)]), keras.Sequential([keras.layers.Dense(2)])
    for model in (ours, theirs):
        model.compile(loss="mse", optimizer="sgd")
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    # documented difference: Keras 3.15 keeps the first batch's size there, (4, 5, 3); glassnet None
    assert tuple(theirs.input_shape) == (4, 5, 3) and tuple(theirs.output_shape) == (4, 5, 2)
    assert ours.input_shape == (None, 5, 3) and ours.output_shape == (None, 5, 2)


def test_an_unbuilt_model_has_no_shapes_and_they_cannot_be_set(keras):
    ours, theirs = gn.Sequential([gn.layers.Dense(2)]), keras.Sequential([keras.layers.Dense(2)])
    for attribute in ("input_shape", "output_shape"):
        with pytest.raises(AttributeError, match="no defined"):
            getattr(theirs, attribute)
        with pytest.raises(AttributeError, match=rf"{attribute}: model 'sequential\w*' has no defined "
                                                 rf"{attribute.replace('_', ' ')} yet.*model.build"):
            getattr(ours, attribute)
        assert not hasattr(ours, attribute) and not hasattr(theirs, attribute)
    ours.build((None, 4))
    assert ours.input_shape == (None, 4)
    for model in (ours, theirs):
        with pytest.raises(AttributeError):
            model.input_shape = (None, 4)
        with pytest.raises(AttributeError):
            model.output_shape = (None, 2)
    # popped down to nothing: none again
    ours.pop()
    assert not ours.built and not hasattr(ours, "input_shape")


def test_open_lengths_and_images(keras):
    def build(lib):
        return [lib.Sequential([lib.Input((None, 3)), lib.layers.LSTM(4, return_sequences=True)]),
                lib.Sequential([lib.Input((8, 8, 1)), lib.layers.Conv2D(2, 3), lib.layers.MaxPooling2D(),
                                lib.layers.Flatten(), lib.layers.Dense(10)])]
    for ours, theirs in zip(*_both(build, keras)):
        assert _shapes(ours) == _shapes(theirs)
    assert _shapes(ours) == ((None, 8, 8, 1), (None, 10))


def test_functional_models_of_one_several_and_dict_inputs_and_outputs(keras):
    def build(lib):
        a, b = lib.Input((4,), name="a"), lib.Input((3, 2), name="b")
        h = lib.layers.Dense(2, name="h")(a)
        g = lib.layers.Dense(3, name="g")(lib.layers.Flatten()(b))
        return [lib.Model(a, h), lib.Model([a], [h]), lib.Model([a, b], [h, g]), lib.Model([b, a], [g, h]),
                lib.Model({"b": b, "a": a}, {"h": h, "g": g}), lib.Model({"a": a, "b": b}, {"g": g, "h": h}),
                lib.Model(a, {"h": h}), lib.Model({"a": a}, h), lib.Model([a, b], h)]
    ours, theirs = _both(build, keras)
    for mine, its in zip(ours, theirs):
        assert _shapes(mine) == _shapes(its), mine.name
    assert _shapes(ours[2]) == ([(None, 4), (None, 3, 2)], [(None, 2), (None, 3)])
    assert _shapes(ours[4]) == ([(None, 4), (None, 3, 2)], [(None, 3), (None, 2)])      # sorted keys
    assert _shapes(ours[6]) == ((None, 4), (None, 2))                                   # one entry: a tuple
    # each one's sample shape, in the same order, as before
    assert ours[2].input_shapes == [(4,), (3, 2)] and ours[2].output_shapes == [(2,), (3,)]


def test_several_inputs_of_any_length_and_one_number_per_sample(keras):
    def build(lib):
        e, d = lib.Input((None, 4)), lib.Input((None, 3))
        joined = lib.layers.Concatenate()([lib.layers.LSTM(5)(e), lib.layers.LSTM(5)(d)])
        x = lib.Input((4,))
        return [lib.Model([e, d], joined), lib.Model(x, lib.ops.sum(lib.layers.Dense(3)(x), axis=1))]
    for mine, its in zip(*_both(build, keras)):
        assert _shapes(mine) == _shapes(its)
    assert _shapes(mine) == ((None, 4), (None,))


def test_nested_models(keras):
    def build(lib):
        inner = lib.Sequential([lib.Input((5, 3)), lib.layers.Dense(2)])
        outer = lib.Sequential([inner, lib.layers.Dense(4)])
        x = lib.Input((5, 3))
        called = lib.Model(x, lib.layers.Dense(1)(inner(x)))
        a = lib.Input((4,))
        base = lib.Model(a, lib.layers.Dense(3)(a))
        on_base = lib.Sequential([base, lib.layers.Dense(2)])
        return [inner, outer, called, base, on_base]
    for mine, its in zip(*_both(build, keras)):
        assert _shapes(mine) == _shapes(its), mine.name
    # Keras' transfer-learning idiom: a head on a base's input shape, read as written
    base = build(gn)[3]
    head = gn.Sequential([gn.Input(shape=base.input_shape[1:]), base, gn.layers.Dense(7)])
    assert head.input_shape == (None, 4) and head.output_shape == (None, 7)


def test_subclasses(keras, rng):
    class Functional(gn.Model):
        pass

    class KFunctional(keras.Model):
        pass

    ours = Functional(x := gn.Input((4,)), gn.layers.Dense(2)(x))
    theirs = KFunctional(k := keras.Input((4,)), keras.layers.Dense(2)(k))
    assert _shapes(ours) == _shapes(theirs) == ((None, 4), (None, 2))

    class Drawn(gn.Model):
        def __init__(self):
            super().__init__()
            self.dense = gn.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    class KDrawn(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    mine, its = Drawn(), KDrawn()
    assert not hasattr(mine, "input_shape")
    data = rng.standard_normal((3, 5, 4)).astype(np.float32)
    mine(data), its(data)
    # documented difference: Keras 3.15's subclass has none at all (AttributeError); glassnet's,
    # drawn from its call, has the drawn graph's
    with pytest.raises(AttributeError):
        its.input_shape
    assert mine.input_shape == (None, 5, 4) and mine.output_shape == (None, 5, 2)


def test_a_model_read_back_rebuilt_or_cloned_keeps_them(keras, tmp_path):
    def build(lib):
        a, b = lib.Input((4,), name="a"), lib.Input((3, 2), name="b")
        h = lib.layers.Dense(2, name="h")(a)
        g = lib.layers.Dense(3, name="g")(lib.layers.Flatten()(b))
        return [lib.Sequential([lib.Input((5, 3)), lib.layers.Dense(2)]), lib.Model([a, b], [h, g]),
                lib.Model({"b": b, "a": a}, {"h": h, "g": g})]
    for k, (mine, its) in enumerate(zip(*_both(build, keras))):
        mine.save(tmp_path / f"{k}.npz")
        its.save(tmp_path / f"{k}.keras")
        loaded, their_loaded = gn.load_model(tmp_path / f"{k}.npz"), keras.models.load_model(tmp_path / f"{k}.keras")
        assert _shapes(loaded) == _shapes(their_loaded) == _shapes(mine) == _shapes(its)
        for again in (gn.model_from_json(mine.to_json()), gn.models.clone_model(mine),
                      type(mine).from_config(mine.get_config())):
            assert _shapes(again) == _shapes(mine)


def test_a_model_reading_texts_gives_its_input_s_shape(keras):
    texts = np.array(["good film", "bad movie", "great", "awful film here"])

    def build(lib):
        vectorizer = lib.layers.TextVectorization(output_sequence_length=5)
        vectorizer.adapt(texts)
        x = lib.Input((1,), dtype="string")
        ids = vectorizer(x)
        layers = [lib.layers.Embedding(30, 4), lib.layers.GlobalAveragePooling1D(), lib.layers.Dense(1)]
        out = ids
        for layer in layers:
            out = layer(out)
        return [lib.Sequential([lib.Input((1,), dtype="string"), vectorizer, lib.layers.Embedding(30, 4),
                                lib.layers.GlobalAveragePooling1D(), lib.layers.Dense(1)]),
                lib.Model(x, out)]
    for mine, its in zip(*_both(build, keras)):
        # the strings the model is given, not the ids its reader makes of them
        assert _shapes(mine) == _shapes(its) == ((None, 1), (None, 1))
        assert mine._sample_input_shape == (5,)


def test_layers_keep_one_sample_s_shape_where_keras_3_layers_have_none(keras):
    # Keras 3.15 layers have no input_shape / output_shape attribute at all (Keras 2's had them);
    # a glassnet layer's input_shape stays the layer contract's sample shape, output_shape a method
    theirs = keras.layers.Dense(2)
    theirs.build((None, 5, 3))
    assert not hasattr(theirs, "input_shape") and not hasattr(theirs, "output_shape")
    ours = gn.layers.Dense(2)
    ours.build((5, 3))
    assert ours.input_shape == (5, 3) and ours.output_shape((5, 3)) == (5, 2)
    model = gn.Sequential([gn.Input((5, 3)), gn.layers.Dense(2)])
    assert model.layers[0].input_shape == (5, 3) and model.input_shape == (None, 5, 3)


def test_pop_and_add_follow_keras(keras):
    def build(lib):
        return lib.Sequential([lib.Input((5, 3)), lib.layers.Dense(2), lib.layers.Dense(4)])
    ours, theirs = _both(build, keras)
    ours.pop(), theirs.pop()
    assert _shapes(ours) == _shapes(theirs) == ((None, 5, 3), (None, 5, 2))
    ours.add(gn.layers.Dense(6)), theirs.add(keras.layers.Dense(6))
    assert _shapes(ours) == _shapes(theirs) == ((None, 5, 3), (None, 5, 6))
