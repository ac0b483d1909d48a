"""Keras' ``keras.visualization.draw_bounding_boxes`` and ``draw_segmentation_masks`` in NumPy
(re-exported by glassnet.visualization).

Keras draws boxes with OpenCV (``cv2.rectangle``, ``cv2.putText``); glassnet paints each box's
four edges ``line_thickness`` pixels wide, centred on the box's edges as OpenCV centres its lines,
clipped to the image, and writes class names with Pillow's default font (the ``plot`` extra, imported
only when there is a name to write). The pixels are close to OpenCV's, not identical.
``draw_segmentation_masks`` is Keras' tensor arithmetic, step for step: the values equal Keras'.
"""
import numpy as np

from .backend import image_data_format
from ._box_formats import check_boxes


def nhwc_images(images, data_format, caller):
    """``images`` as a (batch, height, width, channels) array (moved from channels-first when so)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{caller}: images: expected a batch of images, 4 axes, got shape {images.shape}")
    if images.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: images: expected numbers, got dtype {images.dtype}")
    data_format = data_format or image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{caller}: data_format: expected 'channels_last' or 'channels_first', got {data_format!r}")
    return (images.transpose(0, 2, 3, 1) if data_format == "channels_first" else images), data_format


def _to_uint8(images):
    # Keras' rule: floats up to 1 are taken as [0, 1] images, larger ones as [0, 255]
    if images.dtype.kind == "f" and images.size > 0:
        images = np.clip(images, 0, 1) * 255 if images.max() <= 1.0 else np.clip(images, 0, 255)
    return images.astype("uint8")


def _paint_rectangle(image, x1, y1, x2, y2, color, thickness):
    """Paint the edges of [x1, x2] x [y1, y2] (pixel indices, inclusive) in place; a negative
    ``thickness`` fills the box (OpenCV's convention)."""
    height, width = image.shape[:2]
    if thickness < 0:
        image[max(y1, 0):max(y2 + 1, 0), max(x1, 0):max(x2 + 1, 0)] = color
        return
    before, after = thickness // 2, (thickness - 1) // 2      # a line of `thickness` pixels centred on the edge
    outer = np.zeros((height, width), bool)
    outer[max(y1 - before, 0):max(y2 + after + 1, 0), max(x1 - before, 0):max(x2 + after + 1, 0)] = True
    inner_y = slice(max(y1 + after + 1, 0), max(y2 - before, 0))
    inner_x = slice(max(x1 + after + 1, 0), max(x2 - before, 0))
    outer[inner_y, inner_x] = False
    image[outer] = color


def _write_text(image, text, x, y, color, font_scale):
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as exc:
        raise ImportError("glassnet.visualization.draw_bounding_boxes() writes class names with Pillow: "
                          "pip install 'glassnet[plot]'") from exc
    size = max(int(round(22 * font_scale)), 1)       # the height of OpenCV's HERSHEY_SIMPLEX at font_scale 1
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:                                 # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    squeeze = image.shape[-1] == 1
    canvas = Image.fromarray(image[..., 0] if squeeze else image)
    # OpenCV places text by its bottom-left corner; Pillow's "ls" anchor is the same point
    fill = color[0] if squeeze else tuple(int(c) for c in color)
    ImageDraw.Draw(canvas).text((x, y), text, fill=fill, font=font, anchor="ls")
    drawn = np.asarray(canvas)
    image[...] = drawn[..., None] if squeeze else drawn


def _text_location(x, y, font_scale, thickness):
    # Keras' _find_text_location: above the box, or inside it when there is no room above
    font_height = int(font_scale * 12)
    if y - 8 - 2 * font_height > 0:
        return x, y - 8
    return x + 3, y + 2 * font_height + thickness + 3


def draw_bounding_boxes(images, bounding_boxes, bounding_box_format, class_mapping=None, color=(128, 128, 128),
                        line_thickness=2, text_thickness=1, font_scale=1.0, data_format=None):
    """Images with their boxes drawn on them.

    images : (batch, height, width, channels) (or channels-first); floats up to 1 are read as
        [0, 1], other floats as [0, 255]
    bounding_boxes : {"boxes": (batch, N, 4), "labels": (batch, N), "confidences": (batch, N)
        optional}; a box labelled -1 is not drawn
    class_mapping : {label: name}; a box whose label is in it gets its name (and confidence)
    Returns uint8 images of the input's shape.
    """
    caller = "draw_bounding_boxes"
    nhwc, data_format = nhwc_images(images, data_format, caller)
    if not isinstance(bounding_boxes, dict):
        raise TypeError(f"{caller}: bounding_boxes: expected a dict, got {type(bounding_boxes).__name__}")
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError(f"{caller}: bounding_boxes: expected the keys 'boxes' and 'labels', "
                         f"got {sorted(bounding_boxes, key=str)}")
    class_mapping = class_mapping or {}
    thickness = int(line_thickness)
    text_thickness = text_thickness or thickness
    from .bounding_boxes import convert_format
    height, width, channels = nhwc.shape[1:]
    boxes = check_boxes(bounding_boxes["boxes"], f"{caller}: bounding_boxes['boxes']")
    boxes = convert_format(boxes, bounding_box_format, "xyxy", height, width)
    labels = np.asarray(bounding_boxes["labels"])
    if boxes.shape[:-1] != (nhwc.shape[0], *boxes.shape[1:-1]) or labels.shape != boxes.shape[:-1]:
        raise ValueError(f"{caller}: bounding_boxes: expected boxes (batch={nhwc.shape[0]}, N, 4) and labels "
                         f"(batch, N), got boxes {boxes.shape} and labels {labels.shape}")
    confidences = bounding_boxes.get("confidences")
    color = np.array((list(color) + [0] * channels)[:channels], "uint8")
    out = _to_uint8(nhwc)
    for i in range(out.shape[0]):
        for j in range(boxes.shape[1]):
            c = int(labels[i, j])
            if c == -1:
                continue
            x1, y1, x2, y2 = (int(v) for v in boxes[i, j].astype("int32"))
            _paint_rectangle(out[i], x1, y1, x2, y2, color, thickness)
            if c in class_mapping:
                text = str(class_mapping[c])
                if confidences is not None:
                    text = f"{text} | {float(np.asarray(confidences)[i, j]):.2f}"
                _write_text(out[i], text, *_text_location(x1, y1, font_scale, text_thickness), color, font_scale)
    return out.transpose(0, 3, 1, 2) if data_format == "channels_first" else out


def _palette(num_classes):
    palette = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [((i * palette) % 255).tolist() for i in range(num_classes)]


def draw_segmentation_masks(images, segmentation_masks, num_classes=None, color_mapping=None, alpha=0.8, blend=True,
                            ignore_index=-1, data_format=None):
    """Images with their class masks painted over them.

    images : (batch, height, width, channels) (or channels-first)
    segmentation_masks : integer class ids, (batch, height, width, 1) or (batch, height, width)
        (channels-first: (batch, 1, height, width)); ids in [0, num_classes) are painted, as
        Keras' one-hot of them (so with ``num_classes=None``, Keras' ``max(masks)``, the largest
        id is not painted)
    color_mapping : {class id: (r, g, b)} for ids 0 to num_classes - 1; Keras' palette when None
    blend : blend the colours by ``alpha`` (uint8 result; ``ignore_index`` pixels left as they
        were), or paint them (float32 result)
    Returns an array in the images' layout.
    """
    caller = "draw_segmentation_masks"
    nhwc, data_format = nhwc_images(images, data_format, caller)
    masks = np.asarray(segmentation_masks)
    if masks.dtype.kind not in "iu":
        raise TypeError(f"{caller}: segmentation_masks: expected integer class ids, got dtype {masks.dtype}")
    if data_format == "channels_first" and masks.ndim == 4:
        masks = masks.transpose(0, 2, 3, 1)
    if masks.ndim == 3:
        masks = masks[..., None]
    if masks.shape != (*nhwc.shape[:3], 1):
        raise ValueError(f"{caller}: segmentation_masks: expected (batch, height, width, 1) = "
                         f"{(*nhwc.shape[:3], 1)}, got shape {np.shape(segmentation_masks)}")
    if num_classes is None:
        num_classes = int(masks.max())
    if color_mapping is None:
        colors = _palette(num_classes)
    else:
        missing = [i for i in range(num_classes) if i not in color_mapping]
        if missing:
            raise ValueError(f"{caller}: color_mapping: expected a colour for every class id 0 to "
                             f"{num_classes - 1}, missing {missing}")
        colors = [color_mapping[i] for i in range(num_classes)]
    images = nhwc.astype("float32")
    valid = masks[..., 0] != ignore_index
    drawn = images.copy()
    for k, color in enumerate(colors):
        drawn[masks[..., 0] == k] = np.array(color, "float32")
    outputs = drawn
    if blend:
        outputs = images * (1 - alpha) + drawn * alpha
        outputs = np.where(valid[..., None], outputs, images).astype("uint8")
    return outputs.transpose(0, 3, 1, 2) if data_format == "channels_first" else outputs
