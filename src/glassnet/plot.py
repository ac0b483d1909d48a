"""Plots of training: learning curves, decision boundaries (and their animation), confusion matrices,
and what a convolutional network has learnt: its filters and the feature maps they make.

matplotlib and Pillow are the ``plot`` extra (``pip install 'glassnet[plot]'``), imported inside the
functions so that ``import glassnet`` never needs them. Figures are built with the object-oriented
API (``matplotlib.figure.Figure`` on an Agg canvas), never pyplot: no display is needed, no global
backend is switched, and nothing is left open in pyplot's figure registry. Every file is written to
a temporary file in the target folder and then renamed over the target, so a reader never sees a
half-written image.

>>> from glassnet import plot
>>> fig = plot.learning_curve({"loss": [0.7, 0.4, 0.3], "val_loss": [0.8, 0.5, 0.4]})
>>> fig = plot.confusion_matrix([0, 1, 1], [0, 1, 0], path="cm.png")      # doctest: +SKIP
"""
import os

import numpy as np

from . import _validation
from ._atomic import write_atomically
from .backend import to_numpy
from .callbacks import Callback
from .layers.base import shape_fits
from .layers.masking import planned

_EXTRA = "pip install 'glassnet[plot]'"
_RED, _GREEN = "#d62728", "#2ca02c"           # seed 003: red dots for y=0, green crosses for y=1


def _require_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401  (first, so a hidden top-level package is reported)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"glassnet.plot.{caller}() needs matplotlib: {_EXTRA}") from exc
    return Figure, FigureCanvasAgg


def _new_figure(caller, figsize):
    Figure, FigureCanvasAgg = _require_matplotlib(caller)
    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)                        # attaches itself as fig.canvas: renders off-screen
    return fig


def _fspath(path):
    """``path`` as a str; a TypeError naming it otherwise (bytes failed in the suffix's parsing)."""
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(name, str):
        raise TypeError(f"path: expected a str or os.PathLike of one, got {type(name).__name__}")
    return name


def _save_figure(fig, path):
    # The format follows the suffix (".png", ".svg", ".pdf"); no suffix means PNG.
    path = _fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    known = fig.canvas.get_supported_filetypes()
    if fmt not in known:            # matplotlib's own error names neither the argument nor the path
        raise ValueError(f"path: cannot write {os.fspath(path)!r}: the suffix .{fmt} is not an image format "
                         f"matplotlib writes; use one of {', '.join('.' + k for k in sorted(known))}")
    write_atomically(path, lambda fh: fig.savefig(fh, format=fmt, dpi=fig.dpi))


def _finish(fig, path):
    """``fig``, written to ``path`` first when one is given: what every plot returns."""
    if path is not None:
        _save_figure(fig, path)
    return fig


def _labels(y, name):
    """Class labels (n,) int64 from integer labels, one-hot rows / probabilities (argmax), or one
    sigmoid column (n, 1) of probabilities (thresholded at 0.5)."""
    y = to_numpy(_validation.as_array(y, name, np.float64, allow_int=True))
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            return (y > 0.5).astype(np.int64)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected labels of shape (n,), (n, 1) or (n, classes), got {y.shape}")
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        raise ValueError(f"{name}: expected integer class labels; pass the probabilities of one "
                         "sigmoid unit as shape (n, 1)")
    if y.min() < 0:
        raise ValueError(f"{name}: class labels must be >= 0, got {y.min()}")
    return y.astype(np.int64)


