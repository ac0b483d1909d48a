"""glassnet.plot: the files written are real, non-blank images of the expected size; counts by hand."""
import os
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="needs the plot extra: pip install 'glassnet[plot]'")
Image = pytest.importorskip("PIL.Image", reason="needs the plot extra: pip install 'glassnet[plot]'")
import glassnet as gn  # noqa: E402
from glassnet import plot  # noqa: E402
from glassnet.callbacks import Callback, History  # noqa: E402


class Logistic:
    """A fixed 'trained' binary model: p(class 1) = sigmoid(w . x + b), shape (m, 1)."""

    def __init__(self, w=(1.0, -2.0), b=0.3):
        self.w, self.b = np.asarray(w), b

    def predict(self, X):
        return 1 / (1 + np.exp(-(X @ self.w + self.b)))[:, None]


class ThreeWay:
    """A fixed 3-class model: scores (m, 3), argmax = which of x1, x2, -(x1 + x2) is largest."""

    def predict(self, X):
        return np.stack([X[:, 0], X[:, 1], -X[:, 0] - X[:, 1]], axis=1)


@pytest.fixture
def points(rng):
    X = rng.normal(size=(60, 2)).astype(np.float32)
    return X, (X[:, 0] - 2 * X[:, 1] + 0.3 > 0).astype(np.int64)


def _image(path, size, min_colours=20):
    """Open ``path``, check its pixel size and that it is not blank; return it as an RGB array."""
    with Image.open(path) as im:
        assert im.size == size
        rgb = np.asarray(im.convert("RGB"))
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > min_colours and rgb.std() > 10
    return rgb


def _only(tmp_path, *names):
    # the atomic writes leave nothing else behind (no temporary files)
    assert sorted(os.listdir(tmp_path)) == sorted(names)


# -- learning curves ------------------------------------------------------------------------------
def test_learning_curve_from_dict_and_history(tmp_path):
    logs = {"loss": [0.9, 0.5, 0.3, 0.2], "val_loss": [1.0, 0.6, 0.45, 0.4],
            "accuracy": [0.5, 0.7, 0.8, 0.9], "val_accuracy": [0.4, 0.6, 0.7, 0.8]}
    fig = plot.learning_curve(logs, path=tmp_path / "curve.png")
    assert len(fig.axes) == 2 and [len(ax.lines) for ax in fig.axes] == [2, 2]
    _image(tmp_path / "curve.png", (900, 350))
    history = History()
    for epoch in range(4):
        history.on_epoch_end(epoch, {"loss": logs["loss"][epoch]})
    fig = plot.learning_curve(history, path=str(tmp_path / "history.png"))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    _image(tmp_path / "history.png", (450, 350))
    assert len(plot.learning_curve(logs, metrics=[]).axes) == 1
    _only(tmp_path, "curve.png", "history.png")


def test_learning_curve_shows_values_that_have_no_neighbour():
    # a line between finite neighbours draws nothing for one epoch, or for a value between NaNs
    fig = plot.learning_curve({"loss": [0.5]})
    ax, = fig.axes
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [1] and list(dots[0].get_ydata()) == [0.5]
    assert list(ax.get_xticks()) == [1]
    fig = plot.learning_curve({"loss": [0.5, float("nan"), 0.2, 0.1]})
    dots = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [1]          # 0.2 and 0.1 make a line
    fig = plot.learning_curve({"loss": [0.5, 0.4]})
    assert [line.get_marker() for line in fig.axes[0].lines] == ["None"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["train"]


def test_learning_curve_of_a_resumed_fit_starts_at_its_epoch(rng):
    # fit(epochs=10, initial_epoch=5) trains epochs 6..10; the plot drew them as 1..5
    model = gn.Sequential([gn.layers.Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    history = model.fit(x, y, epochs=10, initial_epoch=5, verbose=0)
    fig = plot.learning_curve(history)
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [6, 7, 8, 9, 10])
    fig = plot.learning_curve(history.history)          # a plain dict has no epochs: from 1
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3, 4, 5])


