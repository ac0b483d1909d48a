"""Keras' initializer classes: what they draw, their settings in configs and model files, and the
named functions they stand beside."""
import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet import initializers
from glassnet.initializers import (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity,
                                   Initializer, LecunNormal, LecunUniform, Ones, Orthogonal, RandomNormal,
                                   RandomUniform, TruncatedNormal, VarianceScaling, Zeros)


def draw(init, shape=(300, 200), dtype=np.float64, seed=0):
    return init(shape, np.random.default_rng(seed), dtype)


@pytest.mark.parametrize("cls,name", [(Zeros, "zeros"), (Ones, "ones"), (GlorotUniform, "glorot_uniform"),
                                      (GlorotNormal, "glorot_normal"), (HeUniform, "he_uniform"),
                                      (HeNormal, "he_normal"), (LecunUniform, "lecun_uniform"),
                                      (LecunNormal, "lecun_normal")])
def test_a_class_for_a_named_function_draws_exactly_what_the_name_draws(cls, name):
    np.testing.assert_array_equal(draw(cls(), dtype=np.float32), draw(initializers.get(name), dtype=np.float32))
    assert cls().get_config() == {} and cls() == cls() and repr(cls()) == f"{cls.__name__}()"


def test_the_defaults_of_the_random_classes_are_the_named_functions():
    np.testing.assert_array_equal(draw(RandomNormal()), draw(initializers.random_normal))
    np.testing.assert_array_equal(draw(RandomUniform()), draw(initializers.random_uniform))
    # the seeds' "plain", 0.01 x N(0, 1)
    np.testing.assert_array_equal(draw(RandomNormal(stddev=0.01), dtype=np.float32),
                                  draw(initializers.plain, dtype=np.float32))


@pytest.mark.parametrize("settings,name", [((1.0, "fan_avg", "uniform"), "glorot_uniform"),
                                           ((1.0, "fan_avg", "truncated_normal"), "glorot_normal"),
                                           ((2.0, "fan_in", "uniform"), "he_uniform"),
                                           ((2.0, "fan_in", "normal"), "he_normal"),
                                           ((1.0, "fan_in", "uniform"), "lecun_uniform"),
                                           ((1.0, "fan_in", "truncated_normal"), "lecun_normal")])
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 8, 16)])
def test_variance_scaling_is_the_family_of_the_named_initializers(settings, name, shape):
    # the same draws; the limit or deviation computed by another formula, so equal to rounding
    np.testing.assert_allclose(draw(VarianceScaling(*settings), shape), draw(initializers.get(name), shape),
                               rtol=1e-13)


@pytest.mark.parametrize("mode,n", [("fan_in", 300), ("fan_out", 200), ("fan_avg", 250)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_draws_the_variance_scale_over_n(mode, n, distribution):
    w = draw(VarianceScaling(3.0, mode, distribution))
    assert w.var() == pytest.approx(3.0 / n, rel=0.03) and abs(w.mean()) < 0.01 * np.sqrt(3.0 / n) * 3
    bound = {"uniform": np.sqrt(9.0 / n), "truncated_normal": 2 * np.sqrt(3.0 / n) / 0.87962566103423978}
    if distribution in bound:
        assert np.abs(w).max() <= bound[distribution]
    else:                               # untruncated: values beyond two deviations occur
        assert np.abs(w).max() > 3 * np.sqrt(3.0 / n)


def test_truncated_normal_redraws_beyond_two_deviations_around_the_mean():
    w = draw(TruncatedNormal(mean=1.0, stddev=0.5))
    assert np.abs(w - 1.0).max() <= 1.0 and w.min() < 0.1 and w.max() > 1.9
    # Keras' stddev is the untruncated normal's: the truncated values spread 0.8796 of it
    assert w.std() == pytest.approx(0.5 * 0.87962566103423978, rel=0.02)
    assert w.mean() == pytest.approx(1.0, abs=0.01)


def test_random_normal_and_uniform_take_their_settings():
    w = draw(RandomNormal(mean=-2.0, stddev=0.1))
    assert w.mean() == pytest.approx(-2.0, abs=0.002) and w.std() == pytest.approx(0.1, rel=0.02)
    u = draw(RandomUniform(minval=1.0, maxval=3.0))
    assert 1.0 <= u.min() < 1.01 and 2.99 < u.max() < 3.0


def test_constant():
    c = draw(Constant(0.25), (2, 3), dtype=np.float32)
    assert c.dtype == np.float32 and c.tolist() == [[0.25] * 3] * 2
    assert Constant(np.float32(2)).get_config() == {"value": 2.0}


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (3, 3, 2, 4), (2, 2, 2, 16)])
def test_orthogonal_has_orthonormal_columns_or_rows(shape):
    w = draw(Orthogonal(gain=1.5), shape)
    assert w.shape == shape
    flat = w.reshape(-1, shape[-1])
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(small), atol=1e-12)
    assert not np.array_equal(w, draw(Orthogonal(gain=1.5), shape, seed=1))