def learning_curve(history, path=None, metrics=None):
    """Loss and metrics per epoch, training and validation, one panel each (seed 003's cost curve).

    history : a ``History`` (its ``.history``) or a dict of per-epoch lists, e.g. ``{"loss": [...],
        "val_loss": [...], "accuracy": [...]}``. A History given to several fits holds all their
        values, drawn at epochs 1, 2, ... one after the other (its epochs are the last fit's).
    metrics : names to draw besides the loss; default: every key that is not "loss" or "val_*". A
        "val_*" name draws that validation curve (on its own panel unless its training metric is drawn).
    Returns the Figure (4.5 x 3.5 inches per panel at 100 dpi); writes it to ``path`` when given.

    >>> fig = learning_curve(model.fit(X, y, epochs=50), path="curve.png")     # doctest: +SKIP
    """
    hist = getattr(history, "history", history)
    if not hasattr(hist, "keys"):
        raise TypeError(f"history: expected a History or a dict of lists, got {type(history).__name__}")
    if metrics is None:
        metrics = [k for k in hist if k != "loss" and not k.startswith("val_")]
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    panels = (["loss"] if "loss" in hist else []) + [m for m in metrics if m != "loss"]
    # "val_accuracy" next to "accuracy" is already drawn, as that panel's validation curve
    panels = [m for m in panels if not (m.startswith("val_") and m[4:] in panels)]
    missing = [m for m in panels if m not in hist]
    if missing or not panels:
        raise ValueError(f"history: no entry for {missing or 'loss'}; it has {sorted(hist)}")
    # a History knows its epochs: a fit resumed at initial_epoch=5 drew 6, 7, ... (counted from 1).
    # One given to several fits lists the last fit's epochs only while its lists hold every fit's
    # values one after the other: those are drawn at 1, 2, ... (the last fit's epoch numbers would
    # shift the earlier fits' values: 2 epochs then a fit resumed at initial_epoch=2 drew 3 to 7)
    first = int(history.epoch[0]) + 1 if _one_fit(history, hist) else 1
    fig = _new_figure("learning_curve", (4.5 * len(panels), 3.5))
    for ax, key in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        drawn = set()                   # the epochs this panel has a value at
        for label, values in _curves(hist, key):
            if values is not None and len(values):
                values = np.asarray(values, dtype=float)
                x = _epochs_of(history, hist, key if label == "train" else "val_" + key.removeprefix("val_"),
                               len(values), first)
                line, = ax.plot(x, values, label=label)
                # a line needs two finite neighbours: a value alone (a one-epoch fit, a NaN on
                # either side) would not show at all, so it gets a dot
                finite = np.isfinite(values)
                neighbour = np.zeros_like(finite)
                neighbour[1:] |= finite[:-1]
                neighbour[:-1] |= finite[1:]
                alone = finite & ~neighbour
                if alone.any():
                    ax.plot(x[alone], values[alone], "o", color=line.get_color(), markersize=4)
                drawn.update(int(e) for e in x)
        ax.set(xlabel="epoch", ylabel=key, title=key)
        ax.xaxis.get_major_locator().set_params(integer=True)     # no epoch 1.25
        if len(drawn) == 1:             # one epoch: a single tick, not 0.96 ... 1.04
            ax.set_xticks(sorted(drawn))
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path)


def _one_fit(history, hist):
    """Whether ``history`` is a History whose epochs (``history.epoch``, the last fit's) are those
    of all its values: False for a dict, and for a History given to several fits (Keras 3 restarts
    its epochs at each fit's start, not its lists)."""
    epochs = getattr(history, "epoch", None)
    return bool(epochs) and len(epochs) == len(hist.get("loss", epochs))


def _epochs_of(history, hist, key, count, first):
    """The epochs (counted from 1) of ``key``'s ``count`` values. A "val_" list shorter than the
    training loss's was measured every few epochs (fit's ``validation_freq``): a History knows
    after which (``validation_epoch``); a plain dict cannot say, and drawing its values at epochs
    1, 2, ... would draw them where they were not measured."""
    epochs = len(hist.get("loss", ())) or count
    if not key.startswith("val_") or count == epochs:
        return np.arange(first, first + count)
    validated = getattr(history, "validation_epoch", None)
    if validated is not None and len(validated) == count:
        # the last fit's validated epochs, placed among its values: the last len(history.epoch) of
        # 'loss' (after the values of the fits before it, when the History was given to several)
        return np.asarray(validated) - history.epoch[0] + first + (epochs - len(history.epoch))
    if validated is not None:
        # a History given to several fits: its lists go on across them, its epochs are the last fit's
        raise ValueError(f"history: {key!r} has {count} values, measured over several fits (a History given to "
                         f"each), and the History records after which epochs of the last fit only "
                         f"({len(validated)}); plot each fit's own History")
    raise ValueError(f"history: {key!r} has {count} values for {epochs} epochs of 'loss', and a dict "
                     f"cannot say after which epochs they were measured (fit's validation_freq); pass "
                     f"the History fit returned, which records them")


