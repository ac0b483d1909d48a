"""RandomColorJitter: Keras 3's chain of RandomBrightness, RandomContrast, RandomSaturation and
RandomHue, in that order, as one layer. It holds glassnet's own four layers (a Pipeline of
them, with a config of its own): their maths, draws and gradients are theirs, not copied here."""
from .._validation import check_seed
from ..random import SeedGenerator
from .augmentation import RandomBrightness, RandomContrast
from .hsv_augmentation import RandomHue, RandomSaturation
from .box_moves import box_config, take_box_format
from .data_format import DataFormat, config_entry, set_data_format
from .keras_state import members_unrecorded, record_member_seeds
from .pipeline import Pipeline

# (argument, member layer, its attribute here, its key in _drawn), in Keras' order
MEMBERS = (("brightness_factor", RandomBrightness, "random_brightness", "brightness"),
           ("contrast_factor", RandomContrast, "random_contrast", "contrast"),
           ("saturation_factor", RandomSaturation, "random_saturation", "saturation"),
           ("hue_factor", RandomHue, "random_hue", "hue"))


def _member(cls, argument, factor, value_range):
    """``cls(factor, value_range)``, its errors told in RandomColorJitter's words."""
    try:
        return cls(factor, value_range=value_range)
    except ValueError as error:
        message = str(error).replace(f"{cls.__name__}: factor", f"RandomColorJitter: {argument}", 1)
        raise ValueError(message.replace(f"{cls.__name__}:", "RandomColorJitter:", 1)) from None


class RandomColorJitter(DataFormat, Pipeline):
    """Change each image's brightness, contrast, saturation and hue, in that order (Keras'), each
    by its own layer's draw per image: ``RandomBrightness(brightness_factor)``,
    ``RandomContrast(contrast_factor)``, ``RandomSaturation(saturation_factor)`` and
    ``RandomHue(hue_factor)``, all with ``value_range``; a factor left None skips its step (at
    least one is needed). Training only, as the four; they draw, in turn, from this layer's
    generator (the model's seed, or ``seed``).

    The values are the four layers' for the same draws, so they equal Keras 3.15's where those
    do, and differ where glassnet's layers follow Keras' documentation against its code (see
    their docstrings): a number f for ``contrast_factor`` draws from [1 - f, 1 + f] (Keras 3.15:
    [1, 1 + f]); a number f for ``saturation_factor`` from [0, f] (Keras: [-f, f]), with the
    saturation clipped to [0, 1] (Keras: to ``value_range``) and ranges such as (-1, 1) shifted
    to 0 first. Brightness and hue are Keras'. The gradient is the four backward passes, chained.

    The member layers are ``layers`` (and ``random_brightness``, ... for the steps given); the
    draws of the last training call are in ``_drawn``: ``{"brightness": {"rgb_delta": ...},
    "contrast": {"contrast_factor": ...}, "saturation": {"factor", "saturation"}, "hue":
    {"delta"}}``, each of length batch, for the steps given. Saturation and hue need RGB images.

    Example
    -------
    >>> import numpy as np
    >>> layer = RandomColorJitter(value_range=(0, 1), brightness_factor=(0.5, 0.5), contrast_factor=(0.0, 0.0), seed=0)
    >>> layer(np.array([[[[0.2]], [[0.4]]]]), training=True)[0, :, 0, 0].astype(float).round(6).tolist()
    [0.7, 0.9]
    """

    self_contained = True          # a Pipeline may hold it (Keras': Pipeline([RandomFlip(), RandAugment()]))
    _moves_boxes = True            # colours only: its members pass the boxes as they are (Keras')

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None, saturation_factor=None,
                 hue_factor=None, seed=None, data_format=None, **kwargs):
        given = {"brightness_factor": brightness_factor, "contrast_factor": contrast_factor,
                 "saturation_factor": saturation_factor, "hue_factor": hue_factor}
        members = []
        # Keras' seed records: its own, then its members' (made with its seed), in turn (layers/keras_state.py)
        self.seed_generator = SeedGenerator(check_seed(seed, "RandomColorJitter: seed") or 0)
        for argument, cls, attribute, _ in MEMBERS:
            with members_unrecorded():
                layer = None if given[argument] is None else _member(cls, argument, given[argument], value_range)
            setattr(self, attribute, layer)
            if layer is not None:
                members.append(layer)
                record_member_seeds([layer], seed)
        if not members:
            # Keras takes it and changes nothing; a layer that never acts is more likely a mistake
            raise ValueError("RandomColorJitter: give at least one of brightness_factor, contrast_factor, "
                             "saturation_factor and hue_factor (all None would change nothing)")
        take_box_format(self, kwargs)       # Keras' bounding_box_format, its members' too (box_moves.py)
        for layer in members:
            layer.bounding_box_format = self.bounding_box_format
        super().__init__(members, seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.value_range = members[0].value_range

    def _check_channels(self, sample_shape):
        """Saturation and hue read HSV: RGB images only (brightness and contrast take any)."""
        hsv = [argument for argument, _, attribute, _ in MEMBERS[2:] if getattr(self, attribute) is not None]
        c = tuple(sample_shape)[-1] if len(sample_shape) else None
        if hsv and c is not None and c != 3:
            raise ValueError(f"{self.describe()}: {' and '.join(hsv)} need{'s' if len(hsv) == 1 else ''} RGB images "
                             f"(batch, height, width, 3), got {c} channel{'s' if c != 1 else ''}: shape "
                             f"(batch, {', '.join(map(str, sample_shape))})")

    def build(self, input_shape):
        self._check_channels(tuple(input_shape))
        super().build(input_shape)

    def check_input_shape(self, sample_shape):
        self._check_channels(tuple(sample_shape))
        super().check_input_shape(sample_shape)

    def forward(self, x, training=False):
        self._check_channels(x.shape[1:])
        out = super().forward(x, training)
        if training:
            self._drawn = {key: getattr(self, attribute)._drawn for _, _, attribute, key in MEMBERS
                           if getattr(self, attribute) is not None}
        return out

    def get_config(self):
        # its own arguments, not a list of layers
        config = {**super(Pipeline, self).get_config(), **config_entry(self), **box_config(self)}
        for argument, _, attribute, _ in MEMBERS:
            layer = getattr(self, attribute)
            config[argument] = None if layer is None else list(layer.factor)
        return {**config, "value_range": list(self.value_range)}