def test_learning_curve_of_a_validation_metric():
    logs = {"loss": [0.9, 0.5], "val_loss": [1.0, 0.6], "accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]}
    fig = plot.learning_curve(logs, metrics=["val_accuracy"])
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_accuracy"]
    (line,) = fig.axes[1].lines
    assert line.get_label() == "validation" and line.get_ydata().tolist() == logs["val_accuracy"]
    # asked for with its training metric: drawn once, as that panel's validation curve
    fig = plot.learning_curve(logs, metrics=["accuracy", "val_accuracy"])
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in fig.axes[1].lines] == ["train", "validation"]


def test_learning_curve_rejects_bad_history():
    with pytest.raises(ValueError, match=r"history: no entry for \['auc'\]; it has \['loss'\]"):
        plot.learning_curve({"loss": [1.0]}, metrics=["auc"])
    with pytest.raises(ValueError, match="history"):
        plot.learning_curve({})
    with pytest.raises(TypeError, match="history"):
        plot.learning_curve([0.5, 0.4])


# -- decision boundaries --------------------------------------------------------------------------
def test_binary_decision_boundary_shades_both_classes(tmp_path, points):
    X, y = points
    fig = plot.decision_boundary(Logistic(), X, y, path=tmp_path / "db.png", resolution=50)
    assert fig is not None
    rgb = _image(tmp_path / "db.png", (500, 450)).astype(int)
    r, g = rgb[..., 0], rgb[..., 1]
    assert (r > g + 40).mean() > 0.05 and (g > r + 40).mean() > 0.05     # red (y=0) and green (y=1) areas
    _only(tmp_path, "db.png")


def test_multiclass_decision_boundary_accepts_one_hot_and_an_axes(tmp_path, points):
    X, _ = points
    y = ThreeWay().predict(X).argmax(axis=1)
    plot.decision_boundary(ThreeWay(), X, np.eye(3)[y], path=tmp_path / "three.png", resolution=40)
    _image(tmp_path / "three.png", (500, 450))
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 4), dpi=50)
    left, right = fig.subplots(1, 2)
    assert plot.decision_boundary(Logistic(), X, points[1], ax=right) is fig
    assert len(right.collections) > 0 and len(left.collections) == 0


def test_decision_boundary_rejects_bad_inputs(points):
    X, y = points
    with pytest.raises(ValueError, match=r"X: .*\(n_samples, 2\), got \(60, 3\)"):
        plot.decision_boundary(Logistic(), np.hstack([X, X[:, :1]]), y)
    with pytest.raises(ValueError, match="X: "):
        plot.decision_boundary(Logistic(), X[:, 0], y)
    with pytest.raises(ValueError, match="y: expected 60 labels"):
        plot.decision_boundary(Logistic(), X, y[:-1])
    with pytest.raises(ValueError, match="y: a model with one output separates 2 classes"):
        plot.decision_boundary(Logistic(), X, np.arange(60) % 3, resolution=5)
    with pytest.raises(ValueError, match="resolution"):
        plot.decision_boundary(Logistic(), X, y, resolution=1)

    class Broken:
        def predict(self, P):
            return np.zeros((3, 1))

    with pytest.raises(ValueError, match=r"model.predict returned shape \(3, 1\) for 25 grid points"):
        plot.decision_boundary(Broken(), X, y, resolution=5)


# -- animation ------------------------------------------------------------------------------------
def _drive(recorder, model, epochs):
    """What fit does with a callback: set_model, then the epoch hooks."""
    recorder.set_model(model)
    recorder.on_train_begin({})
    for epoch in range(epochs):
        model.w = model.w * 1.5                    # "training" sharpens the boundary
        recorder.on_epoch_begin(epoch, {})
        recorder.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    recorder.on_train_end({})


