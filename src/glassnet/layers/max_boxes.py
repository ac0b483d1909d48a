"""Keras' ``MaxNumBoundingBoxes``: every image's boxes padded or cut to one number, so that a
batch of detection targets is one array ``(batch, max_number, 4)``.

It acts on Keras' dict form of data only, ``{"images": ..., "bounding_boxes": {"boxes", "labels"},
...}``: the boxes and their labels are cut to the first ``max_number`` or padded with
``fill_value`` (boxes and labels alike, as Keras does); everything else passes through as it came.
Called on an array (or inside a model) it is the identity, as Keras' is on images.
"""
import numpy as np

from .._flagless import NOT_GIVEN
from .._validation import check_choice, check_positive_int
from .. import backend
from .base import Layer
from .data_format import FORMATS

_KEYS = ("images", "labels", "segmentation_masks", "bounding_boxes")


class MaxNumBoundingBoxes(Layer):
    """Pads or cuts the dict form's bounding boxes to ``max_number`` per image.

    max_number : positive int, the boxes per image out
    fill_value : int, the padding of both the boxes' coordinates and the labels (default -1, the
        label of "no box")
    bounding_box_format : the boxes' format (Keras requires one with bounding boxes; it only
        records it here: padding and cutting do not depend on it)

    Example
    -------
    >>> import numpy as np
    >>> out = MaxNumBoundingBoxes(3, bounding_box_format="xyxy")({
    ...     "images": np.zeros((1, 8, 8, 3)),
    ...     "bounding_boxes": {"boxes": np.ones((1, 2, 4)), "labels": np.array([[4, 5]])}})
    >>> out["bounding_boxes"]["labels"].tolist(), out["bounding_boxes"]["boxes"].shape
    ([[4, 5, -1]], (1, 3, 4))
    """
    built_when_made = True      # no weights
    training_default = True     # Keras' call(self, data, training=True); it pads either way

    def __init__(self, max_number, fill_value=-1, bounding_box_format=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.max_number = check_positive_int(max_number, "MaxNumBoundingBoxes: max_number")
        if isinstance(fill_value, bool) or not isinstance(fill_value, (int, np.integer)):
            raise TypeError(f"MaxNumBoundingBoxes: fill_value: expected an int, got "
                            f"{type(fill_value).__name__} {fill_value!r:.40}")
        self.fill_value = int(fill_value)
        if bounding_box_format is not None:
            from .._box_formats import check_format
            check_format(bounding_box_format, "MaxNumBoundingBoxes: bounding_box_format")
        self.bounding_box_format = bounding_box_format
        self.data_format = check_choice(backend.standardize_data_format(data_format),
                                        "MaxNumBoundingBoxes: data_format", FORMATS)

    def __call__(self, x, training=NOT_GIVEN, mask=None):
        if isinstance(x, dict):
            return self._call_on_dict(x)
        return super().__call__(x, training=training, mask=mask)

    def _call_on_dict(self, data):
        unknown = sorted(set(data) - set(_KEYS), key=str)
        if "images" not in data or unknown:
            raise ValueError(f"MaxNumBoundingBoxes: a dict input takes the keys {_KEYS} ('images' required), "
                             f"got {sorted(data, key=str)}")
        out = dict(data)
        if "bounding_boxes" not in data:
            return out
        if self.bounding_box_format is None:
            raise ValueError("MaxNumBoundingBoxes: bounding_box_format: needed with 'bounding_boxes' (as Keras "
                             "asks), e.g. MaxNumBoundingBoxes(10, bounding_box_format='xyxy'), got None")
        boxes_dict = data["bounding_boxes"]
        if not isinstance(boxes_dict, dict) or not {"boxes", "labels"} <= set(boxes_dict):
            raise ValueError(f"MaxNumBoundingBoxes: bounding_boxes: expected a dict with the keys 'boxes' and "
                             f"'labels', got {type(boxes_dict).__name__} {sorted(boxes_dict, key=str) if isinstance(boxes_dict, dict) else ''}")
        boxes, labels = np.asarray(boxes_dict["boxes"]), np.asarray(boxes_dict["labels"])
        if boxes.ndim not in (2, 3) or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:-1]:
            raise ValueError(f"MaxNumBoundingBoxes: bounding_boxes: expected boxes (batch, N, 4) or (N, 4) and "
                             f"labels (batch, N) or (N,), got boxes {boxes.shape} and labels {labels.shape}")
        axis = boxes.ndim - 2           # the boxes' axis: 1 batched, 0 for one image
        out["bounding_boxes"] = {**boxes_dict, "boxes": self._fit(boxes, axis), "labels": self._fit(labels, axis)}
        return out

    def _fit(self, array, axis):
        kept = np.take(array, np.arange(min(array.shape[axis], self.max_number)), axis=axis)
        widths = [(0, 0)] * array.ndim
        widths[axis] = (0, self.max_number - kept.shape[axis])
        return np.pad(kept, widths, constant_values=self.fill_value)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output

    def get_config(self):
        # Keras' get_config leaves fill_value out (its default -1 comes back); glassnet keeps it
        return {**super().get_config(), "max_number": self.max_number, "fill_value": self.fill_value,
                "bounding_box_format": self.bounding_box_format, "data_format": self.data_format}
