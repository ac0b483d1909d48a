"""``glassnet.ops.image``'s warps: elastic_transform and perspective_transform, Keras 3.15's
``keras.ops.image`` functions on arrays, computed as its TensorFlow backend computes them.

One implementation each, the layers': elastic_transform is RandomElasticTransform's displacement
field and sampler (layers/elastic.py: ``elastic_displacement``, ``map_sampling``) read by
TensorFlow's ``map_coordinates`` index rule (``_ops_image_geometry._map_index``, the one
``ops.image.map_coordinates`` has); perspective_transform is RandomPerspective's ``homography``
(layers/perspective.py) read by ``affine_transform``'s sampler (``_ops_image_geometry.project``).

Where Keras' two CPU backends differ, glassnet follows TensorFlow's maths and NumPy's draws:

- ``seed``: Keras on TensorFlow draws dx and dy from one stateless seed, the same normal field twice,
  so every pixel moves along the diagonal; TensorFlow's stateless Philox stream is not NumPy's.
  Keras' NumPy backend draws them one after the other from ``np.random.default_rng([seed, 0])``, as
  glassnet does (``glassnet.random``'s seeds): an int seed or a ``random.SeedGenerator`` gives that
  backend's noise, bit for bit.
- the smoothing kernel is ``6 int(sigma) | 1`` pixels wide (TensorFlow's; NumPy's ``int(6 sigma) | 1``
  is wider for a fractional sigma), and ``fill_mode="reflect"`` reads index -1 as pixel 1, past the
  far edge pixel ``size - 1`` (TensorFlow's ``map_coordinates``; NumPy's and Keras' documentation:
  d c b a | a b c d | d c b a on both sides). With an integer sigma and another fill mode the
  NumPy backend's values come out (within float32 rounding of its float64 coordinates).
"""
import numbers

import numpy as np

from ._ops_image_geometry import AFFINE_INTERPOLATIONS, AFFINE_FILL_MODES, _map_index, project
from ._ops_image_reading import float_images, read_images, refuse_tensor
from ._ops_reading import _array
from ._validation import check_choice, check_number


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect",
                      fill_value=0.0, seed=None, data_format=None):
    """Images distorted by a smooth random displacement field (Keras' ``ops.image.elastic_transform``,
    Simard et al. 2003): each output pixel (x, y) reads the input at ``(x + dx, y + dy)``, with
    ``dx = alpha blur(sigma N)``, N standard normal per pixel and image, blurred by a Gaussian of
    ``sigma`` over ``6 int(sigma) | 1`` pixels (zeros beyond the borders); ``dy`` likewise.

    images : floats, (batch, H, W, C) or (H, W, C) (channels first with ``data_format``)
    alpha : the displacement's scale (pixels per unit of the blurred field); sigma > 0
    interpolation : "bilinear" or "nearest"; fill_mode : "reflect" (default), "wrap", "nearest",
        "constant" (reads ``fill_value``), TensorFlow's index rules (see the module docstring)
    seed : None (fresh draws), an int or a ``glassnet.random.SeedGenerator``: Keras' NumPy backend's
        draws, dx then dy (its TensorFlow backend's differ, and are equal to each other)
    Returns the images' shape and dtype, computed in float32 (float64 for float64 images).

    >>> x = np.arange(48.0, dtype="float32").reshape(1, 6, 8, 1)
    >>> y = elastic_transform(x, alpha=2.0, sigma=1.0, seed=0)
    >>> y.shape, y.dtype.name, bool((y != x).any())
    ((1, 6, 8, 1), 'float32', True)
    """
    function = "elastic_transform"
    settings = _elastic_settings(alpha, sigma, interpolation, fill_mode, fill_value, seed, function)
    batch, restore = read_images(images, function, data_format)
    float_images(batch, function)
    from .random import generator

    rng = generator(seed, f"image.{function}")
    n, h, w, _ = batch.shape
    # Keras' NumPy backend: float64 normals cast to the images' dtype, dx drawn before dy
    noise = np.stack([rng.normal(size=(n, h, w)).astype(batch.dtype) for _ in range(2)])
    return restore(elastic_sample(batch, noise, *settings))


def _elastic_settings(alpha, sigma, interpolation, fill_mode, fill_value, seed, function):
    """elastic_transform's settings checked by name: (alpha, sigma, interpolation, fill_mode, fill_value)."""
    from .random import SeedGenerator

    check_choice(interpolation, f"ops.image.{function}: interpolation", AFFINE_INTERPOLATIONS)
    check_choice(fill_mode, f"ops.image.{function}: fill_mode", AFFINE_FILL_MODES,
                 note=" (TensorFlow's map_coordinates has no \"mirror\" here: Keras refuses it too)"
                 if isinstance(fill_mode, str) and fill_mode == "mirror" else "")
    alpha = check_number(alpha, f"ops.image.{function}: alpha", "finite")
    # sigma 0 gives Keras a 0 / 0 Gaussian, NaN images
    sigma = check_number(sigma, f"ops.image.{function}: sigma", "> 0")
    fill_value = check_number(fill_value, f"ops.image.{function}: fill_value", "finite")
    if not (seed is None or isinstance(seed, SeedGenerator) or (
            isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)))):
        raise TypeError(f"ops.image.{function}: seed must be None, an integer or a glassnet.random.SeedGenerator, "
                        f"got {type(seed).__name__} {seed!r:.60}")
    return alpha, sigma, interpolation, fill_mode, fill_value


