"""RandAugment: Keras 3's all-in-one augmentation, ``num_ops`` operations picked at random from
eleven of glassnet's own image layers and applied in turn, in training only. It holds those
layers (as a Pipeline holds its own): their maths, draws and gradients are theirs."""
import numpy as np

from .._flagless import NOT_GIVEN
from .._validation import check_choice, check_seed
from ..random import SeedGenerator
from .augmentation import (INTERPOLATIONS, RandomBrightness, RandomContrast, RandomRotation, RandomShear,
                           RandomTranslation, _RandomIntensity, _unsigned_pair)
from .conv import check_rank
from .color_augmentation import AutoContrast, RandomColorDegeneration, RandomPosterization, Solarization
from .equalization import Equalization
from .sharpness import RandomSharpness
from .base import LAYERS
from .box_moves import box_config, take_box_format
from .data_format import DataFormat, config_entry, sample_last, set_data_format
from .keras_state import members_unrecorded, record_member_seeds
from .wrappers import _Wrapper

# Keras 3.15's operations, in its order (the numbers layer_idxes draws), each made from
# (factor (lower, upper), value_range, interpolation) as Keras makes it
OPERATIONS = (
    ("random_shear", lambda f, r, i: RandomShear(x_factor=f, y_factor=f, interpolation=i)),
    ("random_translation", lambda f, r, i: RandomTranslation(f, f, interpolation=i)),
    ("random_rotation", lambda f, r, i: RandomRotation(f, interpolation=i)),
    ("random_brightness", lambda f, r, i: RandomBrightness(f, value_range=r)),
    ("random_color_degeneration", lambda f, r, i: RandomColorDegeneration(f, value_range=r)),
    ("random_contrast", lambda f, r, i: RandomContrast(f, value_range=r)),
    ("random_sharpness", lambda f, r, i: RandomSharpness(f, value_range=r)),
    ("random_posterization", lambda f, r, i: RandomPosterization(max(1, int(8 * f[1])), value_range=r)),
    ("solarization", lambda f, r, i: Solarization(addition_factor=f, threshold_factor=f, value_range=r)),
    ("auto_contrast", lambda f, r, i: AutoContrast(value_range=r)),
    ("equalization", lambda f, r, i: Equalization(value_range=r)),
)


# the most groups of operations (RandAugment's num_ops, AugMix's num_chains * chain_depth) a config
# may ask for: see _Operations.from_config
MAX_CONFIG_GROUPS = 256


def config_count(config, key, default):
    """``config[key]`` (``default`` when absent) if it is an integer, else 0 (for the constructor to refuse)."""
    value = config.get(key, default)
    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else 0


