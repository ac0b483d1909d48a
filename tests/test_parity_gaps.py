"""PyTorch autograd parity where tests/test_parity_ledger.py found none, or found it for the defaults
alone: values and the gradients of the inputs and of every weight, in float64, in training and
inference, with masks where the layer reads one. Each torch side is written from Keras' docs and
formulas (or torch.nn.functional's own), not from glassnet's code. Then float64 finite differences
of the settings that change a layer's maths which tests/test_layer_contract.py's one row per layer
leaves out."""
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet import activations, losses
from glassnet.gradcheck import check_layer
from keras_activations_torch import keras_activations_in_torch

L = gn.layers


def _compare(torch, layer, x, reference, training=False, mask=None, rtol=1e-10, atol=1e-12):
    """layer.forward / backward against reference(tx, params) in torch: values, dL/dx, dL/dweights."""
    if not layer.built:
        layer.build(x.shape[1:])
    out = layer.forward(x, training=training) if mask is None else layer.forward(x, training=training, mask=mask)
    upstream = np.random.default_rng(7).normal(size=out.shape)
    grad_x = layer.backward(upstream)
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    theirs = reference(tx, params)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=rtol, atol=atol)
    assert set(layer.grads) == set(params)
    for name, param in params.items():
        np.testing.assert_allclose(layer.grads[name], param.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    return out


def _off_kinks(z, kinks=(0.0, 0.5, 1.0, 3.0, 6.0, 0.3, 1.5, 2.5)):
    for kink in kinks:
        z = np.where(np.abs(np.abs(z) - kink) < 0.05, np.sign(z) * (kink + 0.1), z)
    return z


def _torch_activations(torch):
    F = torch.nn.functional
    hard_sigmoid = lambda t: torch.clamp(t / 6 + 0.5, 0, 1)         # noqa: E731 (torch's backward rounds 1/6 to float32)
    return {"linear": lambda t: t * 1, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "elu": F.elu, "softmax": lambda t: torch.softmax(t, -1),
            "selu": F.selu, "softplus": F.softplus, "softsign": F.softsign, "silu": F.silu, "gelu": F.gelu,
            "hard_sigmoid": hard_sigmoid, "relu6": F.relu6, "hard_silu": lambda t: t * hard_sigmoid(t), "mish": F.mish,
            "log_softmax": lambda t: torch.log_softmax(t, -1), **keras_activations_in_torch(torch)}


# -- activations: the Activation layer of every name; the functions' settings ---------------------
@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS) + sorted(activations.ALIASES))
def test_activation_layer_matches_torch_for_every_name(name, torch):
    z = _off_kinks(np.random.default_rng(3).normal(scale=2.5, size=(4, 3, 6)))
    fn = _torch_activations(torch)[activations.ALIASES.get(name, name)]
    _compare(torch, L.Activation(name, dtype="float64"), z, lambda t, p: fn(t))


