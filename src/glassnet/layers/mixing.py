"""MixUp and CutMix: Keras 3's batch-mixing augmentations, each image paired with another of its
batch (a random permutation) and blended with it (MixUp) or given a rectangle of it (CutMix).

Called on data, as Keras' layers are, they take the images alone or a dict
``{"images": ..., "labels": ..., "segmentation_masks": ...}`` (``segmentation.py``), and mix the
labels (and masks) by the weights that mixed the images: the
dict form is the one that makes sense for training, the target saying how much of each class an
image holds. Inside a model (Keras' rule too) a layer sees the images alone: ``fit`` then mixes the
images of each training batch and leaves the targets as they were, and ``predict``/``evaluate``
pass the images unchanged. To mix the labels as well, mix the batches before the model sees them:
a ``PyDataset`` (or a generator) whose batches are ``mix({"images": x, "labels": y})`` (see
``MixUp``'s example), which ``fit`` reads as it reads any other.

Both are linear in the images for given draws: MixUp's backward sends each output gradient to the
two images it blended, by their weights; CutMix's sends it to the pixel it copied.
"""
import numpy as np

from .. import backend
from .._validation import check_number
from .data_format import set_data_format
from .augmentation import _RandomImage, _unsigned_pair, _where
from .base import LAYERS

class _MixImages(_RandomImage):
    """The shared part: the dict form, training by default when called on data, labels mixed."""

    def _transform_labels(self, labels, n):
        """In training, ``w y + (1 - w) y[permutation]``, per sample, with the weights that mixed the
        images (the dict form, ``segmentation.py``); unchanged outside training."""
        if not self._active:
            return labels
        return self._mix(self._checked_labels(labels, n))

    def _check_dict(self, labels, masks, n, training):
        # the labels a training call mixes, checked before its draws (segmentation.check_before_draws)
        if training and labels is not None:
            self._checked_labels(labels, n)

    def _checked_labels(self, labels, n):
        """The labels as an array, one float row per image, or refused by name."""
        cls = type(self).__name__
        xp = backend.get_array_module(labels)
        labels = xp.asarray(labels)
        if labels.ndim == 0 or labels.shape[0] != n:
            raise ValueError(f"{cls}: labels must have one row per image, {n}, got shape {labels.shape}")
        if labels.dtype.kind not in "fc":
            raise TypeError(f"{cls}: labels must be floats (one-hot rows, or probabilities), got {labels.dtype}: "
                            f"mixed labels are fractions; one-hot encode class indices first "
                            f"(glassnet.utils.to_categorical)")
        return labels

    def _mix(self, values):
        """Values with one row per image (labels, masks) mixed as the images were."""
        raise NotImplementedError

    def _mix_weighted(self, values):
        """MixUp's ``w v + (1 - w) v[permutation]``, per sample, in the values' dtype."""
        n = values.shape[0]
        weight = _where(values, self._drawn["mix_weight"].astype(values.dtype)).reshape((n,) + (1,) * (values.ndim - 1))
        return weight * values + (1 - weight) * values[_where(values, self._drawn["permutation_order"])]


del LAYERS["_MixImages"]     # a shared base, not a layer a config may name


