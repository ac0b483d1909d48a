"""Keras' ``seed`` on the random initializers: an int seed draws the same values at every call and in
any model, a SeedGenerator new values per call; seeded values against Keras 3.15's own initializer
classes run on its NumPy backend's sampler (bit for bit); statistics of the draws against theory;
seed None against glassnet's draws from the model's generator; model files, Keras JSON configs and
.keras files both ways; refusals by name."""
import math
import types

import numpy as np
import pytest

import glassnet as gn
from glassnet import initializers as I

SEEDED = {  # name: (glassnet's, Keras' class name and settings)
    "RandomNormal": (lambda s: I.RandomNormal(0.5, 2.0, seed=s), ("RandomNormal", {"mean": 0.5, "stddev": 2.0})),
    "RandomUniform": (lambda s: I.RandomUniform(-1.0, 3.0, seed=s), ("RandomUniform", {"minval": -1.0, "maxval": 3.0})),
    "TruncatedNormal": (lambda s: I.TruncatedNormal(0.1, 0.3, seed=s), ("TruncatedNormal", {"mean": 0.1, "stddev": 0.3})),
    "VarianceScaling": (lambda s: I.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=s),
                        ("VarianceScaling", {"scale": 3.0, "mode": "fan_out", "distribution": "untruncated_normal"})),
    "GlorotUniform": (lambda s: I.GlorotUniform(seed=s), ("GlorotUniform", {})),
    "GlorotNormal": (lambda s: I.GlorotNormal(seed=s), ("GlorotNormal", {})),
    "HeUniform": (lambda s: I.HeUniform(seed=s), ("HeUniform", {})),
    "HeNormal": (lambda s: I.HeNormal(seed=s), ("HeNormal", {})),
    "LecunUniform": (lambda s: I.LecunUniform(seed=s), ("LecunUniform", {})),
    "LecunNormal": (lambda s: I.LecunNormal(seed=s), ("LecunNormal", {})),
    "Orthogonal": (lambda s: I.Orthogonal(1.5, seed=s), ("Orthogonal", {"gain": 1.5})),
}


def _keras_numpy(keras, monkeypatch):
    """Keras 3.15's initializer module with its ``random`` and ``ops`` those of its NumPy backend:
    keras/src/backend/numpy/random.py run from its source (that backend needs jax to import, which
    is not installed), and NumPy's qr/diag/sign (numpy/linalg.py, numpy/numpy.py call exactly these)."""
    from pathlib import Path
    import keras.src.backend as backend_package
    from keras.src.initializers import random_initializers
    source = (Path(backend_package.__file__).parent / "numpy" / "random.py").read_text()
    source = source.replace("from keras.src.backend.numpy.nn import softmax\n", "")
    space = {}
    exec(compile(source, "keras/src/backend/numpy/random.py", "exec"), space)
    keras_draw_seed = space["draw_seed"]         # (a TensorFlow tensor here: NumPy's seed wants an array)
    space["draw_seed"] = lambda seed: np.asarray(keras_draw_seed(seed))
    monkeypatch.setattr(random_initializers, "random", types.SimpleNamespace(**space))
    monkeypatch.setattr(random_initializers, "ops", types.SimpleNamespace(
        qr=np.linalg.qr, diag=np.diag, sign=np.sign, transpose=np.transpose, reshape=np.reshape))
    return keras


SHAPES = [(7, 5), (3, 3, 4, 6), (4, 9)]


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_seeded_values_are_keras_numpy_backend_bit_for_bit(name, keras, monkeypatch):
    keras = _keras_numpy(keras, monkeypatch)
    make, (class_name, settings) = SEEDED[name]
    for shape in SHAPES:
        theirs = getattr(keras.initializers, class_name)(**settings, seed=42)(shape)
        ours = make(42)(shape, np.random.default_rng(0), np.float32)
        assert ours.dtype == np.float32 and ours.shape == shape
        np.testing.assert_array_equal(ours, np.asarray(theirs), err_msg=str(shape))
    # a SeedGenerator: successive calls, each a new draw, as Keras'
    theirs_init = getattr(keras.initializers, class_name)(**settings, seed=keras.random.SeedGenerator(7))
    ours_init = make(gn.random.SeedGenerator(7))
    for shape in SHAPES:
        np.testing.assert_array_equal(ours_init(shape, None, "float32"), np.asarray(theirs_init(shape)))


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_int_seed_same_values_every_call_and_every_model(name):
    make = SEEDED[name][0]
    init = make(42)
    first = init((6, 4), np.random.default_rng(0), np.float32)
    np.testing.assert_array_equal(init((6, 4), np.random.default_rng(1), np.float32), first)   # rng not used
    np.testing.assert_array_equal(make(42)((6, 4)), first)     # Keras' call form, default float32
    assert not np.array_equal(make(43)((6, 4)), first)
    kernels = []
    for model_seed in (0, 1):
        model = gn.Sequential([gn.layers.Dense(4, kernel_initializer=make(42), input_dim=6),
                               gn.layers.Dense(2, kernel_initializer="glorot_uniform")], seed=model_seed)
        kernels.append([w for w in model.get_weights()])
    np.testing.assert_array_equal(kernels[0][0], first)
    np.testing.assert_array_equal(kernels[1][0], first)
    assert not np.array_equal(kernels[0][2], kernels[1][2])     # the unseeded layer follows the model's seed