def _keras_relu(torch, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' relu: x at or above the threshold, negative_slope (x - threshold) below, max_value above it."""
    def relu(t):
        out = torch.where(t >= threshold, t, negative_slope * (t - threshold))
        return out if max_value is None else torch.where(t >= max_value, torch.full_like(t, max_value), out)
    return relu


ACTIVATION_SETTINGS = [
    ("relu", {"negative_slope": 0.1}), ("relu", {"max_value": 2.5}), ("relu", {"threshold": 0.5}),
    ("relu", {"negative_slope": 0.3, "max_value": 6.0, "threshold": 1.5}), ("relu", {"max_value": 0.3}),
    ("elu", {"alpha": 0.5}), ("elu", {"alpha": 2.0}), ("celu", {"alpha": 0.5}), ("leaky_relu", {"negative_slope": 0.2}),
    ("leaky_relu", {"negative_slope": 1.5}), ("gelu", {"approximate": True}),
    ("softmax", {"axis": 0}), ("softmax", {"axis": 1}), ("softmax", {"axis": -2}),
    ("log_softmax", {"axis": 0}), ("log_softmax", {"axis": 1}), ("log_softmax", {"axis": -2})]


@pytest.mark.parametrize("name,settings", ACTIVATION_SETTINGS, ids=str)
def test_activation_settings_match_torch(name, settings, torch):
    F = torch.nn.functional
    z = _off_kinks(np.random.default_rng(4).normal(scale=3.0, size=(3, 4, 5)))
    reference = {"relu": lambda: _keras_relu(torch, **settings),
                 "elu": lambda: lambda t: F.elu(t, settings["alpha"]),
                 "celu": lambda: lambda t: F.celu(t, settings["alpha"]),
                 "leaky_relu": lambda: lambda t: F.leaky_relu(t, settings["negative_slope"]),
                 "gelu": lambda: lambda t: F.gelu(t, approximate="tanh"),
                 "softmax": lambda: lambda t: torch.softmax(t, settings["axis"]),
                 "log_softmax": lambda: lambda t: torch.log_softmax(t, settings["axis"])}[name]()
    tz = torch.tensor(z, requires_grad=True)
    out = reference(tz)
    upstream = np.random.default_rng(5).normal(size=tuple(out.shape))
    out.backward(torch.tensor(upstream))
    a = getattr(activations, name)(z, **settings)
    np.testing.assert_allclose(a, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    grad = getattr(activations, "backprop_" + name)(upstream, z, a, **settings)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-11, atol=1e-13)


# -- recurrent layers: masks with holes anywhere, in both directions -------------------------------
def _keras_recurrence(torch, name, params, x, mask, units, settings):
    """Keras' masked loop: a masked step keeps the states and repeats the last output (zeros with
    zero_output_for_mask); go_backwards reads the steps from the end, its outputs in that order."""
    act = {"tanh": torch.tanh, "relu": torch.relu, "softsign": torch.nn.functional.softsign}[settings.get("activation", "tanh")]
    gate = {"sigmoid": torch.sigmoid, "hard_sigmoid": lambda t: torch.clamp(t / 6 + 0.5, 0, 1)}[
        settings.get("recurrent_activation", "sigmoid")]
    use_bias = settings.get("use_bias", True)
    n, steps, _ = x.shape
    h, c, last = torch.zeros(n, units), torch.zeros(n, units), torch.zeros(n, units)
    outputs = []
    for t in (reversed(range(steps)) if settings.get("go_backwards") else range(steps)):
        keep = torch.tensor(mask[:, t:t + 1])
        if name == "GRU":
            b_in, b_rec = (params["bias"][0], params["bias"][1]) if use_bias else (0, 0)
            xz, xr, xh = (x[:, t] @ params["kernel"] + b_in).split(units, 1)
            hz, hr, hh = (h @ params["recurrent_kernel"] + b_rec).split(units, 1)
            z, r = gate(xz + hz), gate(xr + hr)
            h_new, c_new = z * h + (1 - z) * act(xh + r * hh), c
        else:
            pre = x[:, t] @ params["kernel"] + h @ params["recurrent_kernel"] + (params["bias"] if use_bias else 0)
            if name == "SimpleRNN":
                h_new, c_new = act(pre), c
            else:
                i, f, g, o = pre.split(units, 1)
                c_new = gate(f) * c + gate(i) * act(g)
                h_new = gate(o) * act(c_new)
        h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
        last = torch.where(keep, h_new, torch.zeros_like(h_new) if settings.get("zero_output_for_mask") else last)
        outputs.append(last)
    return torch.stack(outputs, 1) if settings.get("return_sequences") else outputs[-1]


RECURRENT_SETTINGS = [
    {"return_sequences": True, "go_backwards": True},
    {"go_backwards": True, "use_bias": False},
    {"return_sequences": True, "zero_output_for_mask": True, "go_backwards": True},
    {"return_sequences": True, "activation": "softsign", "recurrent_activation": "hard_sigmoid"},
]


@pytest.mark.parametrize("settings", RECURRENT_SETTINGS, ids=str)
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_masks_with_holes_match_torch(name, settings, torch):
    """PyTorch's packed sequences (test_masking.py) take right padding alone; here holes anywhere,
    a sample with every step masked, and the loop run backwards."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 6, 3))
    mask = rng.random((4, 6)) > 0.4
    mask[0], mask[1], mask[2, 0] = True, False, False
    if name == "SimpleRNN" and "recurrent_activation" in settings:
        settings = {**settings, "activation": "relu"}
        settings.pop("recurrent_activation")
    layer = getattr(L, name)(3, dtype="float64", seed=2, bias_initializer="random_normal", **settings)
    _compare(torch, layer, x, lambda t, p: _keras_recurrence(torch, name, p, t, mask, 3, settings), mask=mask)


# -- layers that had no torch test ---------------------------------------------------------------
def test_layer_scale_matches_torch(torch):
    layer = L.LayerScale(0.3, 4, dtype="float64")
    layer.build((3, 4))
    layer.params["gamma"][...] = np.random.default_rng(1).normal(size=4)        # not one value repeated
    _compare(torch, layer, np.random.default_rng(2).normal(size=(2, 3, 4)), lambda t, p: t * p["gamma"])


def test_stochastic_depth_matches_torch_in_training_and_inference(torch):
    x = np.random.default_rng(3).normal(size=(16, 3, 2))
    drawn = L.StochasticDepth(0.4, seed=5, dtype="float64")(x, training=True)
    kept = np.abs(drawn).reshape(16, -1).sum(axis=1) > 0
    assert 0 < kept.sum() < 16                                   # both kinds of samples
    keep = torch.tensor(kept, dtype=torch.float64)[:, None, None]
    # the same draw again from the same seed: Keras' x / keep_prob * keep
    _compare(torch, L.StochasticDepth(0.4, seed=5, dtype="float64"), x, lambda t, p: t / 0.6 * keep, training=True)
    _compare(torch, L.StochasticDepth(0.4, seed=5, dtype="float64"), x, lambda t, p: t * 1, training=False)


def test_random_crop_matches_torch_in_training_and_inference(torch):
    x = np.random.default_rng(4).normal(size=(3, 6, 8, 2))
    drawn = L.RandomCrop(3, 4, seed=2, dtype="float64")(x, training=True)
    corners = [next((a, b) for a in range(4) for b in range(5) if np.array_equal(x[i, a:a + 3, b:b + 4], drawn[i]))
               for i in range(3)]
    _compare(torch, L.RandomCrop(3, 4, seed=2, dtype="float64"), x,
             lambda t, p: torch.stack([t[i, a:a + 3, b:b + 4] for i, (a, b) in enumerate(corners)]), training=True)
    # inference: the largest centred box of the window's aspect ratio (here the whole image), resized;
    # halving is exact in Keras' float32 source positions, so torch's bilinear is Keras'
    bilinear = lambda t, p: torch.nn.functional.interpolate(                  # noqa: E731
        t.permute(0, 3, 1, 2), size=(3, 4), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    _compare(torch, L.RandomCrop(3, 4, seed=2, dtype="float64"), x, bilinear, training=False)


def test_random_draw_dropout_matches_torch(torch):
    x = np.random.default_rng(5).normal(size=(4, 6))
    make = lambda: L.RandomDraw("dropout", None, {"rate": 0.4, "noise_shape": None}, draw_seed=3, dtype="float64")  # noqa: E731
    kept = make()(x, training=True) / x
    assert set(np.round(np.unique(kept), 12)) == {0.0, round(1 / 0.6, 12)}
    _compare(torch, make(), x, lambda t, p: t * torch.tensor(kept), training=True)


def test_max_num_bounding_boxes_is_the_identity_on_arrays_as_torch(torch):
    layer = L.MaxNumBoundingBoxes(3, fill_value=-2, bounding_box_format="xyxy", dtype="float64")
    _compare(torch, layer, np.random.default_rng(6).normal(size=(2, 3, 4)), lambda t, p: t * 1)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_1d_with_a_mask_matches_torch(keepdims, torch):
    x = np.random.default_rng(7).normal(size=(4, 5, 3))
    mask = np.random.default_rng(8).random((4, 5)) > 0.4
    mask[0], mask[1, 2] = True, True
    weights = torch.tensor(mask, dtype=torch.float64)[..., None]
    _compare(torch, L.GlobalAveragePooling1D(keepdims=keepdims, dtype="float64"), x,
             lambda t, p: (t * weights).sum(1, keepdim=keepdims) / weights.sum(1, keepdim=keepdims), mask=mask)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("settings", [{}, {"center": False}, {"scale": False}, {"axis": 1, "epsilon": 0.1}], ids=str)
def test_batch_normalization_both_modes_and_settings_match_torch(settings, training, torch):
    """Training normalises by the batch's moments (biased variance), inference by the moving ones."""
    rng = np.random.default_rng(9)
    layer = L.BatchNormalization(dtype="float64", **settings)
    layer.build((3, 4))
    for value in layer.params.values():
        value[...] = rng.normal(size=value.shape)
    layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    axis, eps = settings.get("axis", -1), settings.get("epsilon", 1e-3)
    shape, reduced = ((1, 3, 1), (0, 2)) if axis == 1 else ((1, 1, 4), (0, 1))
    moving_mean = torch.tensor(layer.moving_mean.numpy().reshape(shape))
    moving_variance = torch.tensor(layer.moving_variance.numpy().reshape(shape))

    def reference(t, p):
        if training:
            mean, variance = t.mean(reduced, keepdim=True), t.var(reduced, unbiased=False, keepdim=True)
        else:
            mean, variance = moving_mean, moving_variance
        y = (t - mean) / torch.sqrt(variance + eps)
        y = y * p["gamma"].reshape(shape) if "gamma" in p else y
        return y + p["beta"].reshape(shape) if "beta" in p else y

    _compare(torch, layer, rng.normal(size=(5, 3, 4)), reference, training=training)


def _same(size, kernel, stride, dilation):
    """TensorFlow's "same" padding: the extra pixel at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("kernel,strides,dilation,padding,multiplier,use_bias", [
    (3, 1, 2, "same", 2, True), (2, 2, 1, "same", 1, False), (3, 2, 1, "valid", 2, True), (1, 1, 1, "valid", 3, False),
    (3, 1, 3, "valid", 1, True)])
def test_one_dimensional_depthwise_and_separable_convolutions_match_torch(separable, kernel, strides, dilation, padding,
                                                                          multiplier, use_bias, torch):
    F = torch.nn.functional
    steps, channels, filters = 9, 3, 4
    common = dict(strides=strides, padding=padding, dilation_rate=dilation, depth_multiplier=multiplier,
                  use_bias=use_bias, dtype="float64", bias_initializer="random_normal")
    layer = L.SeparableConv1D(filters, kernel, **common) if separable else L.DepthwiseConv1D(kernel, **common)

    def reference(t, p):
        t = t.transpose(1, 2)
        if padding == "same":
            t = F.pad(t, _same(steps, kernel, strides, dilation))
        depthwise = p["depthwise_kernel" if separable else "kernel"]            # (kernel, channels, multiplier)
        y = F.conv1d(t, depthwise.permute(1, 2, 0).reshape(channels * multiplier, 1, kernel), None, strides, 0, dilation,
                     groups=channels)
        if separable:
            y = F.conv1d(y, p["pointwise_kernel"][0].T[:, :, None])
        if use_bias:
            y = y + p["bias"][None, :, None]
        return y.transpose(1, 2)

    _compare(torch, layer, np.random.default_rng(10).normal(size=(2, steps, channels)), reference)


# -- losses -------------------------------------------------------------------------------------------
def _torch_binary_focal(torch, p, y, from_logits, label_smoothing, gamma, alpha, balanced):
    """Keras 3.15's binary_focal_crossentropy: smoothing, sigmoid, the clipped cross-entropy, the factor."""
    y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    p = torch.sigmoid(p) if from_logits else p
    clipped = torch.clamp(p, 1e-7, 1 - 1e-7)
    terms = -(y * torch.log(clipped) + (1 - y) * torch.log(1 - clipped))
    terms = (1 - (y * p + (1 - y) * (1 - p))) ** gamma * terms
    if balanced:
        terms = (y * alpha + (1 - y) * (1 - alpha)) * terms
    return terms.mean(-1)


def _torch_categorical_focal(torch, p, y, from_logits, label_smoothing, gamma, alpha):
    """Keras 3.15's categorical_focal_crossentropy: smoothing over the classes, softmax, rows rescaled, clipped."""
    y = y * (1 - label_smoothing) + label_smoothing / y.shape[-1]
    p = torch.softmax(p, -1) if from_logits else p
    p = torch.clamp(p / p.sum(-1, keepdim=True), 1e-7, 1 - 1e-7)
    return (alpha * (1 - p) ** gamma * -y * torch.log(p)).sum(-1)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("settings", [dict(from_logits=True), dict(label_smoothing=0.2),
                                      dict(from_logits=True, label_smoothing=0.1, gamma=1.5, alpha=0.6),
                                      dict(from_logits=True, gamma=0.0)], ids=str)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "categorical"])
