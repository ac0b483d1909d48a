"""Keras' dict form of the image layers, ``layer({"images": ..., "labels": ...,
"segmentation_masks": ..., "bounding_boxes": ...})``, for data pipelines (a ``PyDataset``, a
generator): the images go through the layer as ever, and the same call's draws move the masks
with them (and the boxes, for the layers given a ``bounding_box_format``: box_moves.py).

Each image layer says how its last call moved the pixels, ``layer._transform_masks(masks)``,
called right after it on the masks of the same batch: the geometric layers replay their draws
with nearest-neighbour sampling (a mask holds class ids, which no interpolation may blend), the
pixel-value layers (brightness, hue, blur, erasing...) return the masks as they are. Labels pass
through, but for the mixing layers (MixUp, CutMix, AugMix), which mix them by their weights
(``_transform_labels``).

Inside a model, layers take arrays only (Keras' rule too): the dict form is for data.
"""
import numpy as np

from .._flagless import given_flag
from .. import backend
from .symbolic import is_symbolic

KEYS = ("images", "labels", "segmentation_masks")


def check_keys(layer, data):
    """Refuse a dict without "images", or with keys beyond ``KEYS`` (and "bounding_boxes" for a
    layer that moves them, box_moves.py), by name."""
    from .box_moves import takes_boxes
    cls = type(layer).__name__
    keys = KEYS + ("bounding_boxes",) if takes_boxes(layer) else KEYS
    unknown = sorted(set(data) - set(keys), key=str)
    if "images" in data and not unknown:
        return
    if "bounding_boxes" in unknown:
        from .box_moves import MOVERS
        why = (f"; {cls} does not move bounding_boxes in glassnet ({MOVERS} do, given a bounding_box_format: "
               f"docs/bounding_boxes.md)")
    elif unknown:
        why = f"; {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not one of them"
    else:
        why = "; 'images' is missing"
    taken = ("'labels', 'segmentation_masks' and 'bounding_boxes'" if "bounding_boxes" in keys
             else "'labels' and 'segmentation_masks'")
    raise ValueError(f"{cls}: a dict input takes the keys 'images' and, optionally, {taken}, "
                     f"got {sorted(data, key=str)}{why}")


def _data_format(layer):
    """The images' layout a layer reads: its own ``data_format``, or a Pipeline's first layer's
    (a Pipeline of channels-first layers takes channels-first images)."""
    inner = getattr(layer, "pipeline_layers", ())
    if "data_format" not in vars(layer) and inner:
        return _data_format(inner[0])
    return getattr(layer, "data_format", "channels_last")


def check_masks(layer, masks, images):
    """``masks`` as an array of the images' module, (batch, H, W, channels) as the images
    ``images`` (before the layer), numbers or booleans; (batch, channels, H, W) for a
    channels-first layer (its ``data_format``), whose images are so too."""
    cls = type(layer).__name__
    xp = backend.get_array_module(images)
    first = _data_format(layer) == "channels_first"
    axes = "(batch, channels, height, width)" if first else "(batch, height, width, channels)"
    if images.ndim != 4:
        # Keras' dict takes one image unbatched; the masks are not the ones at fault then
        raise ValueError(f"{cls}: images must be {axes} in the dict form, got shape "
                         f"{tuple(images.shape)}: a single image and its masks take a batch axis first, "
                         f"images[None] and segmentation_masks[None] (Keras takes them unbatched)")
    masks = xp.asarray(masks)
    if masks.dtype.kind not in "biuf":
        raise TypeError(f"{cls}: segmentation_masks must be numbers (class ids, or one-hot/probability channels), "
                        f"got dtype {masks.dtype}")

    def kept(shape):            # batch, height, width
        return (shape[0], *shape[2:]) if first else tuple(shape[:3])
    if masks.ndim != 4 or kept(masks.shape) != kept(images.shape):
        hint = ""
        if tuple(masks.shape) == kept(images.shape):
            hint = ", masks[:, None] adds the channel axis" if first else ", masks[..., None] adds the channel axis"
        raise ValueError(f"{cls}: segmentation_masks must be {axes} with the images' "
                         f"batch, height and width, {kept(images.shape)}, got shape {tuple(masks.shape)}{hint}")
    return masks


