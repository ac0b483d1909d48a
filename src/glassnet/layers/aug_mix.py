"""AugMix: Keras 3's augmentation of Hendrycks et al. (2020), ``num_chains`` chains of random
operations (glassnet's own image layers, RandAugment's eleven in Keras' AugMix order) mixed by
Dirichlet weights, then blended with the original images by a Beta draw, in training only."""
import math

import numpy as np

from .._validation import check_choice
from .data_format import config_entry, set_data_format
from .augmentation import INTERPOLATIONS, _RandomIntensity, _unsigned_pair
from .conv import check_rank
from .rand_augment import OPERATIONS as _RAND_AUGMENT_OPERATIONS, _Operations, config_count

_MAKE = dict(_RAND_AUGMENT_OPERATIONS)
# Keras 3.15's AUGMENT_LAYERS_ALL, in its order; all_ops=False keeps the first seven (AUGMENT_LAYERS).
# Each is made as Keras' AugMix makes it, from (factor (lower, upper), value_range, interpolation)
OPERATIONS = tuple((name, _MAKE[name]) for name in (
    "random_shear", "random_translation", "random_rotation", "random_posterization", "solarization",
    "auto_contrast", "equalization", "random_brightness", "random_color_degeneration", "random_contrast",
    "random_sharpness"))
BASIC_OPERATIONS = 7


def _positive_int(value, name, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"AugMix: {name} must be a positive integer ({what}), got {value!r:.80}")
    return int(value)


