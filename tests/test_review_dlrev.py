"""Review of fit/evaluate/predict on a torch DataLoader and a tf.data.Dataset (glassnet.feeding)."""
import warnings

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch not installed")


def _model():
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_shape=(4,)),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.SGD(0.3), metrics=["accuracy"])
    return model


def _fit(loader, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _model().fit(loader, shuffle=False, verbose=0, validation_data=loader, **kwargs).history


@pytest.mark.parametrize("validation_steps", [None, 2])
def test_one_dataloader_of_persistent_workers_as_x_and_validation_data_reads_whole_passes(rng, torch,
                                                                                         validation_steps):
    # a DataLoader of persistent_workers hands every iter() its one iterator, reset: fit held the
    # pass it had read its first batch from, so the first validation found that pass read to its end
    # by training (1 batch of 4, with a warning), and after validation_steps=2 the next epoch trained
    # on what validation had left of its pass. Keras 3.15 gives the same history with or without them
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    plain = torch.utils.data.DataLoader(dataset, batch_size=16)
    persistent = torch.utils.data.DataLoader(dataset, batch_size=16, num_workers=1, persistent_workers=True)
    expected = _fit(plain, epochs=3, validation_steps=validation_steps)
    got = _fit(persistent, epochs=3, validation_steps=validation_steps)
    assert got == expected