class MixUp(_MixImages):
    """Blend each image with another of its batch: ``w x + (1 - w) x[p]``, ``p`` a random
    permutation of the batch and ``w`` a Beta(``alpha``, ``alpha``) draw per image (Zhang et al.
    2018); labels given in the dict form are mixed the same way. A small ``alpha`` (0.2, Keras'
    default) keeps most weights near 0 or 1, a mild mix; 1 draws them uniformly.

    ``alpha``: a positive number (Keras' documentation says "between 0 and 1" and checks nothing;
    any positive value is a Beta distribution, and is taken). Called on data it mixes unless told
    ``training=False`` (Keras'); in a model it mixes the images of ``fit``'s batches only, not their
    targets (see the module docstring). The last training call's draws are kept in ``_drawn``:
    ``permutation_order`` (n,) and ``mix_weight`` (n,).

    Labels: float, one row per image, of any shape (n, ...): each row is mixed by its image's
    weight. Keras reshapes the weights to (n, 1), which broadcasts 1-D labels (n,) into an (n, n)
    array; glassnet mixes them sample by sample. Integer labels are refused (one-hot them first).

    Shapes: images (batch, H, W, C) in and out; labels (batch, ...) in and out. Given a
    ``bounding_box_format``, the dict form's bounding boxes (batch, N, 4) come out (batch, 2N, 4),
    each image's own and then its partner's, their labels (batch, 2N) alike (layers/box_moves.py).

    Example
    -------
    >>> mix = MixUp(alpha=0.2, seed=0)
    >>> images, labels = np.ones((4, 3, 3, 1)), np.eye(4)
    >>> out = mix({"images": images * np.arange(4.0)[:, None, None, None], "labels": labels})
    >>> np.allclose(out["images"][:, 0, 0, 0], out["labels"] @ np.arange(4.0))   # images mixed as the labels
    True

    In ``fit``, labels mixed too: a ``PyDataset`` of mixed batches

    >>> from glassnet.utils import PyDataset
    >>> class Mixed(PyDataset):
    ...     def __init__(self, x, y, batch_size):
    ...         super().__init__()
    ...         self.x, self.y, self.batch_size, self.mix = x, y, batch_size, MixUp(seed=0)
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, i):
    ...         rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
    ...         batch = self.mix({"images": self.x[rows], "labels": self.y[rows]})
    ...         return batch["images"], batch["labels"]
    >>> Mixed(images, labels, 2)[0][1].shape                  # model.fit(Mixed(x, y_one_hot, 32), ...)
    (2, 4)
    """

    _moves_boxes = True          # both images' boxes, each image's own then its partner's (box_moves.py)

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.alpha = check_number(alpha, "MixUp: alpha", "> 0")

    def _augment(self, x):
        n = x.shape[0]
        generator = self._generator()
        permutation = generator.permutation(n)                # Keras' order: the permutation, then the weights
        weight = generator.beta(self.alpha, self.alpha, n)
        self._drawn = {"permutation_order": permutation, "mix_weight": weight}
        self._weight = _where(x, weight.astype(x.dtype)[:, None, None, None])
        self._permutation = _where(x, permutation)
        return self._weight * x + (1 - self._weight) * x[self._permutation]

    def _augment_backward(self, grad_output):
        # out[i] = w_i x[i] + (1 - w_i) x[p_i]: x[i] gets w_i g[i], and x[p_i] gets (1 - w_i) g[i]
        grad = self._weight * grad_output
        grad[self._permutation] += (1 - self._weight) * grad_output      # a permutation: no index twice
        return grad

    _mix = _MixImages._mix_weighted

    def _check_dict(self, labels, masks, n, training):
        super()._check_dict(labels, masks, n, training)
        if training and masks is not None:          # class ids refused before the draws
            from .segmentation import check_mixable
            check_mixable(self, masks)

    def _move_boxes(self, boxes, size):
        # a blended image shows the objects of both: its boxes, then its partner's (Keras'), (n, 2N, 4)
        return np.concatenate([boxes, boxes[self._drawn["permutation_order"]]], axis=1)

    def _move_box_labels(self, labels):
        # the labels alike, (n, 2N) (Keras 3.15 joins them along the batch axis, (2n, N): not its boxes')
        return np.concatenate([labels, labels[self._drawn["permutation_order"]]], axis=1)

    def _augment_masks(self, masks):
        # Keras': the masks blended by the images' weights (floats: one-hot or probability channels)
        from .segmentation import check_mixable
        check_mixable(self, masks)
        return self._mix_weighted(masks)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(_MixImages):
    """Paste into each image a rectangle of another of its batch (Yun et al. 2019), ``p`` a random
    permutation of the batch: pixels inside image i's box come from image ``p[i]``. Labels given in
    the dict form are mixed by the area kept, ``w y + (1 - w) y[p]``, ``w = 1 - box area / (H W)``.

    Keras 3.15's draws, in its order: one ``alpha`` per batch from ``factor`` (a number f in [0, 1]
    gives [0, f], a pair (lower, upper) within [0, 1] that range), plus 1e-6; a Beta(alpha, alpha)
    weight ``lam`` per image; a box of sides ``sqrt(1 - lam)`` W and ``sqrt(1 - lam)`` H placed
    uniformly inside the image (pixels x0 <= x < x1, y0 <= y < y1, corners not rounded: the label
    weight is the box's own area, not its count of whole pixels); then the permutation. Called on
    data it mixes unless told ``training=False`` (Keras'); in a model, the images of ``fit``'s
    batches only (see the module docstring). The last training call's draws are kept in
    ``_drawn``: ``permutation_order`` (n,), ``mix_weight`` (n,) and ``box`` (n, 4) as
    ``x0, x1, y0, y1``.

    Labels as for ``MixUp``: float, one row per image, mixed sample by sample.

    Shapes: images (batch, H, W, C) in and out; labels (batch, ...) in and out.

    Example
    -------
    >>> cut = CutMix(seed=0)
    >>> images = np.ones((2, 4, 4, 1)) * np.array([0.0, 1.0])[:, None, None, None]
    >>> out = cut({"images": images, "labels": np.eye(2)})
    >>> np.allclose(out["images"].mean(axis=(1, 2, 3)), out["labels"][:, 1], atol=0.5)
    True
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "CutMix", "factor")

    def _augment(self, x):
        n, h, w, _ = x.shape
        generator = self._generator()
        alpha = generator.uniform(*self.factor) + 1e-6
        lam = generator.beta(alpha, alpha, n)
        ratio = np.sqrt(1.0 - lam)
        x0 = generator.uniform(0.0, 1.0, n) * (w - ratio * w)
        x1 = x0 + ratio * w
        y0 = generator.uniform(0.0, 1.0, n) * (h - ratio * h)
        y1 = y0 + ratio * h
        permutation = generator.permutation(n)
        columns, rows = np.arange(w), np.arange(h)
        inside = (((rows >= y0[:, None]) & (rows < y1[:, None]))[:, :, None]
                  & ((columns >= x0[:, None]) & (columns < x1[:, None]))[:, None, :])
        self._drawn = {"permutation_order": permutation, "mix_weight": 1.0 - (x1 - x0) * (y1 - y0) / (w * h),
                       "box": np.stack([x0, x1, y0, y1], axis=1)}
        self._inside = _where(x, inside[..., None])                       # (n, H, W, 1)
        self._permutation = _where(x, permutation)
        return backend.get_array_module(x).where(self._inside, x[self._permutation], x)

    def _augment_backward(self, grad_output):
        # a pixel copied from x[p_i] sends its gradient there; the others to their own image
        grad = grad_output * ~self._inside
        grad[self._permutation] += grad_output * self._inside
        return grad

    _mix = _MixImages._mix_weighted           # labels: by the area each image keeps

    def _augment_masks(self, masks):
        # Keras': the images' boxes pasted from the same images, any dtype (class ids stay whole)
        xp = backend.get_array_module(masks)
        return xp.where(_where(masks, self._inside), masks[_where(masks, self._permutation)], masks)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}