def test_boundary_recorder_and_gif(tmp_path, points):
    X, y = points
    recorder = plot.BoundaryRecorder(X, y, every=3, resolution=30)
    assert isinstance(recorder, Callback)
    _drive(recorder, Logistic(), epochs=7)
    assert [epoch for epoch, _, _ in recorder.frames] == [3, 6, 7]         # every 3, plus the last
    assert recorder.frames[0][1].shape == (30, 30)
    path = tmp_path / "train.gif"
    assert plot.animate_decision_boundary(recorder, path, fps=4) == path
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.info["duration"] == 250
    _image(path, (500, 450))
    _only(tmp_path, "train.gif")


def test_animation_rejects_bad_inputs(tmp_path, points):
    recorder = plot.BoundaryRecorder(*points, every=1, resolution=10)
    with pytest.raises(ValueError, match="no frames recorded"):
        plot.animate_decision_boundary(recorder, tmp_path / "x.gif")
    _drive(recorder, Logistic(), epochs=1)
    for fps in (0, -2, "5", None, 0.0001, float("inf"), 101):     # a GIF frame lasts 0.01-655 s
        with pytest.raises(ValueError, match="fps"):
            plot.animate_decision_boundary(recorder, tmp_path / "x.gif", fps=fps)
    for name in ("x.mp4", "x", "x.gif.png"):      # GIF bytes under another name: refused, nothing written
        with pytest.raises(ValueError, match=r"path: .*\.gif"):
            plot.animate_decision_boundary(recorder, tmp_path / name)
    plot.animate_decision_boundary(recorder, tmp_path / "X.GIF")
    assert (tmp_path / "X.GIF").read_bytes()[:6] == b"GIF89a"
    (tmp_path / "X.GIF").unlink()
    with pytest.raises(ValueError, match="every"):
        plot.BoundaryRecorder(*points, every=0)
    _only(tmp_path)


def test_recorder_with_a_trained_sequential(tmp_path, points):
    import glassnet as gn
    X, y = points
    model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=2),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    recorder = plot.BoundaryRecorder(X, y, every=2, resolution=40)
    history = model.fit(X, y, epochs=5, batch_size=32, verbose=0, callbacks=[recorder])
    assert [epoch for epoch, _, _ in recorder.frames] == [2, 4, 5]
    assert abs(recorder.frames[-1][2]["loss"] - history.history["loss"][-1]) < 1e-12
    plot.animate_decision_boundary(recorder, tmp_path / "train.gif")
    _image(tmp_path / "train.gif", (500, 450))
    plot.learning_curve(history, path=tmp_path / "curve.png")
    _image(tmp_path / "curve.png", (900, 350))


# -- confusion matrix -----------------------------------------------------------------------------
def test_confusion_counts_by_hand():
    y_true = [0, 0, 1, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 2, 2, 0, 2]
    expected = [[1, 1, 0],
                [0, 2, 1],
                [1, 0, 3]]
    counts = plot.confusion_counts(y_true, y_pred)
    assert counts.dtype == np.int64 and counts.tolist() == expected
    probs = np.eye(3)[y_pred] * 0.8 + 0.05                # probabilities: argmax
    assert plot.confusion_counts(np.eye(3)[y_true], probs).tolist() == expected
    padded = plot.confusion_counts(y_true, y_pred, num_classes=4)
    assert padded.shape == (4, 4) and padded[:3, :3].tolist() == expected and padded.sum() == 9
    assert plot.confusion_counts([0, 1], np.eye(4)[[0, 1]]).shape == (4, 4)   # one-hot width counts
    sigmoid = np.array([[0.1], [0.7], [0.6], [0.2]])      # one sigmoid unit: threshold at 0.5
    assert plot.confusion_counts([0, 1, 0, 1], sigmoid).tolist() == [[1, 1], [1, 1]]


