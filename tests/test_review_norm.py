"""Review of the normalization and preprocessing layers: regressions for the bugs found."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.feeding import PyDataset


class _Batches(PyDataset):
    """Keras' PyDataset contract: ``__len__`` batches, ``__getitem__`` gives ``(x, y)``."""

    def __init__(self, x, batch_size=3):
        super().__init__()
        self.x, self.batch_size = x, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], np.zeros(len(self.x[rows]))


class _Endless(PyDataset):
    num_batches = None

    def __getitem__(self, index):
        return np.ones((2, 3)), np.zeros(2)


def test_normalization_adapts_on_a_pydataset_as_keras_does():
    # Keras' Normalization.adapt takes a keras.utils.PyDataset; glassnet's PyDataset (what
    # image_dataset_from_directory and timeseries_dataset_from_array give) was refused as
    # "not an iterable"
    x = np.random.default_rng(0).normal(2, 3, (10, 4))
    layer = gn.layers.Normalization()
    layer.adapt(_Batches(x))
    np.testing.assert_allclose(layer.state["mean"], x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.state["variance"], x.var(axis=0), rtol=1e-5)


def test_discretization_adapts_on_a_pydataset_as_on_its_batches():
    x = np.random.default_rng(1).normal(size=(40, 3))
    ours, batches = gn.layers.Discretization(num_bins=4), gn.layers.Discretization(num_bins=4)
    ours.adapt(_Batches(x, 7))
    batches.adapt([x[i:i + 7] for i in range(0, 40, 7)])
    assert ours.bin_boundaries == batches.bin_boundaries


def test_adapt_refuses_a_pydataset_without_an_end_by_name():
    with pytest.raises(ValueError, match="num_batches"):
        gn.layers.Normalization().adapt(_Endless())


def test_unit_normalization_refuses_a_norm_that_overflows_instead_of_returning_zeros():
    # finite float32 values whose squares overflow made the norm inf and the output 0 (no
    # gradient either), silently; its siblings (RMSNormalization, LayerNormalization) refuse such
    # a sample with a NonFiniteError naming the fix, and so must it
    from glassnet.errors import NonFiniteError
    x = np.array([[3e19, 4e19]], dtype="float32")
    with pytest.raises(NonFiniteError, match="float64"):
        gn.layers.UnitNormalization()(x)
    # the same values in float64 are fine, and a non-finite input stays the caller's business
    np.testing.assert_allclose(gn.layers.UnitNormalization(dtype="float64")(x.astype("float64")), [[0.6, 0.8]])
    with np.errstate(invalid="ignore"):
        assert np.isnan(gn.layers.UnitNormalization()(np.array([[np.inf, 1.0]], "float32"))).any()


def test_integer_lookup_adapts_on_a_pydataset():
    # Keras' adapt takes a PyDataset; IntegerLookup refused glassnet's (it has no __iter__)
    class Ids(gn.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return np.array([[1, 2, 2], [3, 2, 1]])[index:index + 1] + 10 * index, np.zeros(1)

    from_dataset = gn.layers.IntegerLookup()
    from_dataset.adapt(Ids())
    from_list = gn.layers.IntegerLookup()
    from_list.adapt([Ids()[0][0], Ids()[1][0]])
    assert from_dataset.get_vocabulary() == from_list.get_vocabulary()
