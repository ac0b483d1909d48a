"""Review of inference.py / describing.py / timeseries.py / datasets.py against Keras 3.15."""
import pytest

import glassnet as gn


def _model():
    return gn.Sequential([gn.layers.Dense(3, input_dim=2), gn.layers.BatchNormalization()], seed=0)


def test_summary_takes_keras_default_print_fn_none(capsys):
    # Keras' summary(print_fn=None) (its default) prints to stdout; it raised TypeError here
    model = _model()
    model.summary(print_fn=None)
    printed = capsys.readouterr().out
    assert "Total params: 21" in printed and "Non-trainable params: 6" in printed


def test_summary_refuses_a_print_fn_that_is_not_callable_by_name():
    with pytest.raises(TypeError, match="print_fn"):
        _model().summary(print_fn="stdout")