def _curves(hist, key):
    """(label, values) of each curve on ``key``'s panel; a "val_*" key is a validation curve itself."""
    if key.startswith("val_"):
        return [("validation", hist[key])]
    return [("train", hist[key]), ("validation", hist.get("val_" + key))]


def _grid(X, resolution):
    """A (resolution, resolution) grid over the data with a 10 % margin: xx, yy and points (r*r, 2)."""
    resolution = _validation.check_positive_int(resolution, "resolution")
    if resolution < 2:
        raise ValueError(f"resolution: expected at least 2, got {resolution}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = np.where(hi > lo, 0.1 * (hi - lo), 0.5)
    xs, ys = (np.linspace(lo[i] - pad[i], hi[i] + pad[i], resolution) for i in range(2))
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float32)


def _check_2d(X, y):
    X = to_numpy(_validation.as_array(X, "X", np.float32))
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X: decision boundaries need 2-D points of shape (n_samples, 2), got {X.shape}")
    y = _labels(y, "y")
    if len(y) != len(X):
        raise ValueError(f"y: expected {len(X)} labels (one per row of X), got {len(y)}")
    return X, y


def _surface(model, points, shape):
    """Predict on the grid: the probability of class 1 (binary, one output) or the argmax class."""
    proba = getattr(model, "predict_proba", None)
    if callable(proba):
        # a scikit-learn classifier (GlassnetClassifier among them): its predict gives labels, which
        # would be shaded as probabilities; predict_proba has one column per class, two for a binary one
        pred = np.asarray(to_numpy(proba(points)))
        if pred.ndim == 2 and pred.shape[1] == 2:
            pred = pred[:, 1:]                  # the probability of class 1, shaded as a sigmoid's
        return _scored_surface(pred, points, shape)
    pred = model.predict(points)
    if isinstance(pred, dict) and len(pred) == 1:   # one output given as a dict (glassnet._dictoutputs)
        (pred,) = pred.values()
    if isinstance(pred, (list, tuple, dict)):   # several outputs: which one to draw is the user's choice
        raise ValueError(f"model: decision boundaries are drawn from one output, but model.predict returned "
                         f"{len(pred)} outputs; pass a model of the one to draw, e.g. "
                         f"gn.Model(model.inputs, model.outputs[0])")
    pred = to_numpy(pred)
    loss = getattr(model, "loss", None)
    if getattr(loss, "from_logits", False) is True:      # a model trained on logits: their probabilities
        pred = loss.probabilities(pred)
    return _scored_surface(pred, points, shape)


def _scored_surface(pred, points, shape):
    """The grid's predictions ``pred`` as a surface: probabilities of class 1, or argmax classes."""
    if pred.shape[0] != len(points):
        raise ValueError(f"model.predict returned shape {pred.shape} for {len(points)} grid points")
    if pred.ndim == 1 or pred.shape[1] == 1:
        return pred.reshape(shape).astype(np.float32), 2
    return pred.argmax(axis=1).reshape(shape).astype(np.int16), pred.shape[1]


def _class_colors(k):
    from matplotlib import colormaps
    return [colormaps["tab10"](i) for i in range(k)] if k <= 10 else colormaps["viridis"](np.linspace(0, 1, k))