def test_focal_losses_from_logits_and_label_smoothing_match_torch(binary, settings, weighted, torch):
    rng = np.random.default_rng(12)
    z = rng.standard_normal((6, 3)) * 2
    y = (rng.random((6, 3)) < 0.5).astype(float) if binary else np.eye(3)[rng.integers(0, 3, 6)]
    outputs = z if settings.get("from_logits") else (activations.sigmoid(z) if binary else activations.softmax(z))
    full = dict(dict(from_logits=False, label_smoothing=0.0, gamma=2.0, alpha=0.25), **settings)
    if binary:
        loss = losses.BinaryFocalCrossentropy(apply_class_balancing=True, **settings)
        make = lambda t: _torch_binary_focal(torch, t, torch.tensor(y), balanced=True, **full)         # noqa: E731
    else:
        loss = losses.CategoricalFocalCrossentropy(**settings)
        make = lambda t: _torch_categorical_focal(torch, t, torch.tensor(y), **full)                    # noqa: E731
    w = rng.uniform(0.1, 2.0, 6) if weighted else np.ones(6)
    t = torch.tensor(outputs, requires_grad=True)
    value = (make(t) * torch.tensor(w)).sum() / 6                  # Keras' sum_over_batch_size
    value.backward()
    ours = loss.weighted(outputs, y, w) if weighted else loss(outputs, y)
    grad = loss.weighted_gradient(outputs, y, w) if weighted else loss.gradient(outputs, y)
    assert ours == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("reduction", ["sum", "mean", "mean_with_sample_weight", "sum_over_batch_size"])
