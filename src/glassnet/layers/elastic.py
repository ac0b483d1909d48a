"""RandomElasticTransform: Keras 3's elastic distortion (Simard et al. 2003), a random displacement
field smoothed by a Gaussian moving every pixel of some images, in training only (the rules of the
other augmentation layers in ``augmentation.py``, whose clipping to ``value_range`` it shares).

The sampling is Keras' ``map_coordinates`` (SciPy's, order 0 or 1), not the projective sampler of
the geometric layers: there ``fill_mode`` maps the point read into the image before it is
interpolated (TensorFlow's ``ImageProjectiveTransformV3``); here it maps each neighbour's whole
index, so a point between the last pixel and the one past it blends the last pixel with the one
``fill_mode`` puts beyond it. The sampler's output is still linear in the image: ``affine_sample``
and its transpose do the reading and the backward pass.
"""
import numpy as np

from .._validation import check_choice, check_number
from .data_format import set_data_format
from .augmentation import INTERPOLATIONS, _AffineImage, _RandomIntensity, check_fill_value, _unsigned_pair, _where, affine_sample, \
    affine_sample_backward
from .blur import gaussian_blur, gaussian_kernel

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def map_index(index, length, fill_mode):
    """Integer pixel indices (any, ``index``) brought into ``[0, length)`` by ``fill_mode``
    ("reflect" d c b a | a b c d | d c b a, "wrap" a b c d | a b c d, "nearest" a a | a b c d | d d),
    with where they lie inside; "constant" keeps the inside ones and marks the others (they read
    ``fill_value``)."""
    if fill_mode == "constant":
        inside = (index >= 0) & (index < length)
        return np.where(inside, index, 0), inside
    if fill_mode == "nearest":
        return np.clip(index, 0, length - 1), None
    if fill_mode == "wrap":
        return np.mod(index, length), None
    m = np.mod(index, 2 * length)                  # reflect: the second half of each period runs backwards
    return np.where(m < length, m, 2 * length - 1 - m), None


def map_sampling(rows, cols, fill_mode, interpolation, dtype, index_rule=map_index):
    """``affine_sample``'s ``(index, weight, outside)`` for reading n images (n, H, W, C) at the
    points (``rows``, ``cols``) (n, H, W) each, Keras' ``map_coordinates``: the nearest pixel
    (``round``, halves to even as TensorFlow's) or the four around a point, bilinear, each index
    mapped by ``fill_mode`` through ``index_rule(index, length, fill_mode)`` -> (index, inside)
    (``map_index``; ``ops.image.elastic_transform`` passes TensorFlow's rule, whose "reflect"
    differs before the first pixel)."""
    n, height, width = rows.shape
    if interpolation == "nearest":
        nodes_r = [(np.round(rows), None)]
        nodes_c = [(np.round(cols), None)]
    else:
        r0, c0 = np.floor(rows), np.floor(cols)
        dr, dc = rows - r0, cols - c0
        nodes_r, nodes_c = [(r0, 1 - dr), (r0 + 1, dr)], [(c0, 1 - dc), (c0 + 1, dc)]
    first_pixel = (np.arange(n) * (height * width))[:, None, None]
    pairs = [(r, c) for r in nodes_r for c in nodes_c]
    index = np.empty((len(pairs), n * height * width), dtype=np.intp)
    weight = np.empty(index.shape, dtype=dtype)
    outside = np.zeros(index.shape[1], dtype=dtype) if fill_mode == "constant" else None
    for k, ((r, wr), (c, wc)) in enumerate(pairs):
        r, inside_r = index_rule(r.astype(np.intp), height, fill_mode)
        c, inside_c = index_rule(c.astype(np.intp), width, fill_mode)
        w = np.ones(r.shape, dtype) if wr is None else (wr * wc).astype(dtype)
        index[k] = (first_pixel + r * width + c).ravel()
        if outside is not None:
            inside = (inside_r & inside_c).ravel()
            outside += w.ravel() * ~inside
            weight[k] = w.ravel() * inside
        else:
            weight[k] = w.ravel()
    return index, weight, outside


def elastic_displacement(noise, alpha, sigma):
    """Keras' displacement field (n, H, W) from a standard normal ``noise`` (n, H, W): ``sigma``
    times it, blurred by a Gaussian of ``sigma`` over ``6 int(sigma) | 1`` pixels (zeros beyond the
    borders), times ``alpha``. A sigma under 1 is a kernel of one pixel, no smoothing."""
    size = 6 * int(sigma) | 1
    field = noise * noise.dtype.type(sigma)
    if sigma > 0 and size > 1:
        kernel = gaussian_kernel(size, np.full(noise.shape[0], float(sigma)))
        field = gaussian_blur(field[..., None], kernel)[..., 0]
    return field * noise.dtype.type(alpha)