def test_orthogonal_is_keras_algorithm_on_the_same_normal_draws():
    # Keras (and PyTorch): Q of the QR of a standard normal matrix, columns signed by R's diagonal
    a = np.random.default_rng(0).standard_normal((5, 3))
    q, r = np.linalg.qr(a)
    expected = (q * np.sign(np.diag(r))).T           # 3 rows < 5 columns: the transpose
    np.testing.assert_allclose(draw(Orthogonal(), (3, 5)), expected, rtol=1e-12)
    np.testing.assert_allclose(draw(Orthogonal(), (5, 3)), q * np.sign(np.diag(r)), rtol=1e-12)


def test_identity():
    assert draw(Identity(), (2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert draw(Identity(gain=2.0), (3, 2), dtype=np.float32).tolist() == [[2, 0], [0, 2], [0, 0]]


@pytest.mark.parametrize("make,message", [
    (lambda: RandomNormal(stddev=-1), r"RandomNormal: stddev must be a finite number >= 0, got -1"),
    (lambda: RandomNormal(mean="0"), r"RandomNormal: mean must be a finite number, got '0'"),
    (lambda: TruncatedNormal(stddev=float("nan")), r"TruncatedNormal: stddev must be a finite number >= 0, got nan"),
    (lambda: RandomUniform(1.0, 1.0), r"RandomUniform: minval must be below maxval, got minval=1.0, maxval=1.0"),
    (lambda: Constant(True), r"Constant: value must be a finite number, got True"),
    # (an array of numbers is Keras 3.15's broadcast value: tests/test_review_ports3c.py)
    (lambda: Constant([True, False]),
     r"Constant: value must be a finite number or an array of finite numbers, got \[True, False\]"),
    (lambda: VarianceScaling(scale=-1), r"VarianceScaling: scale must be a finite number > 0, got -1"),
    (lambda: VarianceScaling(mode="fan"), r"VarianceScaling: mode must be one of \['fan_in', 'fan_out', 'fan_avg'\], got 'fan'"),
    (lambda: VarianceScaling(distribution="gamma"), r"VarianceScaling: distribution must be one of"),
    (lambda: Orthogonal(gain=float("inf")), r"Orthogonal: gain must be a finite number, got inf"),
    (lambda: draw(Orthogonal(), (5,)), r"Orthogonal: needs a weight of at least two axes, got shape \(5,\)"),
    (lambda: draw(Identity(), (3, 3, 2)), r"Identity: needs a 2-D weight, got shape \(3, 3, 2\)"),
])
def test_bad_settings_are_refused_with_their_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_get_takes_names_instances_classes_and_file_entries():
    assert initializers.get("orthogonal") == Orthogonal() and initializers.get("truncated_normal") == TruncatedNormal()
    assert initializers.get(HeNormal) == HeNormal()
    given = RandomNormal(stddev=0.01)
    assert initializers.get(given) is given
    assert initializers.get({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out"}}) \
        == VarianceScaling(2.0, "fan_out")
    # Keras' seed is read (tests/test_init_seed.py); a seed that is no int is refused by name
    assert initializers.get({"class_name": "Orthogonal", "config": {"seed": 3}}) == Orthogonal(seed=3)
    with pytest.raises(ValueError, match=r"initializer: .*Orthogonal: seed must be None, an int"):
        initializers.get({"class_name": "Orthogonal", "config": {"seed": "3"}})
    with pytest.raises(ValueError, match=r"initializer: RandomUniform: minval must be below maxval"):
        initializers.get({"class_name": "RandomUniform", "config": {"minval": 2, "maxval": 1}})
    # a class's name, as Keras reads it: its defaults, a new instance each time
    assert initializers.get("Orthogonal") == Orthogonal() and initializers.get("GlorotUniform") == GlorotUniform()
    with pytest.raises(ValueError, match=r"Dense: kernel_initializer: expected one of .*got 'orthogonl'"):
        gn.layers.Dense(2, kernel_initializer="orthogonl")
    with pytest.raises(ValueError, match=r"initializer: Initializer is a base of the initializer classes"):
        initializers.get(Initializer)
    assert VarianceScaling(distribution="Uniform").distribution == "uniform"     # Keras lower-cases it
    with pytest.raises(ValueError, match=r"initializer: expected one of .*got \{'class_name': 'Initializer'"):
        initializers.get({"class_name": "Initializer", "config": {}})     # the base is no initializer


def test_name_of_records_names_and_built_in_classes_only():
    assert initializers.name_of(initializers.he_normal) == "he_normal"
    assert initializers.name_of(initializers.get("orthogonal")) == {"class_name": "Orthogonal", "config": {"gain": 1.0}}
    assert initializers.name_of(Orthogonal(2.0)) == {"class_name": "Orthogonal", "config": {"gain": 2.0}}

    class Mine(RandomNormal):
        pass
    with pytest.raises(ValueError, match=r"initializer Mine\(mean=0.0, stddev=0.05\) \(Mine\) is not a built-in one"):
        initializers.name_of(Mine())
    with pytest.raises(ValueError, match=r"is not registered"):
        initializers.name_of(lambda shape, rng, dtype: np.zeros(shape, dtype))


def test_a_model_file_keeps_initializer_settings(tmp_path):
    def build():
        return gn.Sequential([gn.layers.Dense(4, input_dim=3, kernel_initializer=Orthogonal(gain=2.0),
                                              bias_initializer=Constant(0.1)),
                              gn.layers.Dense(2, kernel_initializer=VarianceScaling(2.0, "fan_out", "uniform"))],
                             seed=3)
    model = build()
    kernel = model.layers[0].params["kernel"]
    np.testing.assert_allclose(kernel @ kernel.T, 4.0 * np.eye(3), atol=1e-5)   # 3 rows, 4 columns
    np.testing.assert_array_equal(model.layers[0].params["bias"], np.full(4, 0.1, np.float32))
    np.testing.assert_array_equal(build().get_weights()[2], model.get_weights()[2])    # the model's seed
    model.compile(loss="mse", optimizer="sgd")
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].kernel_initializer == Orthogonal(gain=2.0)
    assert loaded.layers[1].kernel_initializer == VarianceScaling(2.0, "fan_out", "uniform")
    assert loaded.get_config() == model.get_config()
    # a rebuilt model draws the same weights from the same seed
    rebuilt = gn.Sequential.from_config(model.get_config())
    for a, b in zip(rebuilt.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_custom_initializer_class_trains_but_is_not_saved(tmp_path):
    class Halves(Initializer):
        def __call__(self, shape, rng, dtype):
            return np.full(shape, 0.5, dtype=dtype)
    model = gn.Sequential([gn.layers.Dense(2, input_dim=3, kernel_initializer=Halves())])
    assert (model.layers[0].params["kernel"] == 0.5).all()
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"save_model: initializer Halves\(\) \(Halves\) is not a built-in one"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_the_sklearn_wrapper_takes_a_built_in_initializer():
    pytest.importorskip("sklearn")
    from glassnet.sklearn import GlassnetClassifier
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = GlassnetClassifier(hidden_layer_sizes=(5,), epochs=1, learning_rate=1e-9, random_state=0,
                             kernel_initializer=Orthogonal(2.0)).fit(X, y)
    kernel = clf.model_.layers[0].params["kernel"]       # all but untrained: the initial weights
    np.testing.assert_allclose(kernel @ kernel.T, 4.0 * np.eye(3), atol=1e-5)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.model_.layers[0].kernel_initializer == Orthogonal(2.0)


# Keras' names and defaults: a config written by glassnet means the same initializer to Keras
@pytest.mark.parametrize("name", sorted(initializers.INITIALIZER_CLASSES))
def test_settings_and_defaults_are_keras(name):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = initializers.INITIALIZER_CLASSES[name]()
    theirs = getattr(keras.initializers, name)()
    # Keras' settings are ours, but for its seed and VarianceScaling's newer axes (left at None)
    # (and Keras' Identity forgets its gain in get_config: compared as attributes)
    assert set(theirs.get_config()) - {"seed", "input_axes", "output_axes"} <= set(ours.get_config())
    assert {key: getattr(theirs, key) for key in ours.get_config()} == ours.get_config()
    # and Keras reads glassnet's entry for changed settings
    changed = {"Constant": Constant(0.5), "RandomNormal": RandomNormal(1.0, 0.2),
               "RandomUniform": RandomUniform(0.0, 2.0), "TruncatedNormal": TruncatedNormal(0.5, 0.1),
               "VarianceScaling": VarianceScaling(2.0, "fan_out", "uniform"), "Orthogonal": Orthogonal(3.0),
               "Identity": Identity(0.5)}.get(name, ours)
    entry = initializers.name_of(changed)
    read = keras.initializers.deserialize(entry)
    assert type(read).__name__ == name
    assert {key: getattr(read, key) for key in entry["config"]} == entry["config"]


@pytest.mark.parametrize("name,shape", [("TruncatedNormal", (400, 300)), ("VarianceScaling", (400, 300)),
                                        ("Orthogonal", (40, 30)), ("Identity", (4, 6))])
def test_draws_match_keras_in_distribution(name, shape):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = draw(initializers.INITIALIZER_CLASSES[name](), shape)
    cls = getattr(keras.initializers, name)
    theirs = np.asarray((cls() if name == "Identity" else cls(seed=1))(shape), dtype=np.float64)
    for stat in (np.std, lambda w: np.abs(w).max(), lambda w: np.abs(w.T @ w).sum()):
        assert stat(ours) == pytest.approx(stat(theirs), rel=0.05)


def test_each_get_of_a_named_class_is_a_new_instance():
    # a registry holding one shared instance would let one model's change reach every model
    changed = initializers.get("orthogonal")
    changed.gain = 3.0
    assert initializers.get("orthogonal") == Orthogonal(1.0)
    model = gn.Sequential([gn.layers.Dense(3, input_dim=3, kernel_initializer="orthogonal")], seed=0)
    kernel = model.layers[0].params["kernel"]
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(3), atol=1e-5)
    # and a model's config is the same after pickling or copying it
    entry = {"class_name": "Orthogonal", "config": {"gain": 1.0}}
    assert model.get_config()["layers"][0]["config"]["kernel_initializer"] == entry
    assert pickle.loads(pickle.dumps(model)).get_config() == model.get_config()


def test_add_weight_names_the_layer_and_weight_an_initializer_fails_on():
    with pytest.raises(ValueError, match=r"Dense 'dense': bias: initializer: Orthogonal: needs a weight of at "
                                         r"least two axes, got shape \(3,\)"):
        gn.Sequential([gn.layers.Dense(3, input_dim=2, bias_initializer="orthogonal")])
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d': kernel: initializer: Identity: needs a 2-D weight"):
        gn.Sequential([gn.layers.Conv2D(3, 3, input_shape=(8, 8, 1), kernel_initializer="identity")])
    # finite settings that overflow the weights' dtype
    with pytest.raises(ValueError, match=r"Dense 'dense': kernel: initializer RandomNormal\(mean=0.0, "
                                         r"stddev=1e\+39\) drew values that are not finite .* in float32"):
        gn.Sequential([gn.layers.Dense(3, input_dim=2, kernel_initializer=RandomNormal(stddev=1e39))])
    with pytest.raises(ValueError, match=r"Dense 'dense': kernel: initializer .* returned shape \(2,\) for a "
                                         r"weight of shape \(2, 3\)"):
        gn.Sequential([gn.layers.Dense(3, input_dim=2, kernel_initializer=lambda s, r, d: np.zeros(2, d))])
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2, kernel_initializer=RandomNormal(stddev=1e39))],
                          dtype="float64")                      # within float64's range
    assert np.isfinite(model.layers[0].params["kernel"]).all()


