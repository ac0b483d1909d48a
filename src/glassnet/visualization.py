"""Keras' ``keras.visualization``: galleries of images, of their segmentation masks and of their
bounding boxes, and the drawing functions under them.

``draw_bounding_boxes`` and ``draw_segmentation_masks`` are NumPy (see ``glassnet._drawing``: boxes
are painted without OpenCV, class names written with Pillow). The galleries need matplotlib, the
``plot`` extra, imported on first use as in ``glassnet.plot``; they build a
``matplotlib.figure.Figure`` on an Agg canvas (no pyplot, no display) and return it, written to
``path`` first when one is given (Keras returns None and shows the figure with pyplot unless given a
``path``: pass ``show=True`` for that).

>>> from glassnet import visualization
>>> fig = visualization.plot_image_gallery(images, path="gallery.png")        # doctest: +SKIP
"""
import functools
import math
import os

import numpy as np

from ._drawing import draw_bounding_boxes, draw_segmentation_masks, nhwc_images

__all__ = ["plot_image_gallery", "plot_segmentation_mask_gallery", "draw_segmentation_masks",
           "draw_bounding_boxes", "plot_bounding_box_gallery"]


def _figure(caller, figsize, show):
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as exc:
        raise ImportError(f"glassnet.visualization.{caller}() needs matplotlib: pip install 'glassnet[plot]'") from exc
    if show:                        # only a pyplot figure can be shown
        import matplotlib.pyplot as plt
        return plt.figure(figsize=figsize, frameon=False, layout="tight")
    fig = Figure(figsize=figsize, frameon=False, layout="tight")
    FigureCanvasAgg(fig)
    return fig


def _value_range(images, value_range):
    # Keras' _transform_value_range to (0, 255) in float32, then clipped (Keras' uint8 cast wraps around)
    low, high = (np.float32(v) for v in value_range)
    images = images.astype("float32")
    if (low, high) != (0, 255):
        images = (images - low) / (high - low) * np.float32(255)
    return np.clip(images, 0, 255).astype("uint8")


def plot_image_gallery(images, y_true=None, y_pred=None, label_map=None, rows=None, cols=None, value_range=(0, 255),
                       scale=2, path=None, show=None, transparent=True, dpi=60, legend_handles=None, data_format=None):
    """A grid of images, titled with their labels (``label_map[y_true[i]]``) and predictions.

    images : (batch, height, width, channels) (or channels-first), in ``value_range``
    rows, cols : the grid; ``ceil(sqrt(batch))`` rows and enough columns for every image when None
        (Keras' ``batch // rows`` columns can leave images out); cells past the last image stay empty
    scale : inches per cell; path : where to save it (``dpi``, ``transparent`` as Keras' savefig)
    show : display it with pyplot (not with ``path``, as Keras); default False
    Returns the ``matplotlib.figure.Figure``.
    """
    caller = "plot_image_gallery"
    if path is not None and show:
        raise ValueError(f"{caller}: show: a figure is either saved to path or shown, got path={path!r} and show=True")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError(f"{caller}: label_map: needed to name y_true and y_pred, got None")
    images, _ = nhwc_images(images, data_format, caller)
    batch = images.shape[0]
    for name, v in (("rows", rows), ("cols", cols)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise ValueError(f"{caller}: {name}: expected a positive int or None, got {v!r}")
    rows = rows or int(math.ceil(math.sqrt(batch)))
    cols = cols or max(int(math.ceil(batch / rows)), 1)
    images = _value_range(images, value_range)
    if images.shape[-1] == 1:
        images = images[..., 0]             # imshow takes grey images without the channel axis
    fig = _figure(caller, (cols * scale, rows * scale), show)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False, sharex="row", sharey="col"))
    fig.subplots_adjust(wspace=0, hspace=0)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    y_true = None if y_true is None else np.asarray(y_true)
    y_pred = None if y_pred is None else np.asarray(y_pred)
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index >= batch:
            continue
        ax.imshow(images[index], cmap="gray" if images.ndim == 3 else None, vmin=0, vmax=255)
        ax.margins(x=0, y=0)
        title = []
        if y_true is not None and index < len(y_true):
            title.append(f"Label: {label_map.get(y_true[index].item(), 'Unknown')}")
        if y_pred is not None and index < len(y_pred):
            title.append(f"Pred: {label_map.get(y_pred[index].item(), 'Unknown')}")
        if title:
            ax.set_title("  ".join(title), fontsize=8)
    if path is not None:
        _save(fig, path, transparent=transparent, dpi=dpi)
    elif show:
        import matplotlib.pyplot as plt
        plt.show()
        plt.close(fig)
    return fig