def elastic_sample(batch, noise, alpha, sigma, interpolation, fill_mode, fill_value):
    """``batch`` (n, H, W, C) floats moved by the fields made of ``noise`` (2, n, H, W), the
    standard normal draws of dx and dy: Keras' TensorFlow ``elastic_transform`` given those draws
    (coordinates ``x + alpha dx``, ``y + alpha dy`` in the compute dtype, TensorFlow's
    ``map_coordinates`` of order 0 or 1). Returns (n, H, W, C) in the batch's dtype."""
    from .layers.augmentation import affine_sample
    from .layers.elastic import elastic_displacement, map_sampling

    compute = np.dtype(np.float64 if batch.dtype == np.float64 else np.float32)
    x = batch.astype(compute, copy=False)
    n, h, w, _ = x.shape
    dx, dy = (elastic_displacement(np.asarray(d, dtype=compute), alpha, sigma) for d in noise)
    rows = np.arange(h, dtype=compute)[:, None] + dy
    cols = np.arange(w, dtype=compute)[None, :] + dx
    sampling = map_sampling(rows, cols, fill_mode, interpolation, compute, index_rule=_map_index)
    return affine_sample(x, sampling, fill_value).astype(batch.dtype, copy=False)


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Images warped so that each of four ``start_points`` lands on its ``end_points`` one (Keras'
    ``ops.image.perspective_transform``, TensorFlow's): the projective matrix taking the end points
    back to the start points (``layers.perspective.homography``: Keras' eight equations, solved in
    float64 from the points rounded to float32, then rounded to float32 as TensorFlow takes it)
    tells each output pixel where to read the input, by ``interpolation`` ("bilinear" or
    "nearest"); points outside read ``fill_value``.

    images : (batch, H, W, C) or (H, W, C) (channels first with ``data_format``)
    start_points, end_points : (4, 2) for every image, or (batch, 4, 2), as (x, y)
    Returns the images' shape and dtype (integers truncated and saturated, as TensorFlow's cast),
    computed as ``affine_transform`` computes.

    >>> square = [[0, 0], [2, 0], [0, 2], [2, 2]]
    >>> x = np.arange(9.0).reshape(3, 3, 1)
    >>> perspective_transform(x, square, [[1, 0], [3, 0], [1, 2], [3, 2]])[:, :, 0].tolist()   # moved right
    [[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [0.0, 6.0, 7.0]]
    """
    function = "perspective_transform"
    check_choice(interpolation, f"ops.image.{function}: interpolation", AFFINE_INTERPOLATIONS)
    fill_value = check_number(fill_value, f"ops.image.{function}: fill_value", "finite")
    start, end = _corners(start_points, "start_points", function), _corners(end_points, "end_points", function)
    if start.shape != end.shape:
        raise ValueError(f"ops.image.{function}: start_points and end_points must have the same shape, got "
                         f"{start.shape} and {end.shape}")
    start, end = (start[None] if start.ndim == 2 else start), (end[None] if end.ndim == 2 else end)
    batch, restore = read_images(images, function, data_format)
    if batch.dtype == np.bool_:
        raise TypeError(f"ops.image.{function}: images must hold numbers, got booleans")
    if start.shape[0] not in (1, batch.shape[0]):
        raise ValueError(f"ops.image.{function}: start_points and end_points must be (4, 2) or one (4, 2) per image "
                         f"({batch.shape[0]}), got shape {start.shape}")
    rows = _homography(start, end, function)
    rows = np.broadcast_to(rows, (batch.shape[0], 8))
    return restore(project(batch, rows, interpolation, "constant", fill_value))


def _corners(points, name, function):
    """Four (x, y) points, (4, 2) or (n, 4, 2), float64 from their float32 values (Keras' cast)."""
    refuse_tensor(points, function)
    array = _array(points, name, f"image.{function}")
    if array.ndim not in (2, 3) or array.shape[-2:] != (4, 2):
        raise ValueError(f"ops.image.{function}: {name} must be (4, 2) for every image or (batch, 4, 2), four (x, y) "
                         f"points, got shape {array.shape}")
    array = array.astype(np.float32).astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"ops.image.{function}: {name} must be finite numbers, got {array.tolist()!r:.120}")
    return array


def _homography(start, end, function):
    """Keras' ``compute_homography_matrix``: (n, 8) float32 rows sending each end point to its
    start point; four points with three on a line leave the system singular (TensorFlow's solve
    fails): refused by name."""
    from .layers.perspective import homography

    try:
        with np.errstate(all="ignore"):
            rows = homography(start, end)
    except np.linalg.LinAlgError:
        rows = None
    if rows is None or not np.isfinite(rows).all():
        raise ValueError(f"ops.image.{function}: start_points and end_points must each be four points with no three "
                         f"on one line (no perspective transform takes one set to the other), got start_points="
                         f"{start.tolist()!r:.120}, end_points={end.tolist()!r:.120}")
    return rows.astype(np.float32)