@pytest.mark.parametrize("name,settings", [("dice", {"axis": (1, 2, 3)}), ("tversky", {"alpha": 0.7, "beta": 0.3, "axis": (1, 2, 3)}),
                                           ("dice", {"axis": (1, 2)})], ids=str)
def test_dice_and_tversky_reductions_match_torch(name, settings, reduction, torch):
    """Keras' reduce_weighted_values; a loss of each sample and channel ({"axis": (1, 2)}) weighs each
    channel by its sample's weight, and "mean_with_sample_weight" divides by those weights' sum
    (glassnet's rule where Keras 3.15 fails: docs/keras_parity.md)."""
    from test_overlap_losses import _masks, _torch_values
    rng = np.random.default_rng(13)
    p, y = _masks(rng)
    w = rng.uniform(0.0, 2.0, 3)
    loss = {"dice": losses.Dice, "tversky": losses.Tversky}[name](reduction=reduction, **settings)
    t = torch.tensor(p, requires_grad=True)
    values = _torch_values(name, settings, t, y, torch)
    weights = torch.tensor(w).reshape(-1, *([1] * (values.ndim - 1))).expand(values.shape)
    total = (values * weights).sum()
    value = total if reduction == "sum" else total / (weights.sum() if reduction == "mean_with_sample_weight" else values.numel())
    value.backward()
    assert loss.weighted(p, y, w) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.weighted_gradient(p, y, w), t.grad.numpy(), rtol=1e-9, atol=1e-13)


# -- float64 finite differences of the settings test_layer_contract.py's rows leave out -------------
OTHER_SETTINGS = {
    "Dense-no-bias": (lambda: L.Dense(3, use_bias=False, activation="softplus"), (4,), False, None),
    "Conv1D-groups-strides": (lambda: L.Conv1D(4, 3, strides=2, groups=2, use_bias=False), (9, 4), False, None),
    "Conv2D-dilation-groups": (lambda: L.Conv2D(4, 2, dilation_rate=(2, 1), groups=2, padding="same"), (5, 4, 2), False, None),
    "Conv2D-valid-strides": (lambda: L.Conv2D(2, (3, 2), strides=(2, 1), use_bias=False), (7, 5, 2), False, None),
    "Conv1DTranspose-strides-valid": (lambda: L.Conv1DTranspose(2, 3, strides=3, use_bias=False), (5, 2), False, None),
    "DepthwiseConv2D-dilation": (lambda: L.DepthwiseConv2D(2, dilation_rate=2, use_bias=False), (5, 5, 2), False, None),
    "SeparableConv2D-strides": (lambda: L.SeparableConv2D(3, 3, strides=2, padding="same", use_bias=False), (5, 6, 2),
                                False, None),
    "SimpleRNN-backwards-relu": (lambda: L.SimpleRNN(3, go_backwards=True, activation="relu", use_bias=False,
                                                     recurrent_initializer="glorot_uniform"), (4, 2), False, None),
    "LSTM-sequences-no-bias": (lambda: L.LSTM(3, return_sequences=True, use_bias=False, unit_forget_bias=False),
                               (4, 2), False, None),
    "GRU-last-backwards": (lambda: L.GRU(3, go_backwards=True, recurrent_activation="hard_sigmoid"), (5, 2), False, None),
    "LSTM-masked-backwards": (lambda: L.LSTM(3, go_backwards=True, return_sequences=True), (5, 2), False,
                              np.array([[1, 1, 0, 1, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1], [1, 1, 1, 0, 0]], bool)),
    "GlobalAveragePooling1D-masked": (lambda: L.GlobalAveragePooling1D(), (5, 2), False,
                                      np.array([[1, 1, 0, 1, 1], [1, 0, 0, 0, 0], [1, 0, 1, 0, 1], [1, 1, 1, 0, 0]], bool)),
    "BatchNormalization-inference": (lambda: L.BatchNormalization(gamma_initializer="random_normal",
                                                                   beta_initializer="random_normal"), (3,), False, None),
    "BatchNormalization-no-center-scale-axis1": (lambda: L.BatchNormalization(axis=1, center=False, scale=False),
                                                 (3, 2), True, None),
    "LayerNormalization-no-center-axes": (lambda: L.LayerNormalization(axis=[1, 2], center=False), (3, 4), False, None),
    "LayerNormalization-no-scale": (lambda: L.LayerNormalization(scale=False, epsilon=0.1), (3, 4),
                                    False, None),
    "GroupNormalization-instance": (lambda: L.GroupNormalization(groups=-1, center=False), (3, 4), False, None),
    "PReLU-unshared": (lambda: L.PReLU(alpha_initializer="random_normal"), (3, 4), False, None),
    "Softmax-axis1": (lambda: L.Softmax(axis=1), (3, 4), False, None),
    "AveragePooling1D-same-strides": (lambda: L.AveragePooling1D(3, strides=2, padding="same"), (8, 2), False, None),
    "MaxPooling2D-same-strides": (lambda: L.MaxPooling2D((3, 2), strides=(2, 2), padding="same"), (5, 5, 2), False, None),
    "UpSampling2D-bilinear": (lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), (3, 2, 2), False, None),
    "Resizing-bilinear": (lambda: L.Resizing(5, 3), (3, 4, 2), False, None),
    "Resizing-bicubic-down": (lambda: L.Resizing(3, 5, interpolation="bicubic"), (6, 7, 2), False, None),
    "Resizing-area": (lambda: L.Resizing(3, 2, interpolation="area"), (7, 5, 2), False, None),
    "Resizing-lanczos3-up": (lambda: L.Resizing(7, 6, interpolation="lanczos3"), (4, 3, 2), False, None),
    "Resizing-lanczos5": (lambda: L.Resizing(4, 6, interpolation="lanczos5"), (6, 4, 2), False, None),
    "Resizing-bilinear-antialias-pad": (lambda: L.Resizing(3, 3, antialias=True, pad_to_aspect_ratio=True), (7, 4, 2),
                                        False, None),
    "UpSampling2D-bicubic": (lambda: L.UpSampling2D(2, interpolation="bicubic"), (3, 3, 2), False, None),
    "ConvLSTM1D-same-dilated-sequences": (lambda: L.ConvLSTM1D(2, 3, padding="same", dilation_rate=2, return_sequences=True,
                                                               use_bias=False), (3, 7, 2), False, None),
    "ConvLSTM2D-strides-masked": (lambda: L.ConvLSTM2D(2, 2, strides=2, go_backwards=True), (4, 5, 4, 1), False,
                                  np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]], bool)),
    "GroupNormalization-groups-of-two": (lambda: L.GroupNormalization(groups=2, scale=False, epsilon=0.1), (3, 6), False,
                                         None),
    "EinsumDense-two-axes": (lambda: L.EinsumDense("abc,cd->abd", (None, 3), bias_axes="d"), (4, 2), False, None),
}