class AugMix(_Operations):
    """Mix ``num_chains`` randomly augmented copies of each training batch, and blend the mix with
    the batch itself (Keras 3.15's code): each chain takes ``chain_depth`` steps, each step an
    operation picked uniformly among the operations and "none" (Keras' ``[*ops, None]``: a chain
    applies ``chain_depth`` operations or fewer); the chains' outputs are summed with weights
    ``w ~ Dirichlet(alpha, ..., alpha)`` (gammas over their sum), and the images come out as
    ``clip(m x + (1 - m) sum_c w_c chain_c(x), value_range)``, ``m ~ Beta(alpha, alpha)``.

    The operations are glassnet's own layers, as Keras makes them from ``factor`` (a number f in
    [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1]; 0.3 by default): RandomShear,
    RandomTranslation, RandomRotation, RandomPosterization, Solarization, AutoContrast,
    Equalization, and with ``all_ops`` (the default) RandomBrightness, RandomColorDegeneration,
    RandomContrast and RandomSharpness too (images of 1 or 3 channels then: the colour
    degeneration's). ``interpolation`` ("bilinear" or "nearest") is the geometric ones', whose fill
    is "reflect"; ``value_range`` the others' and the final clip's. RandAugment says how each maps
    ``factor``.

    Draws as Keras' code makes them: the weights, ``m`` and the picks once per batch (every image
    goes through the same operations), each operation's own draws per image. Each step of each
    chain is its own layer, so an operation picked twice draws twice (as Keras' does). Outside
    training the images pass unchanged (AutoContrast and Equalization too, as Keras).
    Differences: the picks come from the layer's generator (seeded, saved with a model), where
    Keras draws them from Python's global ``random``, unseeded; the members' own documented
    differences stay (RandomPosterization keeps up to ``int(8 upper)`` bits, Keras one fewer;
    Equalization's histogram is each image's, Keras' the batch's). ``chain_depth`` is Keras 3's
    integer (KerasCV's (min, max) range is refused by name). A config (JSON, a model file) of more
    than 256 steps in all (``num_chains x chain_depth``, each a set of layers) is refused: see
    RandAugment.

    Gradient: the mix is linear, so ``m g' + (1 - m) sum_c w_c chain_c^T(g')``, ``g'`` the gradient
    where the clip let the value through and ``chain_c^T`` its layers' backward passes in reverse
    (0 through posterization's and equalization's flat steps). The last training call's draws are
    in ``_drawn`` (``chain_mixing_weights``, ``weight_sample`` and ``layer_idxes``, (num_chains,
    chain_depth) numbers into ``OPERATIONS``, the operations' count for "none") and each chain's
    applied layers in ``applied``.

    Example
    -------
    >>> layer = AugMix(value_range=(0, 1), seed=0)
    >>> x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    >>> out = layer(x, training=True)
    >>> out.shape, bool(out.min() >= 0 and out.max() <= 1), len(layer.applied)
    ((2, 8, 8, 3), True, 3)
    >>> bool((layer(x, training=False) == x).all())               # inference: the images as they are
    True
    """

    _range_effect = "to which it clips them in training (and inference does not)"

    _moves_boxes = False         # Keras 3.15's passes boxes unmoved though its chains move the images

    _group_arguments = "num_chains x chain_depth"

    @classmethod
    def _config_groups(cls, config):
        return config_count(config, "num_chains", 3) * config_count(config, "chain_depth", 3)

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3, alpha=1.0, all_ops=True,
                 interpolation="bilinear", seed=None, data_format=None, **kwargs):
        if "bounding_box_format" in kwargs:     # refused by name and why, as CutMix's (box_moves.py)
            from .box_moves import take_box_format
            take_box_format(self, kwargs)
        self.num_chains = _positive_int(num_chains, "num_chains", "the number of augmented copies mixed")
        if isinstance(chain_depth, (tuple, list)):
            raise ValueError(f"AugMix: chain_depth must be a positive integer (Keras 3's: each chain takes chain_depth "
                             f"steps, each an operation or none), got {chain_depth!r:.80}; KerasCV's (min, max) range "
                             f"is not taken")
        self.chain_depth = _positive_int(chain_depth, "chain_depth", "the steps of each chain, each an operation or none")
        if (isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating))
                or not math.isfinite(alpha) or alpha <= 0):
            raise ValueError(f"AugMix: alpha must be a finite number > 0 (the Dirichlet and Beta distributions' "
                             f"concentration), got {alpha!r:.80}")
        if not isinstance(all_ops, (bool, np.bool_)):
            raise ValueError(f"AugMix: all_ops must be True or False, got {all_ops!r:.80}")
        check_choice(interpolation, "AugMix: interpolation", INTERPOLATIONS)
        self.alpha, self.all_ops, self.interpolation = float(alpha), bool(all_ops), interpolation
        self.factor = _unsigned_pair(factor, "AugMix", "factor")
        self._take_value_range(value_range)
        self.ops = OPERATIONS if self.all_ops else OPERATIONS[:BASIC_OPERATIONS]
        # one set of the operations per step of each chain: each pick its own draws and cache
        steps = self._make_groups(seed, lambda: [[make(self.factor, value_range, interpolation) for _, make in self.ops]
                                                 for _ in range(self.chain_depth * self.num_chains)])
        self.chains = [steps[c * self.chain_depth:(c + 1) * self.chain_depth] for c in range(self.num_chains)]
        self._name_operations(self.ops)
        super().__init__(seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.applied = []
        self._adopt()

    def _inner_layers(self):
        return tuple((f"chain_{c}_step_{d}_{name}_", layer) for c, chain in enumerate(self.chains)
                     for d, step in enumerate(chain) for (name, _), layer in zip(self.ops, step))

    def _check_channels(self, sample_shape):
        check_rank(self, tuple(sample_shape))
        c = tuple(sample_shape)[-1]
        if self.all_ops and c is not None and c not in (1, 3):
            raise ValueError(f"{self.describe()}: expected gray or RGB images (1 or 3 channels; RandomColorDegeneration "
                             f"is one of its operations, all_ops=False leaves it out), (batch, height, width, 1 or 3), "
                             f"got {c} channel{'s' if c != 1 else ''}: shape (batch, {', '.join(map(str, sample_shape))})")

    def _groups(self):
        """The steps of every chain in turn, each a set of the operations."""
        return [step for chain in self.chains for step in chain]

    def _applied_layers(self):
        return [layer for applied in self.applied for layer in applied]      # one list per chain

    def forward(self, x, training=False):
        self._start(x)
        if not training:
            return x
        _RandomIntensity._check_range(self, x)
        generator = self._generator()
        gammas = generator.gamma(self.alpha, size=self.num_chains)
        if not gammas.sum() > 0:    # every draw underflowed (alpha << 1): Dirichlet(alpha -> 0) sits on a vertex
            gammas = np.eye(self.num_chains)[generator.integers(self.num_chains)]
        weights = gammas / gammas.sum()
        blend = generator.beta(self.alpha, self.alpha)
        picks = generator.integers(0, len(self.ops) + 1, size=(self.num_chains, self.chain_depth))
        self._drawn = {"chain_mixing_weights": weights, "weight_sample": blend, "layer_idxes": picks}
        t = x.dtype.type
        self._weights, self._blend = [t(w) for w in weights], t(blend)      # Keras' casts, to the images' dtype
        mixed = np.zeros_like(x)
        for c, chain in enumerate(self.chains):
            images, applied = x, []
            for d, pick in enumerate(picks[c]):
                if pick < len(self.ops):
                    layer = chain[d][pick]
                    images = layer.forward(images, training=True)
                    applied.append(layer)
            self.applied.append(applied)
            mixed += images * self._weights[c]
        out = self._blend * x + (t(1) - self._blend) * mixed
        self._kept = (out >= self.value_range[0]) & (out <= self.value_range[1])
        return np.clip(out, *self.value_range, out=out)

    def _check_dict(self, labels, masks, n, training):
        if training and masks is not None:          # class ids refused before the draws (segmentation.py)
            from .segmentation import check_mixable
            check_mixable(self, masks)

    def _transform_masks(self, masks):
        """Keras' rule: each chain's operations move the masks (nearest, the geometric ones), and
        the chains are mixed and blended as the images were (no clip): floats only."""
        if not self.applied:                        # outside training: as they are
            return masks
        from .segmentation import check_mixable
        check_mixable(self, masks)
        t = masks.dtype.type
        blend = t(self._drawn["weight_sample"])
        mixed = masks * t(0)
        for weight, applied in zip(self._drawn["chain_mixing_weights"], self.applied):
            chain = masks
            for layer in applied:
                chain = layer._transform_masks(chain)
            mixed += chain * t(weight)
        return blend * masks + (t(1) - blend) * mixed

    def backward(self, grad_output):
        if not self.needs_input_gradient:           # the usual place: a model's first layer
            return None
        if not self.applied:                        # outside training: the identity
            return grad_output
        g = grad_output * self._kept
        t = g.dtype.type
        grad = self._blend * g
        for weight, applied in zip(self._weights, self.applied):
            chain_grad = g
            for layer in reversed(applied):
                chain_grad = layer.backward(chain_grad)
            grad += ((t(1) - self._blend) * weight) * chain_grad
        return grad

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range), "num_chains": self.num_chains,
                "chain_depth": self.chain_depth, "factor": list(self.factor), "alpha": self.alpha,
                "all_ops": self.all_ops, "interpolation": self.interpolation, **config_entry(self)}