def test_seed_generator_moves_on_and_repeats_from_its_seed():
    gen = gn.random.SeedGenerator(5)
    init = I.HeNormal(seed=gen)
    a, b = init((3, 4)), init((3, 4))
    assert not np.array_equal(a, b) and gen.state.tolist() == [5, 2]
    again = I.HeNormal(seed=gn.random.SeedGenerator(5))
    np.testing.assert_array_equal(again((3, 4)), a)
    np.testing.assert_array_equal(again((3, 4)), b)
    # its first draw is the int seed's (counter 0), as Keras' draw_seed makes both [seed, 0]
    np.testing.assert_array_equal(I.HeNormal(seed=5)((3, 4)), a)


# expected (mean, std) of each seeded draw for shape (fan_in, fan_out) = (400, 500)
TRUNC = 0.87962566103423978         # std of N(0, 1) truncated at +-2
STATS = {
    "RandomNormal": (0.5, 2.0), "RandomUniform": (1.0, 4 / math.sqrt(12)), "TruncatedNormal": (0.1, 0.3 * TRUNC),
    "VarianceScaling": (0.0, math.sqrt(3.0 / 500)), "GlorotUniform": (0.0, math.sqrt(1 / 450)),
    "GlorotNormal": (0.0, math.sqrt(1 / 450)), "HeUniform": (0.0, math.sqrt(2 / 400)),
    "HeNormal": (0.0, math.sqrt(2 / 400)), "LecunUniform": (0.0, math.sqrt(1 / 400)),
    "LecunNormal": (0.0, math.sqrt(1 / 400)), "Orthogonal": (0.0, 1.5 / math.sqrt(500)),
}


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_statistics_of_seeded_draws(name):
    w = SEEDED[name][0](3)((400, 500), None, np.float64)
    mean, std = STATS[name]
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(w.size) + 1e-12
    assert w.std() == pytest.approx(std, rel=0.01)
    if name in ("TruncatedNormal", "GlorotNormal", "HeNormal", "LecunNormal"):
        limit = 2 * (0.3 if name == "TruncatedNormal" else std / TRUNC)
        assert np.abs(w - mean).max() <= limit + 1e-12
    if name == "Orthogonal":
        np.testing.assert_allclose(w @ w.T, 2.25 * np.eye(400), atol=1e-10)


def test_seed_none_draws_glassnet_s_own_values_from_the_generator():
    # unseeded: the classes draw by the generator given, as the named functions and formulas do
    for cls, function in [(I.HeNormal, I.he_normal), (I.GlorotUniform, I.glorot_uniform),
                          (I.LecunNormal, I.lecun_normal), (I.HeUniform, I.he_uniform)]:
        np.testing.assert_array_equal(cls()((5, 3), np.random.default_rng(9), np.float32),
                                      function((5, 3), np.random.default_rng(9), np.float32))
    expected = (0.5 + 2.0 * np.random.default_rng(9).standard_normal((5, 3))).astype(np.float32)
    np.testing.assert_array_equal(I.RandomNormal(0.5, 2.0)((5, 3), np.random.default_rng(9), np.float32), expected)
    expected = np.random.default_rng(9).uniform(-1.0, 3.0, (5, 3)).astype(np.float32)
    np.testing.assert_array_equal(I.RandomUniform(-1.0, 3.0)((5, 3), np.random.default_rng(9), np.float32), expected)
    assert I.HeNormal().get_config() == {} and repr(I.Orthogonal(2.0)) == "Orthogonal(gain=2.0)"
    assert I.get("he_normal") is I.he_normal