@pytest.mark.parametrize("case", sorted(OTHER_SETTINGS))
def test_finite_differences_of_other_settings(case):
    make, shape, training, mask = OTHER_SETTINGS[case]
    layer = make()
    layer.dtype = np.dtype(np.float64)
    layer.seed = 0
    layer.build(shape)
    x = np.random.default_rng(14).normal(size=(4, *shape))
    if case.startswith("BatchNormalization-inference"):
        layer.moving_mean.assign(np.random.default_rng(1).normal(size=shape))
        layer.moving_variance.assign(np.random.default_rng(2).uniform(0.5, 2.0, shape))
    before = None if mask is None else (lambda: setattr(layer, "pending_mask", mask))
    report = check_layer(layer, x, training=training, before_forward=before)
    assert report["max_error"] < 1e-6 and "input" in report["errors"]
    assert set(report["errors"]) >= {"input", *layer.params}


# -- LoRA: W = W0 + (lora_alpha / rank) A @ B, the frozen W0 without a gradient --------------------
LORA = {   # name: (maker, sample shape, the layer's maths in torch given its effective kernel)
    "Dense": (lambda: L.Dense(5, activation="tanh"), (6,), lambda torch, t, w, p: torch.tanh(t @ w + p["bias"])),
    "EinsumDense": (lambda: L.EinsumDense("abc,cd->abd", output_shape=(3, 5), bias_axes="d"), (3, 6),
                    lambda torch, t, w, p: torch.einsum("abc,cd->abd", t, w) + p["bias"]),
    "Conv1D": (lambda: L.Conv1D(4, 3, padding="same", dilation_rate=2), (7, 3),
               lambda torch, t, w, p: torch.nn.functional.conv1d(torch.nn.functional.pad(t.transpose(1, 2), (2, 2)),
                                                                 w.permute(2, 1, 0), p["bias"], dilation=2).transpose(1, 2)),
    "Conv2D": (lambda: L.Conv2D(4, (3, 2), strides=(2, 1), activation="relu"), (7, 5, 2),
               lambda torch, t, w, p: torch.relu(torch.nn.functional.conv2d(t.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1),
                                                                            p["bias"], stride=(2, 1)).permute(0, 2, 3, 1))),
    "Embedding": (lambda: L.Embedding(9, 5), (4,), lambda torch, t, w, p: w[t.long()]),
}