def _save(fig, path, **savefig):
    # as glassnet.plot writes its figures (the suffix names the format, written atomically), with
    # Keras' savefig arguments: no margin, cut to the drawing
    from .plot import _fspath
    from ._atomic import write_atomically
    path = _fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    known = fig.canvas.get_supported_filetypes()
    if fmt not in known:
        raise ValueError(f"path: cannot write {path!r}: .{fmt} is not an image format matplotlib writes; use one of "
                         f"{', '.join('.' + k for k in sorted(known))}")
    write_atomically(path, lambda fh: fig.savefig(fh, format=fmt, pad_inches=0, bbox_inches="tight", **savefig))


def plot_segmentation_mask_gallery(images, num_classes, value_range=(0, 255), y_true=None, y_pred=None,
                                   color_mapping=None, blend=True, alpha=0.8, ignore_index=-1, data_format=None,
                                   **kwargs):
    """One row per image: the image, then its true masks and its predicted masks drawn over it
    (``draw_segmentation_masks``); ``kwargs`` go to ``plot_image_gallery``. Returns the Figure."""
    caller = "plot_segmentation_mask_gallery"
    images, data_format = nhwc_images(images, data_format, caller)
    draw = functools.partial(draw_segmentation_masks, num_classes=num_classes, color_mapping=color_mapping,
                             alpha=alpha, ignore_index=ignore_index, blend=blend, data_format="channels_last")
    columns = [images]
    for masks in (y_true, y_pred):
        if masks is not None:
            masks = np.asarray(masks)
            if data_format == "channels_first" and masks.ndim == 4:
                masks = masks.transpose(0, 2, 3, 1)
            columns.append(draw(images, masks.astype("int32")).astype(images.dtype))
    gallery = np.stack(columns, axis=1).reshape(-1, *images.shape[1:])      # image, true, pred, image, ...
    return plot_image_gallery(gallery, value_range=value_range, rows=images.shape[0], cols=len(columns),
                              data_format="channels_last", **kwargs)


def plot_bounding_box_gallery(images, bounding_box_format, y_true=None, y_pred=None, value_range=(0, 255),
                              true_color=(0, 188, 212), pred_color=(255, 235, 59), line_thickness=2, font_scale=1.0,
                              text_thickness=None, class_mapping=None, ground_truth_mapping=None,
                              prediction_mapping=None, legend=False, legend_handles=None, rows=None, cols=None,
                              data_format=None, **kwargs):
    """A gallery of images with their true boxes (``true_color``) and predicted boxes
    (``pred_color``) drawn (``draw_bounding_boxes``; y_true and y_pred are its dict form);
    ``legend=True`` adds a legend of the two colours. ``kwargs`` go to ``plot_image_gallery``.
    Returns the Figure."""
    caller = "plot_bounding_box_gallery"
    if legend and legend_handles:
        raise ValueError(f"{caller}: legend_handles: pass legend=True or legend_handles, not both")
    images, _ = nhwc_images(images, data_format, caller)
    # to [0, 255] first: the boxes are drawn in uint8, and Keras' value_range would then apply twice
    plotted = _value_range(images, value_range)
    draw = functools.partial(draw_bounding_boxes, bounding_box_format=bounding_box_format,
                             line_thickness=line_thickness, text_thickness=text_thickness, font_scale=font_scale,
                             data_format="channels_last")
    if y_true is not None:
        plotted = draw(plotted, y_true, color=true_color, class_mapping=ground_truth_mapping or class_mapping)
    if y_pred is not None:
        plotted = draw(plotted, y_pred, color=pred_color, class_mapping=prediction_mapping or class_mapping)
    if legend:
        from matplotlib import patches
        legend_handles = [patches.Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
                          patches.Patch(color=np.array(pred_color) / 255.0, label="Prediction")]
    return plot_image_gallery(plotted, value_range=(0, 255), legend_handles=legend_handles, rows=rows, cols=cols,
                              data_format="channels_last", **kwargs)