def test_model_file_keeps_seeds(tmp_path):
    gen = gn.random.SeedGenerator(11, name="gen")
    model = gn.Sequential([gn.layers.Dense(4, kernel_initializer=I.HeNormal(seed=42), input_dim=3),
                           gn.layers.Dense(2, kernel_initializer=I.Orthogonal(seed=gen),
                                           bias_initializer=I.RandomUniform(seed=3))], seed=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    first, second = loaded.layers
    assert first.kernel_initializer == I.HeNormal(seed=42)
    assert isinstance(second.kernel_initializer.seed, gn.random.SeedGenerator)
    assert second.kernel_initializer.seed.get_config() == {"seed": 11, "name": "gen"}
    assert second.bias_initializer == I.RandomUniform(seed=3)
    # get_config / from_config, and a rebuilt model draws the saved weights again from the seeds
    rebuilt = gn.Sequential.from_config(model.get_config())
    rebuilt.build((None, 3))
    np.testing.assert_array_equal(rebuilt.get_weights()[0], model.get_weights()[0])
    np.testing.assert_array_equal(rebuilt.get_weights()[2], model.get_weights()[2])   # the generator restarts
    assert I.VarianceScaling.from_config(I.VarianceScaling(seed=4).get_config()) == I.VarianceScaling(seed=4)


def _keras_model(keras):
    init = keras.initializers
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(6, activation="relu", kernel_initializer=init.HeNormal(seed=42),
                           bias_initializer=init.RandomNormal(seed=1)),
        keras.layers.Dense(4, kernel_initializer=init.Orthogonal(seed=keras.random.SeedGenerator(3))),
        keras.layers.Dense(2, kernel_initializer=init.VarianceScaling(2.0, "fan_avg", "uniform", seed=7))])


def test_keras_json_with_seeded_initializers_builds_with_those_seeds(keras, monkeypatch):
    model = _keras_model(keras)
    ours = gn.models.model_from_json(model.to_json())
    dense = [layer for layer in ours.layers if isinstance(layer, gn.layers.Dense)]
    assert dense[0].kernel_initializer == I.HeNormal(seed=42) and dense[0].bias_initializer == I.RandomNormal(seed=1)
    assert dense[1].kernel_initializer.seed.get_config()["seed"] == 3
    assert dense[2].kernel_initializer == I.VarianceScaling(2.0, "fan_avg", "uniform", seed=7)
    # its weights are the seeded draws of Keras' NumPy backend, whatever glassnet's model seed
    _keras_numpy(keras, monkeypatch)
    init = keras.initializers
    expected = [init.HeNormal(seed=42)((5, 6)), init.RandomNormal(seed=1)((6,)),
                init.Orthogonal(seed=keras.random.SeedGenerator(3))((6, 4)),
                init.VarianceScaling(2.0, "fan_avg", "uniform", seed=7)((4, 2))]
    weights = ours.get_weights()
    for i, theirs in zip((0, 1, 2, 4), expected):
        np.testing.assert_array_equal(weights[i], np.asarray(theirs), err_msg=str(i))


def test_keras_file_with_seeded_initializers_loads_and_glassnet_writes_seeds(keras, tmp_path):
    model = _keras_model(keras)
    model.save(tmp_path / "k.keras")
    ours = gn.load_model(tmp_path / "k.keras")
    for mine, theirs in zip(ours.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    dense = [layer for layer in ours.layers if isinstance(layer, gn.layers.Dense)]
    assert dense[0].kernel_initializer == I.HeNormal(seed=42)
    # glassnet's .keras file: Keras reads the seeds back (int and SeedGenerator)
    ours.save(tmp_path / "g.keras", save_format="keras")
    back = keras.saving.load_model(tmp_path / "g.keras")
    assert back.layers[0].kernel_initializer.get_config()["seed"] == 42
    assert back.layers[1].kernel_initializer.seed.get_config()["seed"] == 3
    np.testing.assert_allclose(back.predict(np.ones((2, 5), "float32"), verbose=0),
                               ours.predict(np.ones((2, 5), "float32")), atol=1e-5)


@pytest.mark.parametrize("seed", [1.5, "3", True, [1], np.float32(2.0)])
def test_bad_seeds_are_refused_by_name(seed):
    for make in (lambda: I.HeNormal(seed=seed), lambda: I.RandomNormal(seed=seed), lambda: I.Orthogonal(seed=seed)):
        with pytest.raises(TypeError, match=r"(HeNormal|RandomNormal|Orthogonal): seed must be None, an int or a "
                                            r"glassnet.random.SeedGenerator, got"):
            make()
    with pytest.raises(ValueError, match=r"kernel_initializer: .*HeNormal: seed must be None"):
        I.get({"class_name": "HeNormal", "config": {"seed": seed if not isinstance(seed, np.generic) else "x"}},
              "kernel_initializer")


def test_bad_seed_generator_config_and_keras_fan_axes_are_refused_by_name():
    with pytest.raises(ValueError, match=r"HeNormal: seed: bad SeedGenerator config"):
        I.HeNormal(seed={"class_name": "SeedGenerator", "config": {"seed": "x"}})
    with pytest.raises(ValueError, match=r"'HeNormal' with input_axes=\[0\] is not supported by glassnet"):
        I.get({"module": "keras.initializers", "class_name": "HeNormal",
               "config": {"seed": 1, "input_axes": [0], "output_axes": [1]}, "registered_name": None})
    with pytest.raises(TypeError, match=r"Constant.__init__\(\) got an unexpected keyword argument 'seed'"):
        I.Constant(1.0, seed=1)