@pytest.mark.parametrize("name", sorted(LORA))
def test_lora_matches_torch(name, torch):
    make, shape, maths = LORA[name]
    layer = make()
    layer.dtype = np.dtype(np.float64)
    layer.build(shape)
    layer.enable_lora(2, lora_alpha=3)
    rng = np.random.default_rng(15)
    for value in layer.params.values():
        value[...] = rng.normal(size=value.shape)          # B too: its zeros would hide A's gradient
    frozen = torch.tensor(np.asarray(layer.state[layer._lora.key]))       # W0: state, not trained
    a_key, b_key = layer._lora.a_key, layer._lora.b_key
    assert set(layer.params) == {a_key, b_key, *({"bias"} if "bias" in layer.params else ())}
    x = rng.integers(0, 9, (3, *shape)).astype(np.float64) if name == "Embedding" else rng.normal(size=(3, *shape))

    def reference(t, p):
        a, b = p[a_key], p[b_key]
        kernel = frozen + 1.5 * (a.reshape(-1, a.shape[-1]) @ b).reshape(frozen.shape)
        return maths(torch, t, kernel, p)

    if name == "Embedding":        # ids: no input gradient to compare
        out = layer.forward(x)
        upstream = rng.normal(size=out.shape)
        layer.backward(upstream)
        params = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
        theirs = reference(torch.tensor(x), params)
        theirs.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
        for k, p in params.items():
            np.testing.assert_allclose(layer.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
        return
    _compare(torch, layer, x, reference)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_bidirectional_with_masks_with_holes_matches_torch(name, return_sequences, merge_mode, torch):
    """Keras' Bidirectional: the copy reads from the end and its sequence is flipped back; both give
    zeros at masked steps exactly when they return sequences (Keras forces zero_output_for_mask)."""
    rng = np.random.default_rng(16)
    x = rng.normal(size=(4, 5, 3))
    mask = rng.random((4, 5)) > 0.4
    mask[0], mask[1], mask[2, -1] = True, False, False
    layer = L.Bidirectional(getattr(L, name)(2, return_sequences=return_sequences, bias_initializer="random_normal"),
                            merge_mode=merge_mode, dtype="float64", seed=3)
    layer.build((5, 3))
    ahead, behind = layer.forward_layer, layer.backward_layer
    settings = {"return_sequences": return_sequences, "zero_output_for_mask": return_sequences}
    out = layer.forward(x, mask=mask)
    upstream = rng.normal(size=out.shape)
    grad_x = layer.backward(upstream)
    pa = {k: torch.tensor(v, requires_grad=True) for k, v in ahead.params.items()}
    pb = {k: torch.tensor(v, requires_grad=True) for k, v in behind.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    a = _keras_recurrence(torch, name, pa, tx, mask, 2, settings)
    b = _keras_recurrence(torch, name, pb, tx, mask, 2, {**settings, "go_backwards": True})
    b = torch.flip(b, [1]) if return_sequences else b
    theirs = {"concat": lambda: torch.cat([a, b], -1), "sum": lambda: a + b, "ave": lambda: (a + b) / 2,
              "mul": lambda: a * b}[merge_mode]()
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for inner, params in ((ahead, pa), (behind, pb)):
        for k, p in params.items():
            np.testing.assert_allclose(inner.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("name", ["MultiHeadAttention", "Attention", "AdditiveAttention", "GroupedQueryAttention"])
def test_attention_dropout_in_training_matches_torch_given_its_mask(name, torch):
    """Training drops attention weights (kept ones times 1 / (1 - rate)); torch given the same mask."""
    rng = np.random.default_rng(17)
    query, value = rng.normal(size=(3, 4, 6)), rng.normal(size=(3, 5, 6))
    make = {"MultiHeadAttention": lambda: L.MultiHeadAttention(2, 3, dropout=0.3, bias_initializer="random_normal"),
            "GroupedQueryAttention": lambda: L.GroupedQueryAttention(3, 4, 2, dropout=0.3, bias_initializer="random_normal"),
            "Attention": lambda: L.Attention(use_scale=True, dropout=0.3),
            "AdditiveAttention": lambda: L.AdditiveAttention(dropout=0.3)}[name]
    layer = make()
    layer.dtype, layer.seed = np.dtype(np.float64), 4
    layer([query, value])
    for v in layer.params.values():
        v[...] = rng.normal(size=v.shape)
    out = layer.forward([query, value], training=True)
    drop = torch.tensor(layer.drop)
    assert 0 < (layer.drop == 0).sum() < layer.drop.size
    upstream = rng.normal(size=out.shape)
    grads = layer.backward(upstream)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    tq, tv = torch.tensor(query, requires_grad=True), torch.tensor(value, requires_grad=True)
    if name in ("MultiHeadAttention", "GroupedQueryAttention"):
        def project(x, key):
            return torch.einsum("nte,ehd->nhtd", x, p[f"{key}_kernel"]) + p[f"{key}_bias"][None, :, None, :]
        q, k, v = project(tq, "query"), project(tv, "key"), project(tv, "value")
        if name == "GroupedQueryAttention":          # each key/value head serves its run of query heads
            k, v = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
        weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, -1) * drop
        theirs = torch.einsum("nhtd,hdo->nto", weights @ v, p["output_kernel"]) + p["output_bias"]
    elif name == "Attention":
        theirs = (torch.softmax(tq @ tv.transpose(-1, -2) * p["scale"], -1) * drop) @ tv
    else:
        scores = (torch.tanh(tq[:, :, None] + tv[:, None]) * p["scale"]).sum(-1)
        theirs = (torch.softmax(scores, -1) * drop) @ tv
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[0], tq.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[1], tv.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key, t in p.items():
        np.testing.assert_allclose(layer.grads[key], t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


def _dropped_recurrence(torch, name, p, x, units, input_masks, state_masks, go_backwards):
    """Keras' recurrence in training: each gate's product of the inputs and of the state times its
    own mask (one mask for all the gates while the state is not dropped), the same at every step."""
    gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[name]
    blocks = len(input_masks or state_masks or [None])

    def product(a, masks, weights, g):
        block = slice(None) if blocks == 1 else slice(g * units, (g + 1) * units)
        a = a if masks is None else a * torch.tensor(masks[0 if blocks == 1 else g])
        return (a @ weights[:, block]).split(units, 1) if blocks == 1 else [a @ weights[:, block]]

    def products(a, masks, weights):
        return [part for g in range(1 if blocks == 1 else gates) for part in product(a, masks, weights, g)]

    h, c, outputs = torch.zeros(x.shape[0], units), torch.zeros(x.shape[0], units), []
    for t in (reversed(range(x.shape[1])) if go_backwards else range(x.shape[1])):
        xs, hs = products(x[:, t], input_masks, p["kernel"]), products(h, state_masks, p["recurrent_kernel"])
        if name == "GRU":
            (xz, xr, xh), (hz, hr, hh) = [a + b for a, b in zip(xs, p["bias"][0].split(units))], \
                                         [a + b for a, b in zip(hs, p["bias"][1].split(units))]
            z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
            h = z * h + (1 - z) * torch.tanh(xh + r * hh)
        elif name == "LSTM":
            i, f, g, o = [a + b + bias for a, b, bias in zip(xs, hs, p["bias"].split(units))]
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            h = torch.tanh(xs[0] + hs[0] + p["bias"])
        outputs.append(h)
    return torch.stack(outputs, 1)


@pytest.mark.parametrize("settings", [{"dropout": 0.4}, {"recurrent_dropout": 0.3},
                                      {"dropout": 0.4, "recurrent_dropout": 0.3, "go_backwards": True}], ids=str)
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_dropout_in_training_matches_torch_given_its_masks(name, settings, torch):
    rng = np.random.default_rng(18)
    x = rng.normal(size=(4, 5, 3))
    layer = getattr(L, name)(3, return_sequences=True, dtype="float64", seed=6, bias_initializer="random_normal",
                             **settings)
    layer.build((5, 3))
    layer.rng = np.random.default_rng(0)
    layer.forward(x, training=True)
    masks = (layer._input_masks, layer._state_masks)
    assert any(m is not None and (m[0] == 0).any() for m in masks)
    layer.rng = np.random.default_rng(0)            # the same masks for the compared pass
    _compare(torch, layer, x, lambda t, p: _dropped_recurrence(torch, name, p, t, 3, *masks, settings.get("go_backwards")),
             training=True)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_time_distributed_recurrent_layer_with_a_mask_matches_torch(name, return_sequences, torch):
    """TimeDistributed hands its layer the mask within each step (Keras: (batch * steps, length))."""
    rng = np.random.default_rng(19)
    x = rng.normal(size=(2, 3, 5, 4))
    mask = rng.random((2, 3, 5)) > 0.4
    mask[0, 0], mask[1, 2] = True, False
    layer = L.TimeDistributed(getattr(L, name)(2, return_sequences=return_sequences, bias_initializer="random_normal"),
                              dtype="float64", seed=1)
    layer.build((3, 5, 4))
    inner = layer.layer
    out = layer.forward(x, mask=mask)
    upstream = rng.normal(size=out.shape)
    grad_x = layer.backward(upstream)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in inner.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    theirs = _keras_recurrence(torch, name, params, tx.reshape(6, 5, 4), mask.reshape(6, 5), 2,
                               {"return_sequences": return_sequences})
    theirs = theirs.reshape(2, 3, *theirs.shape[1:])
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for k, p in params.items():
        np.testing.assert_allclose(inner.grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_rnn_of_stacked_cells_with_a_mask_matches_torch(return_sequences, go_backwards, torch):
    """RNN([SimpleRNNCell, LSTMCell, GRUCell]): each cell feeds the next within a step; a masked step
    keeps every cell's states and repeats the last output."""
    rng = np.random.default_rng(20)
    x = rng.normal(size=(4, 5, 3))
    mask = rng.random((4, 5)) > 0.4
    mask[0], mask[1] = True, False
    layer = L.RNN([L.SimpleRNNCell(2), L.LSTMCell(3), L.GRUCell(2)], return_sequences=return_sequences,
                  go_backwards=go_backwards, dtype="float64", seed=1)
    layer.build((5, 3))
    for value in layer.params.values():
        value[...] = rng.normal(size=value.shape) * 0.7

    def reference(t, p):
        cell = [{k[len(f"cell_{j}_"):]: v for k, v in p.items() if k.startswith(f"cell_{j}_")} for j in range(3)]
        states = [torch.zeros(4, 2), torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(4, 2)]     # h, h and c, h
        last, outputs = torch.zeros(4, 2), []
        for step in (reversed(range(5)) if go_backwards else range(5)):
            keep = torch.tensor(mask[:, step:step + 1])
            a = torch.tanh(t[:, step] @ cell[0]["kernel"] + states[0] @ cell[0]["recurrent_kernel"] + cell[0]["bias"])
            i, f, g, o = (a @ cell[1]["kernel"] + states[1] @ cell[1]["recurrent_kernel"] + cell[1]["bias"]).split(3, 1)
            c = torch.sigmoid(f) * states[2] + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            xz, xr, xh = (h @ cell[2]["kernel"] + cell[2]["bias"][0]).split(2, 1)
            hz, hr, hh = (states[3] @ cell[2]["recurrent_kernel"] + cell[2]["bias"][1]).split(2, 1)
            z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
            top = z * states[3] + (1 - z) * torch.tanh(xh + r * hh)
            states = [torch.where(keep, new, old) for new, old in zip([a, h, c, top], states)]
            last = torch.where(keep, top, last)
            outputs.append(last)
        return torch.stack(outputs, 1) if return_sequences else outputs[-1]

    _compare(torch, layer, x, reference, mask=mask)


# -- graph-only nodes: the scores an attention layer returns, the states a recurrent layer returns --
def _tape_gradients(model, xs, upstreams, weights):
    """d(sum of each output times its upstream)/d(inputs and weights), by a GradientTape."""
    ops = gn.ops
    with gn.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        outputs = model(xs if len(xs) > 1 else xs[0], training=False)
        value = sum(ops.sum(out * up) for out, up in zip(outputs, upstreams))
    return [np.asarray(o) for o in outputs], tape.gradient(value, list(xs) + list(weights))


def test_attention_scores_node_matches_torch(torch):
    """``out, scores = mha(q, v, return_attention_scores=True)`` in a functional model: both outputs'
    gradients reach the inputs and the weights (AttentionScores hands the scores' back to the layer)."""
    rng = np.random.default_rng(21)
    q_in, v_in = gn.Input((4, 5)), gn.Input((6, 5))
    out, scores = L.MultiHeadAttention(2, 3, bias_initializer="random_normal", name="mha")(
        q_in, v_in, return_attention_scores=True)
    model = gn.Model([q_in, v_in], [out, scores], seed=0, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers] == ["MultiHeadAttention", "AttentionScores"]
    xs = [rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 6, 5))]
    ups = [rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 2, 4, 6))]
    mha = model.get_layer("mha")
    names = list(mha.params)
    values, grads = _tape_gradients(model, xs, ups, [mha.params[n] for n in names])
    p = {n: torch.tensor(mha.params[n].copy(), requires_grad=True) for n in names}
    tq, tv = (torch.tensor(x, requires_grad=True) for x in xs)

    def project(x, key):
        return torch.einsum("nte,ehd->nhtd", x, p[f"{key}_kernel"]) + p[f"{key}_bias"][None, :, None, :]
    weights = torch.softmax(project(tq, "query") @ project(tv, "key").transpose(-1, -2) / 3 ** 0.5, -1)
    t_out = torch.einsum("nhtd,hdo->nto", weights @ project(tv, "value"), p["output_kernel"]) + p["output_bias"]
    ((t_out * torch.tensor(ups[0])).sum() + (weights * torch.tensor(ups[1])).sum()).backward()
    np.testing.assert_allclose(values[0], t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(values[1], weights.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, expected in zip(grads, [tq.grad, tv.grad, *(p[n].grad for n in names)]):
        np.testing.assert_allclose(np.asarray(got), expected.numpy(), rtol=1e-9, atol=1e-12)


def test_last_state_nodes_match_torch(torch):
    """``seq, h, c = LSTM(..., return_sequences=True, return_state=True)(x)``: the states' gradients
    (LastState nodes) join the sequence's, as torch's (h_n, c_n)."""
    rng = np.random.default_rng(22)
    x_in = gn.Input((5, 3))
    seq, h, c = L.LSTM(4, return_sequences=True, return_state=True, bias_initializer="random_normal", name="lstm")(x_in)
    model = gn.Model(x_in, [seq, h, c], seed=0, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers].count("LastState") == 2
    x = rng.normal(size=(2, 5, 3))
    ups = [rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))]
    lstm = model.get_layer("lstm")
    values, grads = _tape_gradients(model, [x], ups, [lstm.params[k] for k in ("kernel", "recurrent_kernel", "bias")])
    kernel, recurrent, bias = (lstm.params[k].copy() for k in ("kernel", "recurrent_kernel", "bias"))
    module = torch.nn.LSTM(3, 4, batch_first=True).double()
    with torch.no_grad():       # Keras' gates i, f, c, o are PyTorch's i, f, g, o
        module.weight_ih_l0.copy_(torch.tensor(kernel.T))
        module.weight_hh_l0.copy_(torch.tensor(recurrent.T))
        module.bias_ih_l0.copy_(torch.tensor(bias))
        module.bias_hh_l0.zero_()
    tx = torch.tensor(x, requires_grad=True)
    t_seq, (t_h, t_c) = module(tx)
    ((t_seq * torch.tensor(ups[0])).sum() + (t_h[0] * torch.tensor(ups[1])).sum()
     + (t_c[0] * torch.tensor(ups[2])).sum()).backward()
    for got, expected in zip(values, [t_seq, t_h[0], t_c[0]]):
        np.testing.assert_allclose(got, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[1]), module.weight_ih_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[2]), module.weight_hh_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[3]), module.bias_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_backward_output_node_matches_torch(torch):
    """``ahead, behind = Bidirectional(LSTM(...), merge_mode=None)(x)``: the backward reader's output
    is read by a BackwardOutput node, and both outputs' gradients reach the inputs and each reader's
    weights as those of torch's bidirectional LSTM, whose output is the two side by side."""
    rng = np.random.default_rng(24)
    x_in = gn.Input((5, 3))
    ahead, behind = L.Bidirectional(L.LSTM(4, return_sequences=True, bias_initializer="random_normal"),
                                    merge_mode=None, name="bi")(x_in)
    model = gn.Model(x_in, [ahead, behind], seed=0, dtype="float64")
    assert [type(layer).__name__ for layer in model.layers] == ["Bidirectional", "BackwardOutput"]
    wrapper = model.get_layer("bi")
    readers = (wrapper.forward_layer, wrapper.backward_layer)
    names = ("kernel", "recurrent_kernel", "bias")
    x = rng.normal(size=(2, 5, 3))
    ups = [rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 4))]
    values, grads = _tape_gradients(model, [x], ups, [reader.params[k] for reader in readers for k in names])
    module = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    with torch.no_grad():       # Keras' gates i, f, c, o are PyTorch's i, f, g, o
        for reader, suffix in zip(readers, ("", "_reverse")):
            getattr(module, "weight_ih_l0" + suffix).copy_(torch.tensor(reader.params["kernel"].T))
            getattr(module, "weight_hh_l0" + suffix).copy_(torch.tensor(reader.params["recurrent_kernel"].T))
            getattr(module, "bias_ih_l0" + suffix).copy_(torch.tensor(reader.params["bias"]))
            getattr(module, "bias_hh_l0" + suffix).zero_()
    tx = torch.tensor(x, requires_grad=True)
    t_out, _ = module(tx)
    (t_out * torch.tensor(np.concatenate(ups, axis=-1))).sum().backward()
    np.testing.assert_allclose(values[0], t_out[..., :4].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(values[1], t_out[..., 4:].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[0]), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for i, suffix in enumerate(("", "_reverse")):
        kernel, recurrent, bias = (np.asarray(g) for g in grads[1 + 3 * i: 4 + 3 * i])
        np.testing.assert_allclose(kernel, getattr(module, "weight_ih_l0" + suffix).grad.numpy().T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(recurrent, getattr(module, "weight_hh_l0" + suffix).grad.numpy().T, rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(bias, getattr(module, "bias_ih_l0" + suffix).grad.numpy(), rtol=1e-9, atol=1e-12)


def test_activity_regularization_layer_in_a_model_matches_torch(torch):
    """ActivityRegularization(l1, l2) passes its input on and adds (l1 sum|a| + l2 sum a^2) / batch
    to the loss (Keras' activity penalty, over the batch's size): the weights below it get both."""
    rng = np.random.default_rng(23)
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12).astype(float)
    model = gn.Sequential([L.Dense(5, activation="tanh", input_dim=3), L.ActivityRegularization(0.03, 0.02),
                           L.Dense(1, activation="sigmoid")], seed=0, dtype="float64")
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    value, _ = model._loss_and_gradients(x, y[:, None])
    w = [torch.tensor(a, requires_grad=True) for a in model.get_weights()]
    h = torch.tanh(torch.tensor(x) @ w[0] + w[1])
    p = torch.sigmoid(h @ w[2] + w[3])
    loss = (torch.nn.functional.binary_cross_entropy(p, torch.tensor(y[:, None]))
            + (0.03 * h.abs().sum() + 0.02 * (h ** 2).sum()) / 12)
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    dense = [layer for layer in model.layers if layer.params]
    grads = [g for layer in dense for g in (layer.grads["kernel"], layer.grads["bias"])]
    for ours, theirs in zip(grads, w):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)