def _draw_boundary(ax, xx, yy, Z, n_classes, X, y, title=None):
    if Z.dtype.kind == "f":                      # binary: shade by probability, line at 0.5
        if y.max() > 1:
            raise ValueError(f"y: a model with one output separates 2 classes, got labels up to {y.max()}")
        Z = np.clip(Z, 0.0, 1.0)
        ax.contourf(xx, yy, Z, levels=np.linspace(0, 1, 21), cmap="RdYlGn", vmin=0, vmax=1, alpha=0.6)
        if Z.min() < 0.5 < Z.max():
            ax.contour(xx, yy, Z, levels=[0.5], colors="k", linewidths=1)
        ax.scatter(*X[y == 0].T, c=_RED, marker="o", edgecolors="k", linewidths=0.5, s=25, label="0")
        ax.scatter(*X[y == 1].T, c=_GREEN, marker="x", linewidths=1.5, s=30, label="1")
    else:                                        # multiclass: the colour of the argmax class
        n_classes = max(n_classes, int(y.max()) + 1)
        colors = _class_colors(n_classes)
        ax.contourf(xx, yy, Z, levels=np.arange(n_classes + 1) - 0.5, colors=colors, alpha=0.35)
        for c in np.unique(y):
            ax.scatter(*X[y == c].T, color=colors[c], edgecolors="k", linewidths=0.5, s=25, label=str(c))
    ax.set(xlim=(xx[0, 0], xx[0, -1]), ylim=(yy[0, 0], yy[-1, 0]), xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)


def decision_boundary(model, X, y, path=None, resolution=200, ax=None):
    """Shade the classes ``model.predict`` gives over the plane and scatter the points on top.

    model : anything with ``predict(points)`` returning (m, 1) or (m,) probabilities (binary: shaded
        red -> green by probability, boundary line at 0.5) or (m, classes) scores (argmax colours);
        a scikit-learn classifier (``GlassnetClassifier``) is drawn from its ``predict_proba``.
    X : ndarray of shape (n_samples, 2); y : labels (n_samples,) or one-hot (n_samples, classes).
    resolution : grid points per axis (``resolution**2`` predictions in one call).
    ax : draw into this Axes instead of a new 5 x 4.5 inch figure. Returns the Figure.

    >>> fig = decision_boundary(model, X_test, y_test, path="moons.png")        # doctest: +SKIP
    """
    X, y = _check_2d(X, y)
    xx, yy, points = _grid(X, resolution)
    Z, k = _surface(model, points, xx.shape)
    if ax is None:
        ax = _new_figure("decision_boundary", (5, 4.5)).subplots()
    else:
        _require_matplotlib("decision_boundary")
    _draw_boundary(ax, xx, yy, Z, k, X, y)
    return _finish(ax.figure, path)


class BoundaryRecorder(Callback):
    """Callback that stores the model's decision surface every ``every`` epochs (and after the last),
    for ``animate_decision_boundary``.

    X : ndarray (n_samples, 2), y : labels; the grid (``resolution`` per axis) is fixed at creation.
    ``frames`` is a list of ``(epoch, surface, logs)``, epoch counted from 1; frames accumulate
    across ``fit`` calls (call ``frames.clear()`` to start over).

    Example::

        rec = BoundaryRecorder(X, y, every=20)
        model.fit(X, y, epochs=400, callbacks=[rec])
        animate_decision_boundary(rec, "train.gif")
    """

    logs_added = ()        # it reads the logs, adds nothing (see Callback.logs_added)

    def __init__(self, X, y, every=10, resolution=100):
        super().__init__()
        self.X, self.y = _check_2d(X, y)
        self.every = _validation.check_positive_int(every, "every")
        self.xx, self.yy, self._points = _grid(self.X, resolution)
        self.frames, self.n_classes = [], 2
        self._last = None                            # (epoch, logs) of the last epoch seen

    def _record(self, epoch, logs):
        Z, self.n_classes = _surface(self.model, self._points, self.xx.shape)
        self.frames.append((epoch, Z, dict(logs or {})))

    def on_epoch_end(self, epoch, logs=None):
        self._last = (epoch + 1, logs)
        if (epoch + 1) % self.every == 0:
            self._record(epoch + 1, logs)

    def on_train_end(self, logs=None):
        # Always end on the final state, even when the epoch count is not a multiple of `every`.
        if self._last is not None and (not self.frames or self.frames[-1][0] != self._last[0]):
            self._record(*self._last)
        self._last = None