def call_on_dict(layer, data, training, mask):
    """``layer`` called on Keras' dict: the images through ``layer`` (training by default, as on
    any data), then the labels and masks through what that call drew; the same keys back."""
    check_keys(layer, data)
    images = data["images"]
    if is_symbolic(images):
        raise TypeError(f"{type(layer).__name__}: the dict form is for data, not for a model's tensors: in a model "
                        f"the layer takes the images alone")
    images = backend.get_array_module(images).asarray(images)
    masks = check_masks(layer, data["segmentation_masks"], images) if "segmentation_masks" in data else None
    if masks is not None:
        check_moves_masks(layer)           # before any draw: a layer that cannot move them is refused first
    training = given_flag(layer, training)      # none given: training (Keras' default); None: inference
    check_before_draws(layer, data.get("labels"), masks, images.shape[0], training)
    if "bounding_boxes" in data:        # refused before the draws too
        if images.ndim == 3:    # one image (height, width, channels): its height would read as the batch
            raise ValueError(f"{type(layer).__name__}: images: with bounding_boxes the dict form takes a batch "
                             f"(batch, height, width, channels), got one image of shape {tuple(images.shape)}: give "
                             f"images[None] with boxes[None] and labels[None]")
        from .box_moves import check_boxes_before
        check_boxes_before(layer, data["bounding_boxes"], images.shape[0])
    out = {"images": layer(images, training=training, mask=mask)}
    if "labels" in data:
        out["labels"] = layer._transform_labels(data["labels"], images.shape[0])
    if masks is not None:
        out["segmentation_masks"] = layer._transform_masks(masks)
    if "bounding_boxes" in data:
        from .box_moves import move_through
        out["bounding_boxes"] = move_through(layer, data["bounding_boxes"], images.shape[0], images.shape[1:],
                                             out["images"].shape[1:])
    return out


def check_moves_masks(layer, owner=None):
    """Refuse a layer that does not say how it moves masks (a Pipeline's Conv2D), by name."""
    if not hasattr(layer, "_transform_masks"):
        where = f"{type(owner).__name__}: its layer {layer.describe()}" if owner is not None else layer.describe()
        raise ValueError(f"{where} does not take segmentation_masks (not an image augmentation or preprocessing "
                         f"layer: how it moves pixels is not known); call the pipeline on the images alone")
    for inner in getattr(layer, "pipeline_layers", ()):
        check_moves_masks(inner, layer)


def check_before_draws(layer, labels, masks, n, training):
    """What ``layer`` would refuse of the labels and masks once its images' draws are made (labels
    or masks a mixing layer cannot mix, a fill the masks cannot hold), refused before them: a
    refused call leaves the generator where it was, and the next one draws what it would have.
    Each layer says what it refuses in ``_check_dict`` (a Pipeline asks its layers in turn); the
    masks keep their dtype through every layer, so those of the dict are the ones each one sees."""
    check = getattr(layer, "_check_dict", None)
    if check is not None:
        check(labels, masks, n, training)


def check_mask_fill(layer, masks):
    """Refuse a ``fill_value`` that the masks' dtype cannot hold, by name: uint8 masks filled with
    -1 read 255 and with 300 read 44 (a class from nowhere), int masks 2 for 2.5, booleans True for
    7 (Keras' TensorFlow cast wraps the same way, silently)."""
    dtype = masks.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        held = np.asarray(layer.fill_value, dtype=np.float64).astype(dtype)
        fits = np.isfinite(held) if dtype.kind == "f" else held.astype(np.float64) == layer.fill_value
    if not fits:
        raise ValueError(f"{type(layer).__name__}: fill_value={layer.fill_value!r} cannot be held by the "
                         f"segmentation_masks' dtype {dtype.name} (it would read {held.item()!r}); give a "
                         f"fill_value of that dtype, or masks of a dtype that holds it")


def nearest_sample(masks, sampling, fill_value):
    """The masks (n, H, W, C) read through ``sampling`` (``augmentation._sampling`` or
    ``elastic.map_sampling`` made with "nearest": one pixel per output, or ``fill_value``), as a
    gather: the masks' own dtype and values, no arithmetic (an inf or NaN stays where it goes)."""
    index, _, outside = sampling
    pixels = masks.reshape(index.shape[1], masks.shape[-1])
    out = pixels[index[0]]
    if outside is not None:
        # nearest sampling reads a pixel whole or not at all: outside is 0 or 1
        out[outside != 0] = np.asarray(fill_value).astype(masks.dtype).item()
    return out.reshape(masks.shape)


def check_mixable(layer, masks):
    """Masks a mixing layer blends (MixUp, AugMix): floats only, one-hot or probability channels."""
    if masks.dtype.kind not in "fc":
        raise TypeError(f"{type(layer).__name__}: segmentation_masks must be floats to be mixed (one-hot or "
                        f"probability channels, (batch, H, W, classes)), got {masks.dtype}: blended class ids "
                        f"mean nothing; one-hot encode them first (glassnet.utils.to_categorical)")