def test_confusion_counts_rejects_bad_inputs():
    with pytest.raises(ValueError, match="y_pred: expected 3 predictions"):
        plot.confusion_counts([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="num_classes: labels go up to 2"):
        plot.confusion_counts([0, 1, 2], [0, 1, 1], num_classes=2)
    with pytest.raises(ValueError, match="y_true: class labels must be >= 0"):
        plot.confusion_counts([0, -1], [0, 1])
    with pytest.raises(ValueError, match="y_pred: expected integer class labels"):
        plot.confusion_counts([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="y_true"):
        plot.confusion_counts([], [])


def test_confusion_matrix_png(tmp_path):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 50)
    y_pred = np.where(rng.random(50) < 0.7, y_true, rng.integers(0, 3, 50))
    fig = plot.confusion_matrix(y_true, y_pred, path=tmp_path / "cm.png", labels=["a", "b", "c", "d"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 16 and sum(map(int, texts)) == 50
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c", "d"]
    _image(tmp_path / "cm.png", (420, 378))
    with pytest.raises(ValueError, match="labels: expected at least 3 names"):
        plot.confusion_matrix(y_true, y_pred, labels=["a", "b"])


# -- what a CNN learnt: filters and feature maps --------------------------------------------------
@pytest.fixture
def cnn(rng):
    model = gn.Sequential([gn.Input((10, 10, 1)), gn.layers.Conv2D(6, 3, activation="relu"), gn.layers.MaxPooling2D(2),
                           gn.layers.Conv2D(5, 3, activation="relu"), gn.layers.Flatten(), gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    return model, rng.uniform(size=(3, 10, 10, 1)).astype(np.float32)


def test_conv_filters_draws_each_kernel_on_one_scale(tmp_path, cnn):
    model, _ = cnn
    fig = plot.conv_filters(model.get_layer("conv2d"), tmp_path / "filters.png")
    assert len([ax for ax in fig.axes if ax.images]) == 6 and "6 filters (weights)" in fig._suptitle.get_text()
    limits = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    kernel = np.abs(model.layers[0].params["kernel"]).max()
    assert limits == {(-kernel, kernel)}                     # one symmetric scale: strengths compare
    _image(tmp_path / "filters.png", fig.canvas.get_width_height())
    deeper = plot.conv_filters(model.layers[2])
    assert "mean over 6 input channels" in deeper._suptitle.get_text()
    assert "input channel 4" in plot.conv_filters(model.layers[2], channel=4)._suptitle.get_text()
    rgb = gn.layers.Conv2D(4, 3, seed=0)
    rgb.build((8, 8, 3))
    assert plot.conv_filters(rgb).axes[0].images[0].get_array().shape == (3, 3, 3)
    _only(tmp_path, "filters.png")


def test_transposed_and_depthwise_kernels_are_drawn_filter_by_filter():
    transposed = gn.layers.Conv2DTranspose(16, 3, seed=0)       # kernel (3, 3, 16 filters, 1 channel)
    transposed.build((8, 8, 1))
    fig = plot.conv_filters(transposed)
    assert "16 filters (weights)" in fig._suptitle.get_text()
    np.testing.assert_array_equal(fig.axes[5].images[0].get_array(), transposed.params["kernel"][:, :, 5, 0])
    depthwise = gn.layers.DepthwiseConv2D(3, depth_multiplier=2, seed=0)
    depthwise.build((8, 8, 3))
    fig = plot.conv_filters(depthwise)
    assert "6 filters (weights)" in fig._suptitle.get_text()     # not one RGB image of three channels
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), depthwise.params["kernel"][:, :, 1, 1])
    one = gn.layers.Conv2D(1, 3, seed=0)
    one.build((5, 5, 1))
    one.params["kernel"][0, 0, 0, 0] = np.nan
    assert "1 filter (weights)" in plot.conv_filters(one)._suptitle.get_text()


def test_feature_maps_shows_a_layer_s_channels_and_changes_nothing(tmp_path, cnn):
    model, x = cnn
    before = model.predict(x)
    fig = plot.feature_maps(model, x[0], "conv2d", tmp_path / "maps.png", max_maps=4, columns=2)
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    expected = np.maximum(model.layers[0].forward(x[:1])[0], 0)
    assert len(drawn) == 4 and all(np.allclose(d, expected[:, :, i]) for i, d in enumerate(drawn))
    assert "4 of 6 feature maps" in fig._suptitle.get_text()
    for layer in (1, model.layers[1]):                       # by index and by the layer itself
        assert len([ax for ax in plot.feature_maps(model, x[:1], layer).axes if ax.images]) == 6
    np.testing.assert_array_equal(model.predict(x), before)
    _image(tmp_path / "maps.png", fig.canvas.get_width_height())


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x: plot.conv_filters(m.layers[4]), TypeError, r"conv_filters: layer: expected a Conv2D, Conv2DTranspose or DepthwiseConv2D, got layer dense"),
    (lambda m, x: plot.conv_filters(gn.layers.Conv2D(2, 3)), ValueError, r"conv_filters: layer Conv2D is not built yet"),
    (lambda m, x: plot.feature_maps(m, None, 0), ValueError, r"x: expected one image"),
    (lambda m, x: plot.conv_filters(m.layers[0], channel=1), ValueError, r"channel: the kernel has 1 input channels \(0 to 0\), got 1"),
    (lambda m, x: plot.feature_maps(m, x, 0), ValueError, r"x: expected one image, of shape \(10, 10, 1\) or \(1, \.\.\.\), got shape \(3, 10, 10, 1\)"),
    (lambda m, x: plot.feature_maps(m, x[:1], "flatten"), ValueError, r"outputs samples of shape \(20,\), not images"),
    (lambda m, x: plot.feature_maps(m, x[:1], gn.layers.Conv2D(2, 3)), ValueError, r"is not a layer of this model"),
    (lambda m, x: plot.feature_maps(m, x[:1], "nope"), ValueError, r"get_layer: no layer named 'nope'"),
], ids=range(8))
def test_filter_and_map_plots_refuse_what_they_cannot_draw(cnn, call, error, message):
    model, x = cnn
    with pytest.raises(error, match=message):
        call(model, x)