def animate_decision_boundary(recorder, path, fps=5):
    """Write a GIF of the decision surfaces a ``BoundaryRecorder`` stored, one frame per record.

    Frames are 500 x 450 pixels, titled with the epoch and loss; ``fps`` frames per second, looping.
    Returns ``path``.

    >>> animate_decision_boundary(rec, "moons.gif", fps=10)                     # doctest: +SKIP
    """
    if not getattr(recorder, "frames", None):
        raise ValueError("recorder: no frames recorded; pass it to fit(..., callbacks=[recorder]) first")
    # a GIF stores each frame's duration in hundredths of a second, in 16 bits: from 1 frame every
    # 655 s to 100 frames a second (faster frames are shown at the viewer's own pace)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0.002 <= fps <= 100:
        raise ValueError(f"fps: expected a number of frames per second in [0.002, 100], got {fps!r}")
    # the bytes are a GIF whatever the name: "moons.mp4" would be a GIF that players refuse to open
    suffix = os.path.splitext(_fspath(path))[1]
    if suffix.lower() != ".gif":
        raise ValueError(f"path: animate_decision_boundary writes a GIF, so the file's name ends in .gif; "
                         f"got {os.fspath(path)!r}")
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"glassnet.plot.animate_decision_boundary() needs Pillow: {_EXTRA}") from exc
    fig = _new_figure("animate_decision_boundary", (5, 4.5))
    ax = fig.subplots()
    images = []
    for epoch, Z, logs in recorder.frames:       # one figure reused: clearing is cheaper than a new one
        ax.clear()
        title = f"epoch {epoch}" + (f"   loss {logs['loss']:.4f}" if "loss" in logs else "")
        _draw_boundary(ax, recorder.xx, recorder.yy, Z, recorder.n_classes, recorder.X, recorder.y, title)
        fig.canvas.draw()
        rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
        images.append(Image.fromarray(np.ascontiguousarray(rgb)))
    duration = max(1, int(round(1000 / fps)))
    write_atomically(path, lambda fh: images[0].save(fh, format="GIF", save_all=True,
                                                   append_images=images[1:], duration=duration, loop=0))
    return path


