"""Review of reproducibility: a model's ``seed`` fixes the whole run, augmentation and dropout
included, also when they come in a model of their own nested in it (Keras' idiom
``Sequential([augmentation, Rescaling(1 / 255), ...])``, README: "`seed` fixes initialisation,
shuffling and dropout: the same seed gives the same run, bit for bit")."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import _seeding
from glassnet.layers import Dense, Dropout, Flatten, RandomFlip, RandomRotation


@pytest.fixture(autouse=True)
def _no_root():
    """Without set_random_seed's root: an unseeded model draws from the OS's entropy."""
    before, _seeding._root = _seeding._root, None
    yield
    _seeding._root = before


def _data():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 8, 8, 1)).astype(np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.float32)[:, None]


def _augmentation(with_input):
    """An unseeded augmentation model, as Keras' tutorials write it."""
    return gn.Sequential(([gn.Input((8, 8, 1))] if with_input else [])
                         + [RandomFlip(), RandomRotation(0.2), Dropout(0.3)])


def _inline():
    return [RandomFlip(), RandomRotation(0.2), Dropout(0.3), Flatten(), Dense(1, activation="sigmoid")]


def _trained(model):
    x, y = _data()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("with_input", [False, True], ids=["unbuilt", "built"])
def test_an_unseeded_nested_model_draws_from_the_outer_model_s_seed(with_input):
    # the same run as the same layers listed in the seeded model itself: before, the nested
    # layers kept the OS-seeded generators of their unseeded model, and seed=0 did not fix the run
    expected = _trained(gn.Sequential([gn.Input((8, 8, 1)), *_inline()], seed=0))
    nested = gn.Sequential([gn.Input((8, 8, 1)), _augmentation(with_input), Flatten(),
                            Dense(1, activation="sigmoid")], seed=0)
    for got, want in zip(_trained(nested), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("with_input", [False, True], ids=["unbuilt", "built"])
def test_an_unseeded_model_called_in_a_graph_draws_from_the_graph_s_seed(with_input):
    def drawn(inner):
        inputs = gn.Input((8, 8, 1))
        h = inner(inputs)
        return gn.Model(inputs, Dense(1, activation="sigmoid")(Flatten()(h)), seed=0)

    def inline():
        inputs = gn.Input((8, 8, 1))
        h = inputs
        for layer in _inline():
            h = layer(h)
        return gn.Model(inputs, h, seed=0)
    expected = _trained(inline())
    for got, want in zip(_trained(drawn(_augmentation(with_input))), expected):
        np.testing.assert_array_equal(got, want)


def test_a_seeded_nested_model_keeps_its_own_generators():
    # the rule as it was for a model with a seed of its own: its layers draw as they drew there
    inner = gn.Sequential([gn.Input((8, 8, 1)), RandomFlip(), Dropout(0.3)], seed=11)
    kept = [layer.rng for layer in inner.layers]
    outer = gn.Sequential([inner, Flatten(), Dense(1)], seed=0)
    assert all(layer.rng is rng for layer, rng in zip(outer.layers, kept))
    unseeded = gn.Sequential([gn.Input((8, 8, 1)), RandomFlip(), Dropout(0.3)])
    replaced = [layer.rng for layer in unseeded.layers]
    gn.Sequential([unseeded, Flatten(), Dense(1)], seed=0)
    assert all(layer.rng is not rng for layer, rng in zip(unseeded.layers, replaced))


def test_a_refused_nesting_gives_back_the_generators_and_their_origin():
    inner = gn.Sequential([Dense(3, input_dim=2), Dropout(0.5)])
    before = [(layer.rng, layer.__dict__.get("_rng_from_seed")) for layer in inner.layers]
    with pytest.raises(ValueError):
        gn.Sequential([Dense(4, input_dim=5), inner], seed=1)         # 4 features where 2 are read
    assert [(layer.rng, layer.__dict__.get("_rng_from_seed")) for layer in inner.layers] == before