# -- files and extras -----------------------------------------------------------------------------
def test_failed_plot_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    fig = plot.confusion_matrix([0, 1], [0, 1])

    def half_then_fail(fh, **kwargs):
        fh.write(b"half a PNG")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        plot._save_figure(fig, target)
    assert target.read_bytes() == b"old"
    _only(tmp_path, "plot.png")
    plot.confusion_matrix([0, 1], [0, 1], path=target)    # replacing an existing file works
    _image(target, (400, 360))


@pytest.mark.parametrize("hidden, call", [
    ("matplotlib", lambda: plot.learning_curve({"loss": [1.0]})),
    ("matplotlib", lambda: plot.confusion_matrix([0, 1], [0, 1])),
    ("PIL", lambda: plot.animate_decision_boundary(_recorded(), "never.gif")),
])
def test_missing_dependency_names_the_extra(monkeypatch, hidden, call):
    monkeypatch.setitem(sys.modules, hidden, None)        # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[plot\]'"):
        call()


def _recorded():
    recorder = plot.BoundaryRecorder(np.eye(2), [0, 1], every=1, resolution=5)
    recorder.frames.append((1, np.zeros((5, 5), np.float32), {}))
    return recorder


def test_an_unknown_image_suffix_is_named_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"^path: cannot write '.*curve.xyz': the suffix .xyz is not an image "
                                         r"format matplotlib writes; use one of .*\.png"):
        plot.learning_curve({"loss": [1.0, 0.5]}, tmp_path / "curve.xyz")
    assert list(tmp_path.iterdir()) == []