def confusion_counts(y_true, y_pred, num_classes=None):
    """The confusion matrix as integers: ``C[i, j]`` = samples of true class i predicted as j.

    y_true, y_pred : labels (n,), one-hot or probabilities (n, classes) (argmax), or one sigmoid
    column (n, 1) (thresholded at 0.5). Returns int64 ndarray of shape (num_classes, num_classes).

    >>> confusion_counts([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_pred: expected {len(t)} predictions (one per y_true), got {len(p)}")
    # One-hot inputs fix the class count even when the last classes never occur.
    widths = [np.shape(a)[1] for a in (y_true, y_pred) if np.ndim(a) == 2 and np.shape(a)[1] > 1]
    needed = max(int(t.max()) + 1, int(p.max()) + 1, *widths)
    if num_classes is None:
        num_classes = needed
    elif _validation.check_positive_int(num_classes, "num_classes") < needed:
        raise ValueError(f"num_classes: labels go up to {needed - 1}, so expected at least {needed}, "
                         f"got {num_classes}")
    k = int(num_classes)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def confusion_matrix(y_true, y_pred, path=None, labels=None):
    """Draw the confusion matrix (rows: true class, columns: predicted) with the count in each cell.

    y_true, y_pred : as for ``confusion_counts``. labels : names for the classes (default 0..k-1).
    Returns the Figure; writes it to ``path`` when given.

    >>> fig = confusion_matrix(y_test, model.predict(X_test), path="cm.png")   # doctest: +SKIP
    """
    counts = confusion_counts(y_true, y_pred)
    if labels is not None:
        if len(labels) < counts.shape[0]:
            raise ValueError(f"labels: expected at least {counts.shape[0]} names, got {len(labels)}")
        counts = confusion_counts(y_true, y_pred, num_classes=len(labels))
    k = counts.shape[0]
    names = [str(c) for c in (range(k) if labels is None else labels)]
    size = max(4.0, 0.55 * k + 2.0)
    fig = _new_figure("confusion_matrix", (size, size * 0.9))
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8)
    threshold = counts.max() / 2
    for (i, j), n in np.ndenumerate(counts):     # white text on dark cells so every count is readable
        ax.text(j, i, str(n), ha="center", va="center", color="w" if n > threshold else "k",
                fontsize=9 if k <= 12 else 6)
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true", title=f"confusion matrix ({counts.sum()} samples)")
    return _finish(fig, path)


def _image_grid(caller, images, titles, title, columns, cmap, symmetric):
    """A figure of small images in a grid of ``columns``: (k, h, w) arrays, or (k, h, w, 3) RGB ones.
    ``symmetric``: one colour scale centred on 0 for all (weights), else each its own (activations)."""
    k = len(images)
    columns = min(columns, k)
    rows = -(-k // columns)
    # at least 4 inches wide: room for the title over a single image
    fig = _new_figure(caller, (max(4.0, 1.3 * columns + 0.6), 1.3 * rows + 0.5))
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    scale = float(np.nanmax(np.abs(images))) if np.isfinite(images).any() else 1.0
    scale = scale or 1.0              # a NaN weight blanks its own image, not every one
    for ax, image, name in zip(axes, images, titles):
        if image.ndim == 3:               # RGB weights: mapped from [-scale, scale] into [0, 1]
            ax.imshow((image / scale + 1) / 2)
        elif symmetric:
            ax.imshow(image, cmap=cmap, vmin=-scale, vmax=scale)
        else:
            ax.imshow(image, cmap=cmap)
        ax.set_title(name, fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[k:]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    return fig


def _filters(layer):
    """The kernel of a 2-D convolution as (kh, kw, C_in, filters), whatever layout the layer keeps:
    Conv2D's own (a grouped one's (kh, kw, C_in / groups, filters) spread over every channel),
    Conv2DTranspose's (kh, kw, filters, C_in) turned round, and DepthwiseConv2D's
    (kh, kw, C, multiplier) as C * multiplier filters of one input channel each; with LoRA on,
    the merged kernel the layer computes with."""
    from .layers import Conv2D, Conv2DTranspose, DepthwiseConv2D
    if not isinstance(layer, (Conv2D, Conv2DTranspose, DepthwiseConv2D)):
        raise TypeError(f"conv_filters: layer: expected a Conv2D, Conv2DTranspose or DepthwiseConv2D, got "
                        f"{getattr(layer, 'describe', lambda: type(layer).__name__)()}")
    if not layer.built:
        raise ValueError(f"conv_filters: {layer.describe()} is not built yet: it has no weights to draw")
    from .layers.lora import merged_kernel
    with merged_kernel(layer):          # with LoRA on, the kernel it computes with, W0 + s * A @ B
        kernel = to_numpy(layer.params["kernel"])
    if isinstance(layer, Conv2DTranspose):
        return kernel.transpose(0, 1, 3, 2)
    if isinstance(layer, DepthwiseConv2D):
        kh, kw, c, m = kernel.shape
        return kernel.reshape(kh, kw, 1, c * m)           # output channel c * m + j reads channel c
    groups = getattr(layer, "groups", 1)
    if groups > 1:
        # a grouped kernel's axis 2 is the channel within a group (C / g of them), not the input's
        # channel: spread it over all C, zeros where a filter does not see a channel
        kh, kw, per_group, filters = kernel.shape
        full = np.zeros((kh, kw, per_group * groups, filters), kernel.dtype)
        step = filters // groups
        for j in range(groups):
            full[:, :, j * per_group:(j + 1) * per_group, j * step:(j + 1) * step] = kernel[..., j * step:(j + 1) * step]
        return full
    return kernel


def conv_filters(layer, path=None, channel=None, columns=8):
    """Draw each filter of a ``Conv2D`` layer: its kernel (kh, kw) as an image, blue for negative
    weights and red for positive ones on one scale for all filters, so that their strengths compare.

    channel : which input channel's weights to draw; None draws the only one (greyscale input),
        the three together as colour (RGB input), or their mean over the input channels (deeper
        layers: a summary; pass a channel to see one). Returns the Figure; writes it to ``path``.

    >>> fig = conv_filters(model.get_layer("conv2d"), "filters.png")        # doctest: +SKIP
    """
    kernel = _filters(layer)
    columns = _validation.check_positive_int(columns, "columns")
    c_in = kernel.shape[2]
    if channel is not None:
        channel = _validation.check_non_negative_int(channel, "channel")
        if channel >= c_in:
            raise ValueError(f"channel: the kernel has {c_in} input channels (0 to {c_in - 1}), got {channel}")
        images, what = kernel[:, :, channel, :], f"input channel {channel}"
    elif c_in == 1:
        images, what = kernel[:, :, 0, :], "weights"
    elif c_in == 3:
        images, what = kernel, "RGB weights"
    else:
        images, what = kernel.mean(axis=2), f"mean over {c_in} input channels"
    images = np.moveaxis(images, -1, 0)                   # (filters, kh, kw[, 3])
    return _finish(_image_grid("conv_filters", images, [str(i) for i in range(len(images))],
                               f"{layer.name or type(layer).__name__}: {_count(len(images), 'filter')} ({what})",
                               columns, "RdBu_r", symmetric=True), path)


def feature_maps(model, x, layer, path=None, max_maps=32, columns=8):
    """Draw what ``layer`` (a name, an index or the layer) outputs for one image ``x`` (H, W, C), or
    a batch holding one: each channel of its output as an image, in inference mode (as ``predict``
    runs). The first ``max_maps`` channels; returns the Figure, and writes it to ``path``.

    >>> fig = feature_maps(model, X_test[0], "conv2d", "maps.png")           # doctest: +SKIP
    """
    target = layer if hasattr(layer, "forward") else (
        model.get_layer(index=layer) if isinstance(layer, (int, np.integer)) else model.get_layer(layer))
    if target not in model.layers:
        raise ValueError(f"layer: {target.describe()} is not a layer of this model")
    max_maps = _validation.check_positive_int(max_maps, "max_maps")
    columns = _validation.check_positive_int(columns, "columns")
    if getattr(model, "_input_shapes", None) is not None:
        raise ValueError(f"model: feature_maps shows what one image makes in a model of one input; this one has "
                         f"{len(model._input_shapes)} ({', '.join(model._input_names)})")
    x = np.asarray(to_numpy(x)) if not hasattr(x, "__cuda_array_interface__") else x
    if model._sample_input_shape is not None and shape_fits(x.shape, model._sample_input_shape):
        x = x[None]                                       # one image without its batch axis
    if x.ndim < 2 or x.shape[0] != 1:
        raise ValueError(f"x: expected one image, of shape {model._sample_input_shape} or (1, ...), got shape {x.shape}")
    out = model._on_device(model._prepare_x(x))        # where the weights are (a GPU for CuPy)
    with planned(model._mask_plan):                       # masks as in predict (layers/masking.py)
        for each, _, out in model._walk(out, training=False):    # inference mode, up to the layer asked for
            if each is target:
                break
    model._release_data(x)
    out = to_numpy(out)[0]
    if out.ndim != 3:
        raise ValueError(f"layer: {target.describe()} outputs samples of shape {out.shape}, not images "
                         f"(height, width, channels): choose a 2-D convolution or pooling layer")
    maps = np.moveaxis(out[:, :, :max_maps], -1, 0)
    return _finish(_image_grid("feature_maps", maps, [str(i) for i in range(len(maps))],
                               f"{target.name}: {len(maps)} of {_count(out.shape[-1], 'feature map')}", columns,
                               "viridis", symmetric=False), path)


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