class RandomElasticTransform(_RandomIntensity):
    """Distort some images by a smooth random displacement field: each output pixel (x, y) reads
    the input at ``(x + dx, y + dy)``, bilinear or nearest, with ``fill_mode`` beyond the borders,
    then every image is clipped to ``value_range`` (Keras clips the ones left alone too).

    Keras 3.15's rule, followed as it is:

    - which images: each draws a probability p from ``factor`` (a number f in [0, 1] gives [0, f], a
      pair (lower, upper) within [0, 1] that range) and is distorted when a second uniform draw
      falls below p: the default ``factor=1.0`` distorts half the images (its documentation says
      "always": pass (1, 1) for every image);
    - how much: one draw s per batch from ``scale`` (a number in [0, 1] gives [0, s], a pair within
      [0, 1] that range); ``alpha = 0.1 s max(H, W)``, ``sigma = 0.05 s min(H, W)``, and
      ``dx = alpha blur(sigma N)`` with N standard normal per pixel, blurred by a Gaussian of
      ``sigma`` over ``6 int(sigma) | 1`` pixels, zeros beyond the borders (``elastic_displacement``;
      images under 20 pixels a side have sigma < 1 and no smoothing at all); ``dy`` the same;
    - ``factor`` or ``scale`` whose upper end is 0 leaves the images as they are, unclipped.

    Differences from Keras (its TensorFlow backend, the default), kept:

    - ``dx`` and ``dy`` are two independent fields. Keras draws both from the same seed, so they
      are the same field and every pixel moves along the diagonal (dx = dy); Simard et al.'s and
      torchvision's fields are independent.
    - ``fill_mode="reflect"`` is d c b a | a b c d | d c b a on both sides (Keras' documentation,
      and its NumPy and JAX backends). Its TensorFlow ``map_coordinates`` reflects past the last
      pixel so, but mirrors before the first (index -1 reads pixel 1, not 0).
    - "mirror", which Keras' layer lists but its TensorFlow backend refuses, is refused.

    ``interpolation``: "bilinear" or "nearest"; ``fill_mode``: "reflect" (default), "wrap",
    "constant" (reads ``fill_value``) or "nearest"; the sampling is Keras' ``map_coordinates``
    (see the module docstring). The gradient with respect to the images goes back through the
    sampling, with the weights it read them by, and not where the clip held a value. The last
    training call's draws are kept in ``_drawn``: ``apply_transform`` (n,), ``distortion_factor``
    (s) and ``noise`` (2, n, H, W), the standard normal draws of dx and dy.

    Shapes: (batch, H, W, C) in and out.

    Example
    -------
    >>> layer = RandomElasticTransform(factor=(1.0, 1.0), value_range=(0, 1), seed=0)
    >>> images = np.linspace(0, 1, 2 * 32 * 32).reshape(2, 32, 32, 1)
    >>> out = layer(images, training=True)
    >>> out.shape, bool(np.abs(out - images).max() > 0.01), layer._drawn["noise"].shape
    ((2, 32, 32, 1), True, (2, 2, 32, 32))
    """

    _moves_boxes = False         # it moves pixels, by a field boxes do not follow (Keras' neither)

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomElasticTransform", "factor")
        self.scale = _unsigned_pair(scale, "RandomElasticTransform", "scale")
        check_choice(interpolation, "RandomElasticTransform: interpolation", INTERPOLATIONS)
        check_choice(fill_mode, "RandomElasticTransform: fill_mode", FILL_MODES,
                     note=" (Keras' layer lists \"mirror\", which its TensorFlow backend refuses)"
                     if isinstance(fill_mode, str) and fill_mode == "mirror" else "")
        self.interpolation, self.fill_mode = interpolation, fill_mode
        self.fill_value = check_number(fill_value, "RandomElasticTransform: fill_value", "finite")

    def build(self, input_shape):
        check_fill_value(self)
        super().build(input_shape)

    def _augment(self, x):
        self._sampling = self._points = None
        if self.factor[1] == 0 or self.scale[1] == 0:        # Keras' None transformation: no clip either
            self._kept = True
            return x
        self._check_range(x)
        n, h, w, _ = x.shape
        probability = self._uniform(*self.factor, n)
        self._distorted = self._uniform(0.0, 1.0, n) < probability
        factor = float(self._uniform(*self.scale, 1)[0])
        noise = self._generator().standard_normal((2, n, h, w), dtype=x.dtype)
        self._drawn = {"apply_transform": self._distorted, "distortion_factor": factor, "noise": noise}
        out = x.copy()
        if self._distorted.any():
            alpha, sigma = 0.1 * factor * max(h, w), 0.05 * factor * min(h, w)
            dx, dy = (elastic_displacement(d[self._distorted], alpha, sigma) for d in noise)
            rows = np.arange(h, dtype=x.dtype)[:, None] + dy
            cols = np.arange(w, dtype=x.dtype)[None, :] + dx
            self._points = (rows, cols)          # for the masks of the same call, if any come
            sampling = map_sampling(rows, cols, self.fill_mode, self.interpolation, x.dtype)
            sampling = tuple(None if a is None else _where(x, a) for a in sampling)
            # kept for backward only where one will come (as _AffineImage): first in a model, nobody asks
            self._sampling = sampling if self.needs_input_gradient else None
            out[self._distorted] = affine_sample(x[self._distorted], sampling, self.fill_value)
        return self._clip(out)

    def _augment_backward(self, grad_output):
        grad = grad_output * self._kept                 # nothing passes where the clip held the value
        if self._sampling is not None:
            grad[self._distorted] = affine_sample_backward(grad[self._distorted], self._sampling)
        return grad

    _check_dict = _AffineImage._check_dict       # a "constant" fill the masks' dtype cannot hold

    def _augment_masks(self, masks):
        # the images' points read "nearest" (Keras'), with fill_mode and fill_value; not clipped to
        # value_range (Keras clips the masks too: class ids above it would merge)
        if self._points is None:
            return masks
        from .segmentation import nearest_sample
        sampling = map_sampling(*self._points, self.fill_mode, "nearest", self._points[0].dtype)
        out = masks.copy()
        out[self._distorted] = nearest_sample(masks[self._distorted], tuple(None if a is None else _where(masks, a)
                                                                            for a in sampling), self.fill_value)
        return out

    def get_config(self):
        return {**super().get_config(), "scale": list(self.scale), "interpolation": self.interpolation,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value}
