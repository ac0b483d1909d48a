"""``glassnet.ops.image``: Keras' ``keras.ops.image`` functions glassnet has.

extract_patches: on arrays it computes at once, any dtype kept; on a tensor it makes one
``TensorFunction`` node (layers/tensor_conv.py: im2col forward, col2im backward), kept in model
files as JSON. resize, pad_images, crop_images, affine_transform, map_coordinates
(_ops_image_geometry.py) and rgb_to_grayscale, rgb_to_hsv, hsv_to_rgb, gaussian_blur
(_ops_image_colour.py) compute on arrays with the image layers' code; resize, pad_images and
crop_images on a tensor make a Resizing, ZeroPadding2D or Cropping2D node. elastic_transform and
perspective_transform (_ops_image_warp.py) and scale_and_translate (_ops_image_scale.py) compute on
arrays with the elastic and perspective layers' code and the resize kernels. extract_patches_3d,
sobel_edges (on a tensor: pad, depthwise_conv and reshape nodes) and ssim (arrays only):
_ops_image_quality.py.
"""
from ._ops_conv import _window_node
from ._ops_image_colour import gaussian_blur, hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv
from ._ops_image_quality import extract_patches_3d, sobel_edges, ssim
from ._ops_image_geometry import affine_transform, crop_images, map_coordinates, pad_images, resize
from ._ops_image_scale import scale_and_translate
from ._ops_image_warp import elastic_transform, perspective_transform
from ._ops_reading import _array, _is_tensor

__all__ = ["extract_patches", "resize", "pad_images", "crop_images", "affine_transform", "map_coordinates",
           "rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb", "gaussian_blur", "elastic_transform",
           "perspective_transform", "scale_and_translate", "extract_patches_3d", "sobel_edges", "ssim"]


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Every ``size`` window's pixels as one vector (Keras' ``ops.image.extract_patches``, a
    convolution with an identity kernel): images (batch, H, W, C) -> (batch, H', W', ph * pw * C),
    each vector in (row, column, channel) order; volumes (batch, D, H, W, C) with a ``size`` of
    three. ``strides`` None: ``size`` (patches side by side). On arrays an image without its batch
    axis, (H, W, C), gives (H', W', ph * pw * C).

    keras.io's ViT ``Patches`` layer: ``ops.reshape(ops.image.extract_patches(images, 6),
    (-1, num_patches, 6 * 6 * 3))``.
    """
    arguments = {"size": size, "strides": strides, "dilation_rate": dilation_rate, "padding": padding,
                 "data_format": data_format}
    if not _is_tensor(images):
        array = _array(images, "images", "extract_patches")
        spatial = 3 if isinstance(size, (list, tuple)) and len(size) == 3 else 2
        if array.ndim == spatial + 1:            # one image, no batch axis (Keras takes it)
            return _window_node("extract_patches", array[None], arguments)[0]
    return _window_node("extract_patches", images, arguments)