@pytest.mark.parametrize("name,shape", [(name, shape) for name in sorted(initializers.INITIALIZERS)
                                        for shape in [(0,), (0, 3), (3, 0), ()]
                                        if name != "stft" and (len(shape) == 2 or name not in ("orthogonal", "identity"))])
def test_empty_and_scalar_weights(name, shape):
    # Keras' guard: fans of at least 1, so an empty weight divides by neither (matrices only for
    # Orthogonal and Identity; STFT's kernels are 3-D: tests/test_stft_initializer.py)
    assert draw(initializers.get(name), shape).shape == shape


def test_weights_are_c_contiguous_whatever_the_initializer_returns():
    """A transposed array from an initializer (Orthogonal of a wide matrix drew one) is stored
    C-contiguous: finite differences and flat buffers nudge and view weights as 1-D."""
    from glassnet.layers import Dense
    layer = Dense(5, kernel_initializer=lambda shape, rng, dtype: np.asfortranarray(np.ones(shape, dtype)), seed=0)
    layer.build((3,))
    assert layer.params["kernel"].flags.c_contiguous
    wide = initializers.Orthogonal()((3, 8), np.random.default_rng(0), np.float64)
    assert wide.flags.c_contiguous


def test_keras_short_config_with_its_seed_is_read():
    # keras.initializers.Orthogonal(gain=3.0).get_config() is {"gain": 3.0, "seed": None}: in the short
    # {"class_name", "config"} form (a tf.keras model's JSON) the seed was read as a setting and refused
    made = initializers.get({"class_name": "Orthogonal", "config": {"gain": 3.0, "seed": None}})
    assert isinstance(made, initializers.Orthogonal) and made.gain == 3.0
    assert isinstance(initializers.get({"class_name": "GlorotUniform", "config": {"seed": None}}),
                      initializers.GlorotUniform)
    assert initializers.get({"class_name": "GlorotUniform", "config": {"seed": 3}}) == initializers.GlorotUniform(3)
