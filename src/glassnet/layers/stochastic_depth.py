"""``StochasticDepth`` (Huang et al. 2016; timm's ``DropPath``): in training, the whole residual
branch of a sample is dropped with probability ``drop_path_rate`` and the kept ones scaled by
``1 / (1 - drop_path_rate)``; at inference it is the identity. Keras 3.15 defines it in
``keras.applications.convnext`` (not in ``keras.layers``).

It is a ``Dropout`` whose mask has one value per sample (``noise_shape=(None, 1, ..., 1)`` for any
rank), so it takes Dropout's randomness: the mask comes from ``self.rng``, set from the model's
``seed`` (or the layer's own ``seed``), never NumPy's global state. Keras draws
``floor(keep_prob + uniform)`` from its global seed generator (its layer has no ``seed``): the same
distribution (a sample is kept when its uniform draw is >= ``drop_path_rate``), not the same draws.
"""
from .._validation import check_number
from .regularization import Dropout


class StochasticDepth(Dropout):
    """Drop whole samples of a residual branch in training (``x / keep_prob * keep``, ``keep`` one
    Bernoulli(1 - drop_path_rate) draw per sample); the identity at inference.

    drop_path_rate : float in [0, 1), the probability of dropping a sample's branch (Keras takes 1
        too, and then gives NaN: 0 / 0).
    seed : int, optional; inside a model the model's seed rules (as Dropout's).

    Shapes: ``x`` (batch, ...) -> same shape. No parameters.

    Example
    -------
    >>> import numpy as np
    >>> layer = StochasticDepth(0.5, seed=0)
    >>> y = layer(np.ones((1000, 2, 3)), training=True)
    >>> sorted(set(y.ravel().tolist())), bool((y.min(axis=(1, 2)) == y.max(axis=(1, 2))).all())
    ([0.0, 2.0], True)
    """

    def __init__(self, drop_path_rate, seed=None, **kwargs):
        rate = check_number(drop_path_rate, "StochasticDepth: drop_path_rate", "[0, 1)")
        super().__init__(rate, seed=seed, **kwargs)
        self.drop_path_rate = rate

    def _mask_shape(self, x):
        # one draw per sample, whatever the rank (Keras': (batch,) + (1,) * (ndim - 1))
        return (x.shape[0],) + (1,) * (x.ndim - 1)

    def get_config(self):
        config = super().get_config()
        del config["rate"]
        return {**config, "drop_path_rate": self.drop_path_rate}
