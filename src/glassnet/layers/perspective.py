"""RandomPerspective: Keras 3's random perspective warp, a projective matrix per image through the
sampler the other geometric augmentations share (``augmentation.py``), in training only."""
import numpy as np

from .._validation import check_number
from .augmentation import _AffineImage, _unsigned_pair
from .data_format import set_data_format


def homography(start_points, end_points):
    """The projective rows ``a0 a1 a2 b0 b1 b2 c0 c1`` (n, 8) that send each of the four
    ``end_points`` (n, 4, 2) as (x, y) to its ``start_points`` (n, 4, 2) one: the output pixel at
    an end point reads the input at its start point, so the image's corners move to the end points.
    Keras' eight equations (two a corner, ``compute_homography_matrix``), solved per image at once.

    >>> square = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    >>> (homography(square, 2 * square).round(12) + 0.0).tolist()     # twice as large: read at half
    [[0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0]]
    """
    sx, sy = start_points[..., 0], start_points[..., 1]           # (n, 4)
    ex, ey = end_points[..., 0], end_points[..., 1]
    one, zero = np.ones_like(ex), np.zeros_like(ex)
    # start_x (c0 ex + c1 ey + 1) = a0 ex + a1 ey + a2, and the same for y, linear in the 8 unknowns
    for_x = np.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)     # (n, 4, 8)
    for_y = np.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    coefficients = np.stack([for_x, for_y], axis=2).reshape(-1, 8, 8)                  # x, y per corner
    targets = np.stack([sx, sy], axis=-1).reshape(-1, 8, 1)
    return np.linalg.solve(coefficients, targets)[..., 0]


class RandomPerspective(_AffineImage):
    """Warp some images by a random perspective: the corners (0, 0), (W-1, 0), (0, H-1), (W-1, H-1)
    (Keras' order) move to end points, and each output pixel reads the input through the projective
    matrix that takes them back (``homography``), bilinear or nearest, ``fill_value`` outside the
    image (TensorFlow's "constant" fill, the only one Keras' layer has).

    Keras 3.15's code, followed as it is:

    - ``factor``, a number f in [0, 1] or a pair (lower, upper) within [0, 1]: each image draws a
      probability p from [0, f] (or the pair) and is warped when a second uniform draw falls below
      p; so the default ``factor=1.0`` warps half the images (its documentation says "always"):
      ``factor=(1, 1)`` warps every one.
    - ``scale`` in [0, 1]: each corner's end point is ``start + start * u``, u drawn per image,
      corner and axis from [-scale / 2, scale / 2]: a corner moves by up to half its own
      coordinates, so (0, 0) never moves, (W-1, 0) only sideways and (0, H-1) only up or down.

    The last training call's draws are kept in ``_drawn``, under Keras' transformation names:
    ``apply_perspective`` (n,), ``start_points`` and ``end_points`` (n, 4, 2) as (x, y). Images need
    at least 2 rows and 2 columns (the corners would coincide). ``data_format="channels_first"`` takes
    (batch, C, H, W) images (Keras'; None reads ``gn.config.image_data_format()``).

    Example
    -------
    >>> layer = RandomPerspective(factor=(1.0, 1.0), scale=0.5, seed=0)
    >>> out = layer(np.ones((2, 5, 5, 1), np.float32), training=True)
    >>> out.shape, float(out[0, 0, 0, 0])                       # (0, 0) stays: its pixel too
    ((2, 5, 5, 1), 1.0)
    """

    # _AffineImage's fill_mode is always "constant" here (an error listing what it takes leaves it out)
    _not_taken = ("fill_mode",)
    _moves_boxes = True          # corners through the inverse homography (box_moves.affine_boxes)

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None, data_format=None,
                 **kwargs):
        if "fill_mode" in kwargs:
            raise TypeError(f"RandomPerspective: takes no fill_mode (Keras' layer has none), got "
                            f"fill_mode={kwargs['fill_mode']!r:.40}: points outside the image read fill_value "
                            f"(the \"constant\" fill)")
        super().__init__("constant", interpolation, seed, fill_value, **kwargs)
        set_data_format(self, data_format)          # (layers/data_format.py)
        self.factor = _unsigned_pair(factor, "RandomPerspective", "factor")
        self.scale = check_number(scale, "RandomPerspective: scale", "[0, 1]")

    def _check_size(self, height, width):
        if (height is not None and height < 2) or (width is not None and width < 2):
            raise ValueError(f"{self.describe()}: images need at least 2 rows and 2 columns (the corners would "
                             f"coincide, and no warp is defined by them), got {height} x {width}")

    def build(self, input_shape):
        super().build(input_shape)
        self._check_size(*tuple(input_shape)[:2])       # a model of too small images: at once, not at fit

    def _matrices(self, n, height, width):
        self._check_size(height, width)
        # Keras' three draws, in its order: a probability, the draw against it, the corners' moves
        probability = self._uniform(*self.factor, n)
        apply = self._uniform(0.0, 1.0, n) < probability
        moves = self._uniform(-0.5 * self.scale, 0.5 * self.scale, n * 8).reshape(n, 4, 2)
        corners = np.array([[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1], [width - 1, height - 1]])
        start = np.broadcast_to(corners, (n, 4, 2))
        end = start + start * moves
        self._drawn = {"apply_perspective": apply, "start_points": start.copy(), "end_points": end}
        matrices = np.tile([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], (n, 1))   # the identity: left as they are
        if apply.any():
            matrices[apply] = homography(start[apply], end[apply])
        return matrices

    def get_config(self):
        config = super().get_config()
        del config["fill_mode"]             # always "constant": Keras' layer takes no fill_mode
        return {**config, "factor": list(self.factor), "scale": self.scale}
