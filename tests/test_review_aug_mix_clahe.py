"""Review of AugMix (layers/aug_mix.py) and ContrastLimitedAdaptiveHistogramEqualization
(layers/clahe.py): reproductions of the bugs found, each failing on the code as reviewed."""
import warnings

import numpy as np
import pytest

from glassnet.layers import AugMix
from glassnet.layers import ContrastLimitedAdaptiveHistogramEqualization as CLAHE


def _array_bytes(layer):
    """Bytes of the arrays a layer holds in its attributes (directly, or in a dict/tuple/list)."""
    total, seen = 0, set()
    for value in vars(layer).values():
        values = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else [value]
        for a in values:
            if isinstance(a, np.ndarray) and id(a) not in seen:
                seen.add(id(a))
                total += a.nbytes
    return total


def test_aug_mix_steps_not_applied_in_the_last_call_hold_no_batch_sized_caches():
    # AugMix makes num_chains x chain_depth x 11 layers (99 by default); each one picked once keeps
    # the arrays its forward cached (inputs, clip masks, factors) until it is picked again. After a
    # few dozen batches the layer holds ~130 batch-sized arrays (measured: max RSS 2.7 GB after 40
    # batches of 32 x 224 x 224 x 3 float32, 19 MB each), where a call needs those of the <= 9 it applied.
    x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    layer = AugMix(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            layer(x, training=True)
    applied = {id(a) for chain in layer.applied for a in chain}
    stale = sum(_array_bytes(inner) for _, inner in layer._inner_layers() if id(inner) not in applied)
    assert stale == 0, f"steps not applied in the last call hold {stale / x.nbytes:.0f} batches' worth of arrays"


def test_aug_mix_inference_call_releases_the_training_caches():
    x = np.random.default_rng(1).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    layer = AugMix(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(20):
            layer(x, training=True)
        layer(x, training=False)
    held = sum(_array_bytes(inner) for _, inner in layer._inner_layers())
    assert held == 0, f"after an inference call the steps hold {held / x.nbytes:.0f} batches' worth of arrays"


def test_aug_mix_small_alpha_gives_no_nan():
    # alpha is documented as any finite number > 0; with alpha = 1e-3 all num_chains gamma draws
    # underflow to 0 in ~10% of batches, and the weights 0 / 0 turn the whole batch to NaN (which
    # the final clip keeps). NumPy's Generator.dirichlet handles small alpha (stick breaking).
    x = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 3)).astype(np.float32)
    nan_seeds = [seed for seed in range(40)
                 if not np.isfinite(AugMix((0, 1), alpha=1e-3, seed=seed)(x, training=True)).all()]
    assert nan_seeds == []


def test_clahe_nan_pixel_error_names_the_layer_or_propagates():
    # a NaN pixel: np.clip(NaN).astype(intp) is INT_MIN, and np.bincount fails with
    # "'list' argument must have no negative elements", which names neither the layer nor the NaN
    x = np.random.default_rng(0).uniform(0, 255, (1, 8, 8, 1)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"ContrastLimitedAdaptiveHistogramEqualization.*: the images hold NaN"):
        CLAHE(tile_grid_size=(2, 2))(x)


def test_rand_augment_operations_not_applied_in_the_last_call_hold_no_batch_sized_caches():
    """RandAugment shares AugMix's release of the last call's caches (their common base,
    rand_augment._Operations): with num_ops=2 each of its 22 operations kept its arrays until
    picked again, some 30 batches' worth."""
    from glassnet.layers import RandAugment
    x = np.random.default_rng(2).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    layer = RandAugment(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(30):
            layer(x, training=True)
    applied = {id(a) for a in layer.applied}
    stale = sum(_array_bytes(inner) for _, inner in layer._inner_layers() if id(inner) not in applied)
    assert stale == 0, f"operations not applied in the last call hold {stale / x.nbytes:.0f} batches' worth of arrays"
