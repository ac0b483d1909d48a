"""Every warning glassnet gives names the user's line (glassnet/_warnings.py), however deep below
the user's call it is given: a fixed stacklevel pointed into glassnet's own files (_serial.py,
which wraps fit, evaluate and predict) for evaluate's and predict's steps, a generator that ran
out and a DataLoader's shuffle."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import saving


class TwoBatches(gn.utils.PyDataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)


def _model(**compile_settings):
    model = gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(1)], seed=0)
    model.compile(**{"loss": "mse", "optimizer": "sgd", **compile_settings})
    return model


def _batches():
    for _ in range(2):
        yield np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)


def _register_twice():
    class Once(gn.losses.MeanSquaredError):
        pass
    saving.register_serializable(package="WarningLines")(Once)
    try:
        saving.register_serializable(package="WarningLines", name="Once")(type("Twice", (Once,), {}))
    finally:
        saving.get_custom_objects().pop("WarningLines>Once", None)


CASES = {
    "evaluate steps": (lambda: _model().evaluate(TwoBatches(), steps=5, verbose=0), "steps=5 is more than"),
    "predict steps": (lambda: _model().predict(TwoBatches(), steps=5, verbose=0), "steps=5 is more than"),
    "validation steps": (lambda: _model().fit(TwoBatches(), validation_data=TwoBatches(), validation_steps=3,
                                              verbose=0), "validation_steps=3 is more than"),
    "generator ran out": (lambda: _model().fit(_batches(), epochs=2, steps_per_epoch=2, verbose=0),
                          "ran out of data in epoch 2"),
    "nothing to train": (lambda: _model().fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, initial_epoch=1,
                                              verbose=0), "nothing to train"),
    "logits of a sigmoid": (lambda: gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(1, activation="sigmoid")])
                            .compile(loss=gn.losses.BinaryCrossentropy(from_logits=True), optimizer="sgd"),
                            "expects logits"),
    "Normalization not adapted": (lambda: gn.Sequential([gn.layers.Input((3,)), gn.layers.Normalization()])
                                  .predict(np.ones((2, 3)), verbose=0), "initial mean 0 and variance 1"),
    "registered twice": (_register_twice, "was registered by"),
    "ctc after a wrapped softmax": (lambda: gn.Sequential([gn.layers.Input((5, 3)), gn.layers.TimeDistributed(
        gn.layers.Dense(4, activation="softmax"))]).compile(loss="ctc", optimizer="sgd"), "ctc takes logits, but"),
    "ctc after a softmax": (lambda: gn.Sequential([gn.layers.Input((5, 3)), gn.layers.Dense(4, activation="softmax")])
                            .compile(loss="ctc", optimizer="sgd"), "ctc takes logits, but"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_warning_names_the_users_line(case):
    call, words = CASES[case]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    ours = [w for w in record if words in str(w.message)]
    assert ours, [str(w.message) for w in record]
    assert all(w.filename == __file__ for w in ours), [(w.filename, w.lineno) for w in ours]


def test_a_dataloaders_ignored_shuffle_names_the_fit_line():
    torch = pytest.importorskip("torch")
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(8, 3), torch.ones(8, 1)),
                                       batch_size=4)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _model().fit(data, verbose=0)
    ours = [w for w in record if "shuffle=True" in str(w.message)]
    assert len(ours) == 1 and ours[0].filename == __file__