class _Operations(DataFormat, _Wrapper):
    """What RandAugment and AugMix share: glassnet's own image layers as operations (``OPERATIONS``,
    groups of them, one group per pick or chain step, ``_groups``), built through the wrapper,
    picked per batch in training, the images' range checked once on the input. A subclass says
    its groups, checks its channels (``_check_channels``) and, in ``forward`` after ``_start``,
    applies its picks, keeping the layers it applied (``applied``, ``_applied_layers``)."""

    self_contained = True          # a Pipeline may hold it (Keras': Pipeline([RandomFlip(), RandAugment()]))
    rank = 2
    training_default = True     # Keras' call(self, data, training=True): see Layer.training_default
    stacks_lists = True          # called alone on a list of arrays: one array, as Keras' (layers/base.py)

    def _take_value_range(self, value_range):
        """``value_range`` checked as the intensity layers check it, in this layer's words."""
        try:
            with members_unrecorded():      # (a check: no seed record, no SeedGenerator name taken)
                self.value_range = RandomBrightness(0.0, value_range=value_range).value_range
        except ValueError as error:
            raise ValueError(f"{type(self).__name__}:" + str(error).split(":", 1)[1]) from None

    def _make_groups(self, seed, make_groups):
        """``make_groups()`` (the groups of operations), with Keras' seed records: the layer's own
        first, then one per random operation of the first group (Keras makes one set), in turn;
        the other groups' operations hold none (layers/keras_state.py)."""
        self.seed_generator = SeedGenerator(check_seed(seed, f"{type(self).__name__}: seed") or 0)
        with members_unrecorded():
            groups = make_groups()
        record_member_seeds(groups[0] if groups else (), seed)
        return groups

    def _name_operations(self, operations):
        """Keras' names, a number for each group after the first; and the range check left to
        this layer: an operation's input is the one before's output, where a bilinear sampling
        may overshoot 255 by an ulp."""
        for k, group in enumerate(self._groups()):
            for (name, _), layer in zip(operations, group):
                layer.name = name if k == 0 else f"{name}_{k}"
                layer._range_checked = True
        self._range_checked = False

    def _groups(self):
        raise NotImplementedError

    @classmethod
    def _config_groups(cls, config):
        """How many groups of operations ``config`` asks for (0 when its counts are not integers,
        which the constructor refuses with its own message)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        # each group is a dozen layers, made at once by the constructor: a config of a few bytes
        # (JSON, a model file) saying num_ops=10**6 would have load_model build ten million layers,
        # tens of GB and hours, before any check on the file's size applies. A config is refused
        # beyond MAX_CONFIG_GROUPS, far above any augmentation in use (Keras' defaults: 2, and 3 x 3)
        groups = cls._config_groups(config)
        if groups > MAX_CONFIG_GROUPS:
            raise ValueError(f"{cls.__name__}.from_config: the config asks for {groups:,} groups of operations "
                             f"({cls._group_arguments}), more than a config may ({MAX_CONFIG_GROUPS}): a "
                             f"damaged or crafted description")
        return super().from_config(config)

    def _applied_layers(self):
        return self.applied

    def build(self, input_shape):
        self._check_channels(tuple(input_shape))
        for prefix, layer in self._inner_layers():
            self._build_inner(layer, prefix, tuple(input_shape))
        super().build(input_shape)
        # each operation's attributes once built: what a forward pass adds beyond them is its cache
        for _, layer in self._inner_layers():
            layer._built_attributes = frozenset(vars(layer)) | {"_built_attributes"}

    def _release_caches(self):
        """Drop what the last call's applied layers cached for their backward pass: each operation
        picked once keeps its batch-sized arrays until picked again (AugMix's 99: some 130
        batches' worth), where a call needs those of the ones it applies."""
        for layer in self._applied_layers():
            for name in set(vars(layer)) - vars(layer).get("_built_attributes", set(vars(layer))):
                delattr(layer, name)

    def check_input_shape(self, sample_shape):
        self._check_channels(tuple(sample_shape))
        groups = self._groups()
        for layer in groups[0] if groups else ():
            layer.check_input_shape(tuple(sample_shape))

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def __call__(self, x, training=NOT_GIVEN, mask=None):
        if isinstance(x, dict):     # Keras' {"images", "labels", "segmentation_masks"}: see segmentation.py
            from .segmentation import call_on_dict
            return call_on_dict(self, x, training, mask)
        return super().__call__(x, training=training, mask=mask)

    def _transform_labels(self, labels, n):
        return labels            # none of the operations mixes images (Keras' pass labels through)

    def _start(self, x):
        """A forward pass's start: the channels checked, the last call's caches dropped, the
        operations linked to this layer's generator, nothing applied yet."""
        self._check_channels(x.shape[1:])
        self._release_caches()
        self._link()
        self.applied = []


del LAYERS["_Operations"]       # a shared base, not a layer a config may name


class RandAugment(_Operations):
    """Apply ``num_ops`` operations in turn to each training batch, each picked uniformly (with
    repeats) from Keras 3.15's eleven: RandomShear, RandomTranslation, RandomRotation,
    RandomBrightness, RandomColorDegeneration, RandomContrast, RandomSharpness,
    RandomPosterization, Solarization, AutoContrast and Equalization. ``factor`` (a number f in
    [0, 1], the range [0, f], or a pair (lower, upper) in [0, 1]; 0.5 by default) is every
    operation's range, as Keras gives it: shears, translations (down and right only) and
    rotations (counter-clockwise only, up to ``upper`` x 360 degrees: 180 by default) in that
    range, brightness added, contrast in [1 - lower, 1 + upper], sharpness, fading to gray and
    solarization from it, and posterization keeping 1 to ``max(1, int(8 upper))`` bits.
    ``interpolation`` ("bilinear" or "nearest") is the geometric ones', whose fill is "reflect";
    ``value_range`` the others'. Images of 1 or 3 channels (RandomColorDegeneration's).

    As Keras, the operations are picked once per batch (every image of a batch goes through the
    same ones, each image with its own draws within them), and outside training nothing is
    applied (AutoContrast and Equalization included). Where Keras picks an operation twice, it
    applies its one draw twice; glassnet draws anew each time (each pick is a layer of its own).
    Each operation is glassnet's layer, so its values are Keras' where that layer's are, and its
    documented differences stay (RandomPosterization keeps up to ``int(8 upper)`` bits where
    Keras keeps one fewer; Equalization's histogram is each image's, not the batch's). Since each
    pick is a set of layers made at once, a config (JSON, a model file) asking for more than 256
    (``MAX_CONFIG_GROUPS``) is refused, by ``from_config`` and so by ``save``: a few bytes could
    otherwise make loading build millions of layers.

    Gradient: the chosen layers' backward passes, in reverse (0 through posterization's and
    equalization's flat steps). The last training call's picks are in ``_drawn["layer_idxes"]``
    (numbers into ``OPERATIONS``), and each pick's layer in ``applied``.

    Example
    -------
    >>> layer = RandAugment(value_range=(0, 1), num_ops=3, seed=0)
    >>> x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    >>> out = layer(x, training=True)
    >>> out.shape, bool(out.min() >= 0 and out.max() <= 1), len(layer.applied)
    ((2, 8, 8, 3), True, 3)
    >>> bool((layer(x, training=False) == x).all())               # inference: the images as they are
    True
    """

    _range_effect = "to which its operations clip them in training (and inference does not)"

    _group_arguments = "num_ops"

    @classmethod
    def _config_groups(cls, config):
        return config_count(config, "num_ops", 2)

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear", seed=None, data_format=None,
                 **kwargs):
        if isinstance(num_ops, bool) or not isinstance(num_ops, (int, np.integer)) or num_ops < 0:
            raise ValueError(f"RandAugment: num_ops must be a non-negative integer (the number of operations "
                             f"applied to each batch), got {num_ops!r:.80}")
        check_choice(interpolation, "RandAugment: interpolation", INTERPOLATIONS)
        self.num_ops, self.interpolation = int(num_ops), interpolation
        self.factor = _unsigned_pair(factor, "RandAugment", "factor")
        self._take_value_range(value_range)
        take_box_format(self, kwargs)       # Keras' bounding_box_format, handed to every operation
        # one set of the eleven per pick: a layer picked twice keeps each forward pass's cache
        self.operations = self._make_groups(seed, lambda: [[make(self.factor, value_range, interpolation)
                                                            for _, make in OPERATIONS] for _ in range(self.num_ops)])
        for ops in self.operations:
            for op in ops:
                op.bounding_box_format = self.bounding_box_format
        self._name_operations(OPERATIONS)
        super().__init__(seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.applied = []
        self._adopt()

    def _inner_layers(self):
        return tuple((f"op_{k}_{name}_", layer) for k, ops in enumerate(self.operations)
                     for (name, _), layer in zip(OPERATIONS, ops))

    def _check_channels(self, sample_shape):
        check_rank(self, tuple(sample_shape))
        c = tuple(sample_shape)[-1]
        if c is not None and c not in (1, 3):
            raise ValueError(f"{self.describe()}: expected gray or RGB images (1 or 3 channels; RandomColorDegeneration "
                             f"is one of its operations), (batch, height, width, 1 or 3), got {c} channel"
                             f"{'s' if c != 1 else ''}: shape (batch, {', '.join(map(str, sample_shape))})")

    def _groups(self):
        return self.operations

    def forward(self, x, training=False):
        self._start(x)
        if not training:
            return x
        _RandomIntensity._check_range(self, x)
        picks = self._generator().integers(0, len(OPERATIONS), size=self.num_ops)
        self._drawn = {"layer_idxes": picks}
        for k, pick in enumerate(picks):
            layer = self.operations[k][pick]
            x = layer.forward(x, training=True)
            self.applied.append(layer)
        return x

    _moves_boxes = True          # every operation does (box_moves.py)

    def _box_steps(self, input_shape):
        # the picked operations in turn (none outside training), on channels-last images of one size
        shape = sample_last(input_shape) if self.data_format == "channels_first" else tuple(input_shape)
        return [(layer, shape, shape) for layer in self.applied]

    def _transform_masks(self, masks):
        # Keras': the picked operations' own rules, in turn (the geometric ones move the masks,
        # nearest; the others leave them); nothing picked outside training
        for layer in self.applied:
            masks = layer._transform_masks(masks)
        return masks

    def backward(self, grad_output):
        if not self.needs_input_gradient:           # the usual place: a model's first layer
            return None
        grad = grad_output
        for layer in reversed(self.applied):
            grad = layer.backward(grad)
        return grad

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range), "num_ops": self.num_ops,
                "factor": list(self.factor), "interpolation": self.interpolation, **config_entry(self),
                **box_config(self)}

