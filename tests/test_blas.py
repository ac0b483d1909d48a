"""glassnet.blas: the BLAS thread count is set only where the rule says, and always restored."""
import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import blas
from glassnet.layers import Conv2D, Dense, Flatten, MaxPooling2D

needs_openblas = pytest.mark.skipif(blas.get_threads() is None, reason="NumPy's BLAS is not OpenBLAS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in blas._USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    blas.set_auto_threads(True)
    yield
    blas.set_auto_threads(True)


def _record_threads(model, x, y, **fit_kwargs):
    seen = []
    spy = gn.callbacks.LambdaCallback(on_train_batch_end=lambda *_: seen.append(blas.get_threads()))
    model.fit(x, y, verbose=0, callbacks=[spy], **fit_kwargs)
    return seen


def _small_model():
    model = gn.Sequential([Dense(16, activation="relu", input_dim=8), Dense(3, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


@needs_openblas
def test_threads_sets_nests_and_restores():
    before = blas.get_threads()
    with blas.threads(1):
        assert blas.get_threads() == 1
        with blas.threads(2):
            assert blas.get_threads() == 2
        assert blas.get_threads() == 1         # each block gets back the count it set
    assert blas.get_threads() == before


@needs_openblas
def test_fit_inside_a_threads_block_hands_the_block_its_count_back(rng):
    # fit's one-thread rule is a block of its own: it must not leave the user's block on 1 thread
    x, y = rng.standard_normal((32, 8)).astype(np.float32), rng.integers(0, 3, 32)
    with blas.threads(2):
        assert set(_record_threads(_small_model(), x, y, epochs=1, batch_size=8)) == {1}
        assert blas.get_threads() == 2


def test_set_auto_threads_takes_a_flag_only():
    with pytest.raises(TypeError, match="set_auto_threads: expected True or False, got 'no'"):
        blas.set_auto_threads("no")


@needs_openblas
def test_concurrent_entries_restore_the_original_count():
    before = blas.get_threads()
    inside, release = threading.Barrier(3), threading.Event()

    def work():
        with blas.threads(1):
            inside.wait()
            release.wait()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for w in workers:
        w.start()
    inside.wait()
    assert blas.get_threads() == 1
    release.set()
    for w in workers:
        w.join()
    assert blas.get_threads() == before


def test_threads_refuses_a_bad_count():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads: expected a positive integer"):
            with blas.threads(bad):
                pass


@needs_openblas
def test_fit_runs_a_small_network_on_one_thread_and_restores(rng):
    before = blas.get_threads()
    x, y = rng.standard_normal((64, 8)).astype(np.float32), rng.integers(0, 3, 64)
    assert set(_record_threads(_small_model(), x, y, epochs=2, batch_size=16)) == {1}
    assert blas.get_threads() == before


@needs_openblas
def test_fit_leaves_large_products_to_blas(rng):
    before = blas.get_threads()
    model = gn.Sequential([Conv2D(16, 3, input_shape=(16, 16, 4)), MaxPooling2D(2), Flatten(), Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    assert model._largest_matmul_flops(64) == 2 * 64 * (3 * 3 * 4 * 16) * (14 * 14)
    assert model._largest_matmul_flops(64) >= blas.SMALL_MATMUL_FLOPS
    x, y = rng.standard_normal((64, 16, 16, 4)).astype(np.float32), np.zeros((64, 2), np.float32)
    assert set(_record_threads(model, x, y, epochs=1, batch_size=64)) == {before}


@needs_openblas
@pytest.mark.parametrize("how", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "switched off"])
def test_fit_respects_the_users_choice(rng, monkeypatch, how):
    if how == "switched off":
        blas.set_auto_threads(False)
    else:
        monkeypatch.setenv(how, "2")
    before = blas.get_threads()
    x, y = rng.standard_normal((32, 8)).astype(np.float32), rng.integers(0, 3, 32)
    assert set(_record_threads(_small_model(), x, y, epochs=1, batch_size=8)) == {before}


@needs_openblas
def test_the_count_is_restored_when_training_fails(rng):
    before = blas.get_threads()
    boom = gn.callbacks.LambdaCallback(on_train_batch_end=lambda *_: 1 / 0)
    x, y = rng.standard_normal((32, 8)).astype(np.float32), rng.integers(0, 3, 32)
    with pytest.raises(ZeroDivisionError):
        _small_model().fit(x, y, epochs=1, verbose=0, callbacks=[boom])
    assert blas.get_threads() == before


def test_without_openblas_everything_is_a_no_op(monkeypatch, rng):
    monkeypatch.setitem(blas._state, "searched", True)
    monkeypatch.setitem(blas._state, "functions", None)
    assert blas.get_threads() is None
    with blas.threads(1):
        pass
    x, y = rng.standard_normal((16, 8)).astype(np.float32), rng.integers(0, 3, 16)
    assert _record_threads(_small_model(), x, y, epochs=1, batch_size=8) == [None, None]


def test_each_layer_counts_its_own_largest_matrix_product():
    import glassnet as gn
    L = gn.layers
    model = gn.Sequential([gn.Input((8, 8, 2)), L.Conv2D(4, 3), L.Conv2DTranspose(3, 2, strides=2),
                           L.DepthwiseConv2D(3), L.SeparableConv2D(5, 1), L.Flatten(), L.Dense(7)])
    conv, transposed, depthwise, separable, _, dense = model.layers
    assert conv.matmul_flops(10) == 2 * 10 * (3 * 3 * 2 * 4) * (6 * 6)
    assert transposed.matmul_flops(10) == 2 * 10 * (2 * 2 * 3 * 4) * (6 * 6)     # per input position
    assert depthwise.matmul_flops(10) == 0                                        # shift and add
    assert separable.matmul_flops(10) == 2 * 10 * (3 * 5) * (10 * 10)             # the pointwise product
    assert dense.matmul_flops(10) == 2 * 10 * (500 * 7)
    assert model._largest_matmul_flops(10) == max(layer.matmul_flops(10) for layer in model.layers)
