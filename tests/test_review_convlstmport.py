"""Review of ConvLSTM2D while porting keras.io's next-frame video prediction example."""
import numpy as np
import pytest

from glassnet import layers


@pytest.mark.parametrize("cls, shape", [(layers.ConvLSTM1D, (2, 0, 5, 3)), (layers.ConvLSTM2D, (2, 0, 6, 6, 1)),
                                        (layers.ConvLSTM3D, (1, 0, 3, 3, 3, 1))])
def test_zero_steps_refused_by_name(cls, shape):
    # a clip of no frames has no last output nor state: refused saying so, as LSTM refuses it
    # (it failed in a NumPy reshape, "cannot reshape array of size 0")
    with pytest.raises(ValueError, match="at least one step"):
        cls(2, 3, padding="same", seed=0)(np.ones(shape, dtype=np.float32))
