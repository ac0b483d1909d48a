"""Review docwalk42b: today's pages walked as a Keras porter would walk them."""
import subprocess
import sys

import numpy as np


def test_utils_bounding_boxes_imports_by_its_dotted_name(keras):
    # docs/bounding_boxes.md names the module glassnet.utils.bounding_boxes, as Keras'
    # keras.utils.bounding_boxes: a ported `from keras.utils.bounding_boxes import compute_iou`
    # must work with glassnet for keras (it raised "'glassnet.utils' is not a package")
    from glassnet.utils.bounding_boxes import compute_iou, convert_format
    from keras.utils.bounding_boxes import compute_iou as keras_iou, convert_format as keras_convert
    import glassnet.utils.bounding_boxes as bb
    import glassnet as gn
    assert bb is gn.utils.bounding_boxes
    boxes = np.array([[10, 20, 30, 40], [15, 25, 60, 80]], dtype="float32")
    np.testing.assert_allclose(compute_iou(boxes, boxes[::-1], "xyxy"),
                               np.asarray(keras_iou(boxes, boxes[::-1], "xyxy")), rtol=1e-6)
    np.testing.assert_array_equal(convert_format(boxes, "xyxy", "center_xywh"),
                                  np.asarray(keras_convert(boxes, "xyxy", "center_xywh")))
    # still read on first use: import glassnet (and the dotted import's registration) loads nothing
    code = ("import sys, glassnet; assert 'glassnet.bounding_boxes' not in sys.modules; "
            "from glassnet.utils.bounding_boxes import compute_iou; assert 'glassnet.bounding_boxes' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_positional_data_format_of_a_keras_convolution_is_named(keras):
    # Keras' Conv2D/Conv1D/DepthwiseConv2D take data_format by position (after padding), glassnet's
    # by keyword only (docs/layers.md): the refusal must say data_format, not list the activations
    import pytest
    import glassnet as gn
    keras.layers.Conv2D(8, 3, 1, "valid", "channels_first")        # valid Keras
    for make in (lambda: gn.layers.Conv2D(8, 3, 1, "valid", "channels_first"),
                 lambda: gn.layers.Conv1D(8, 3, 1, "valid", "channels_last"),
                 lambda: gn.layers.DepthwiseConv2D(3, 1, "valid", 1, "channels_first")):
        with pytest.raises(ValueError, match="by keyword: pass data_format=.channels_(first|last)."):
            make()


def test_positional_data_format_of_upsampling_and_spatial_dropout_is_named():
    # the docwalk42b review's open point: Keras' UpSampling2D(size, data_format) and
    # SpatialDropout2D(rate, data_format) land on glassnet's interpolation and seed
    import pytest
    import glassnet as gn
    for make, name in ((lambda: gn.layers.UpSampling2D(2, "channels_first"), "interpolation"),
                       (lambda: gn.layers.SpatialDropout2D(0.5, "channels_first"), "seed"),
                       (lambda: gn.layers.SpatialDropout3D(0.5, "channels_last"), "seed")):
        with pytest.raises(ValueError, match=rf"{name}='channels_(first|last)' is a data_format, not {name}: .*"
                                             r"pass data_format="):
            make()
    assert gn.layers.UpSampling2D(2, data_format="channels_first").data_format == "channels_first"
