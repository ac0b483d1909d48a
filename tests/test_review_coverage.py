"""The torch-parity half of the rule "every layer, activation and loss has a finite-difference check
(float64) and a parity test against PyTorch autograd", for the layers and loss settings that had
only the first (test_layer_contract.py) or a comparison with Keras: each computation written in
torch with the layer's own weights, values and the gradients of the input and of every weight
compared in float64. Random layers are compared for the draw they made (read from their output):
what is checked is that backward is the derivative of the map forward applied."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import losses


def _run(layer, x, training=False, seed=1):
    """glassnet's output, the upstream gradient drawn for it, and the input gradient."""
    out = layer.forward(x, training=training)
    upstream = np.random.default_rng(seed).normal(size=out.shape)
    return out, upstream, layer.backward(upstream)


def _check(torch, layer, x, out, upstream, dx, torch_fn, params=(), rtol=1e-11, atol=1e-12):
    """``torch_fn(tx, *tensors of params)`` against glassnet's ``out`` and gradients."""
    tx = torch.tensor(x, requires_grad=True)
    tp = [torch.tensor(layer.params[name], requires_grad=True) for name in params]
    t_out = torch_fn(tx, *tp)
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=atol)
    for name, t in zip(params, tp):
        np.testing.assert_allclose(layer.grads[name], t.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


# -- Conv1DTranspose (only Keras compared its values; 2-D and 3-D had torch) -----------------------
def _tf_transpose_window(length, k, s, padding, out_len):
    """TensorFlow's conv1d_transpose as a crop of the full transposed convolution ((L - 1) s + k):
    it is the adjoint of the forward convolution of an ``out_len`` input, whose "same" padding puts
    half of max((L - 1) s + k - out_len, 0) before (the smaller half)."""
    total = max((length - 1) * s + k - out_len, 0) if padding == "same" else 0
    return total // 2


@pytest.mark.parametrize("settings", [dict(kernel_size=3, strides=2), dict(kernel_size=3, strides=2, padding="same"),
                                      dict(kernel_size=2, strides=3), dict(kernel_size=4, strides=2, padding="same"),
                                      dict(kernel_size=3, strides=2, output_padding=1),
                                      dict(kernel_size=5, strides=3, padding="same", output_padding=2),
                                      dict(kernel_size=3, strides=1, padding="same")], ids=str)
def test_conv1d_transpose_matches_torch(settings, torch):
    rng = np.random.default_rng(0)
    layer = L.Conv1DTranspose(3, activation="tanh", bias_initializer="random_normal", dtype="float64", seed=0,
                              **settings)
    x = rng.normal(size=(2, 5, 2))
    layer.build(x.shape[1:])
    out, upstream, dx = _run(layer, x)
    k, s = settings["kernel_size"], settings["strides"]
    start = _tf_transpose_window(x.shape[1], k, s, settings.get("padding", "valid"), out.shape[1])

    def reference(tx, kernel, bias):
        # Keras' kernel (k, filters, channels); torch's (channels, filters, k)
        full = torch.nn.functional.conv_transpose1d(tx.transpose(1, 2), kernel.permute(2, 1, 0), stride=s)
        width = full.shape[2]
        if start + out.shape[1] > width:            # "valid" with k < s, or output_padding: zeros past the end
            full = torch.nn.functional.pad(full, (0, start + out.shape[1] - width))
        y = full[:, :, start:start + out.shape[1]].transpose(1, 2) + bias
        return torch.tanh(y)
    _check(torch, layer, x, out, upstream, dx, reference, ("kernel", "bias"))


# -- wrappers and the pipeline ---------------------------------------------------------------------
def test_time_distributed_dense_and_conv_match_torch(torch):
    rng = np.random.default_rng(1)
    F = torch.nn.functional
    dense = L.TimeDistributed(L.Dense(3, activation="tanh", bias_initializer="random_normal"), dtype="float64", seed=0)
    x = rng.normal(size=(2, 4, 5))
    dense.build(x.shape[1:])
    out, up, dx = _run(dense, x)
    _check(torch, dense, x, out, up, dx, lambda t, w, b: torch.tanh(t @ w + b), ("kernel", "bias"))

    conv = L.TimeDistributed(L.Conv2D(2, 3, strides=2, padding="same", activation="relu",
                                      bias_initializer="random_normal"), dtype="float64", seed=0)
    x = rng.normal(size=(2, 3, 5, 4, 2))
    conv.build(x.shape[1:])
    out, up, dx = _run(conv, x)

    def reference(t, w, b):
        frames = t.reshape(-1, *t.shape[2:]).permute(0, 3, 1, 2)
        # TensorFlow's "same" for 5 x 4, k 3, stride 2: pad 1/1 rows and 0/1 columns
        y = F.conv2d(F.pad(frames, (0, 1, 1, 1)), w.permute(3, 2, 0, 1), b, stride=2)
        return torch.relu(y).permute(0, 2, 3, 1).reshape(2, 3, *y.shape[2:], 2)
    _check(torch, conv, x, out, up, dx, reference, ("kernel", "bias"))


@pytest.mark.parametrize("inner", ["dense", "conv1d", "embedding"])
def test_spectral_normalization_matches_torch(inner, torch):
    """Keras' rule: a training call divides the kernel by sigma = v W u^T after a power step from
    the kept u, and the gradient is the layer's with the divided kernel (none through sigma)."""
    rng = np.random.default_rng(2)
    make = {"dense": lambda: L.Dense(4, activation="tanh", bias_initializer="random_normal"),
            "conv1d": lambda: L.Conv1D(3, 2, activation="tanh"),
            "embedding": lambda: L.Embedding(6, 3, embeddings_initializer="random_normal")}[inner]
    layer = L.SpectralNormalization(make(), power_iterations=2, dtype="float64", seed=0)
    shape = {"dense": (5,), "conv1d": (6, 2), "embedding": (4,)}[inner]
    x = rng.integers(0, 6, (3, *shape)).astype(float) if inner == "embedding" else rng.normal(size=(3, *shape))
    layer.build(shape)
    name = "embeddings" if inner == "embedding" else "kernel"
    w0, u0 = layer.params[name].copy(), layer.state["vector_u"].copy()
    out, up, dx = _run(layer, x, training=True)

    with torch.no_grad():                           # the power method, in torch
        w = torch.tensor(w0.reshape(-1, w0.shape[-1]))
        u = torch.tensor(u0)
        for _ in range(2):
            v = u @ w.T
            v = v / v.norm()
            u = v @ w
            u = u / u.norm()
        sigma = (v @ w @ u.T).item()
    np.testing.assert_allclose(layer.params[name], w0 / sigma, rtol=1e-12)
    np.testing.assert_allclose(layer.state["vector_u"], u.numpy(), rtol=1e-12)
    F = torch.nn.functional
    if inner == "dense":
        _check(torch, layer, x, out, up, dx, lambda t, k, b: torch.tanh(t @ k + b), ("kernel", "bias"))
    elif inner == "conv1d":
        _check(torch, layer, x, out, up, dx,
               lambda t, k, b: torch.tanh(F.conv1d(t.transpose(1, 2), k.permute(2, 1, 0), b).transpose(1, 2)),
               ("kernel", "bias"))
    else:
        tk = torch.tensor(layer.params["embeddings"], requires_grad=True)
        t_out = F.embedding(torch.tensor(x.astype(np.int64)), tk)
        t_out.backward(torch.tensor(up))
        np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.grads["embeddings"], tk.grad.numpy(), rtol=1e-12)


def test_pipeline_matches_torch(torch):
    rng = np.random.default_rng(3)
    pipe = L.Pipeline([L.Rescaling(0.5, offset=-1.0), L.Dense(3, activation="tanh", bias_initializer="random_normal"),
                       L.Dense(2, activation="softplus")], dtype="float64", seed=0)
    x = rng.normal(size=(4, 5))
    pipe.build(x.shape[1:])
    out, up, dx = _run(pipe, x)
    names = list(pipe.params)
    assert len(names) == 4, names

    def reference(t, k1, b1, k2, b2):
        return torch.nn.functional.softplus(torch.tanh((0.5 * t - 1.0) @ k1 + b1) @ k2 + b2)
    _check(torch, pipe, x, out, up, dx, reference, names)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("name", ["SimpleRNN", "GRU", "LSTM"])
def test_bidirectional_matches_torch(name, merge_mode, torch):
    """The existing parity covers LSTM with concat; every inner kind and merge mode here."""
    from test_recurrent import _torch_module
    rng = np.random.default_rng(4)
    inner = getattr(L, name)(3, return_sequences=True, bias_initializer="random_normal")
    layer = L.Bidirectional(inner, merge_mode=merge_mode, dtype="float64", seed=0)
    x = rng.normal(size=(2, 5, 2))
    layer.build(x.shape[1:])
    out = layer.forward(x)
    up = rng.normal(size=out.shape)
    dx = layer.backward(up)
    fwd, order = _torch_module(torch, name, layer.forward_layer)
    bwd, _ = _torch_module(torch, name, layer.backward_layer)
    tx = torch.tensor(x, requires_grad=True)
    a = fwd(tx)[0]
    b = bwd(tx.flip(1))[0].flip(1)                 # Keras turns the backward sequence around
    t_out = {"concat": torch.cat([a, b], -1), "sum": a + b, "mul": a * b, "ave": (a + b) / 2}[merge_mode]
    t_out.backward(torch.tensor(up))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for prefix, module, inner_layer in (("forward_", fwd, layer.forward_layer), ("backward_", bwd, layer.backward_layer)):
        kernel_grad = module.weight_ih_l0.grad.numpy().T
        recurrent_grad = module.weight_hh_l0.grad.numpy().T
        if order is not None:
            inverse = np.argsort(order)
            kernel_grad, recurrent_grad = kernel_grad[:, inverse], recurrent_grad[:, inverse]
        grads = {k[len(prefix):]: g for k, g in layer.grads.items() if k.startswith(prefix)} or inner_layer.grads
        np.testing.assert_allclose(grads["kernel"], kernel_grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads["recurrent_kernel"], recurrent_grad, rtol=1e-10, atol=1e-12)


# -- layers without weights whose backward carries training gradients ------------------------------
def _resize_ref(torch, mode, h, w):
    F = torch.nn.functional

    def fn(t):
        y = F.interpolate(t.permute(0, 3, 1, 2), size=(h, w), mode=mode,
                          **({"align_corners": False, "antialias": False} if mode == "bilinear" else {}))
        return y.permute(0, 2, 3, 1)
    return fn


STATELESS = {
    "Flatten": (lambda: L.Flatten(), (3, 2, 4), lambda torch: lambda t: t.reshape(t.shape[0], -1)),
    "Reshape": (lambda: L.Reshape((4, -1)), (3, 2, 4), lambda torch: lambda t: t.reshape(t.shape[0], 4, 6)),
    "Permute": (lambda: L.Permute((2, 3, 1)), (3, 2, 4), lambda torch: lambda t: t.permute(0, 2, 3, 1)),
    "RepeatVector": (lambda: L.RepeatVector(3), (4,), lambda torch: lambda t: t[:, None, :].expand(-1, 3, -1)),
    "Rescaling": (lambda: L.Rescaling(-0.3, offset=2.0), (3, 4), lambda torch: lambda t: -0.3 * t + 2.0),
    "Identity": (lambda: L.Identity(), (3, 4), lambda torch: lambda t: t * 1),
    "ActivityRegularization": (lambda: L.ActivityRegularization(0.0, 0.0), (5,), lambda torch: lambda t: t * 1),
    "Cropping1D": (lambda: L.Cropping1D((2, 1)), (6, 3), lambda torch: lambda t: t[:, 2:-1]),
    "Cropping3D": (lambda: L.Cropping3D(((1, 0), (0, 1), 1)), (3, 3, 4, 2), lambda torch: lambda t: t[:, 1:, :-1, 1:-1]),
    "ZeroPadding3D": (lambda: L.ZeroPadding3D(((1, 0), 2, (0, 1))), (2, 3, 2, 2),
                      lambda torch: lambda t: torch.nn.functional.pad(t, (0, 0, 0, 1, 2, 2, 1, 0))),
    "CenterCrop": (lambda: L.CenterCrop(3, 2), (6, 5, 2), lambda torch: lambda t: t[:, 1:4, 1:3]),
    "Resizing-bilinear-up": (lambda: L.Resizing(7, 5), (4, 3, 2), lambda torch: _resize_ref(torch, "bilinear", 7, 5)),
    "Resizing-bilinear-down": (lambda: L.Resizing(3, 2), (7, 5, 2), lambda torch: _resize_ref(torch, "bilinear", 3, 2)),
    "Resizing-nearest": (lambda: L.Resizing(5, 7, interpolation="nearest"), (3, 4, 2),
                         lambda torch: _resize_ref(torch, "nearest-exact", 5, 7)),
    "Resizing-nearest-down": (lambda: L.Resizing(3, 2, interpolation="nearest"), (7, 5, 2),
                              lambda torch: _resize_ref(torch, "nearest-exact", 3, 2)),
    "UpSampling2D-bilinear": (lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), (3, 2, 2),
                              lambda torch: _resize_ref(torch, "bilinear", 6, 6)),
}


@pytest.mark.parametrize("name", sorted(STATELESS))
def test_stateless_layers_match_torch(name, torch):
    make, shape, ref = STATELESS[name]
    layer = make()
    layer.dtype = np.dtype(np.float64)
    layer.build(shape)
    x = np.random.default_rng(5).normal(size=(3, *shape))
    out, up, dx = _run(layer, x)
    # Resizing's bilinear weights come from TensorFlow's float32 source positions, also in float64
    # (deliberate: test_resizing.py), so they differ from torch's in the 8th digit
    tolerance = dict(rtol=1e-6, atol=1e-6) if name.startswith("Resizing-bilinear") else {}
    _check(torch, layer, x, out, up, dx, ref(torch), **tolerance)


def test_masking_matches_torch(torch):
    layer = L.Masking(0.5, dtype="float64")
    x = np.random.default_rng(6).normal(size=(3, 5, 4))
    x[0, 1] = 0.5
    x[2, [0, 4]] = 0.5
    x[1, 2, 0] = 0.5                                  # one entry alone does not mask its step
    layer.build(x.shape[1:])
    out, up, dx = _run(layer, x)
    _check(torch, layer, x, out, up, dx, lambda t: t * (t != 0.5).any(-1, keepdim=True))


@pytest.mark.parametrize("name", ["Dropout", "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D",
                                  "SpatialDropout3D", "GaussianNoise"])
def test_noise_layers_backward_is_the_derivative_of_their_draw(name, torch):
    """For the draw made (mask m = out / x, or noise n = out - x), torch's x * m or x + n."""
    shape = {"SpatialDropout1D": (5, 4), "SpatialDropout2D": (3, 3, 4), "SpatialDropout3D": (2, 3, 2, 4)}.get(name, (6, 3))
    layer = getattr(L, name)(0.4, dtype="float64", seed=3)
    x = np.random.default_rng(7).uniform(0.5, 2.0, size=(4, *shape)) * np.random.default_rng(8).choice([-1, 1], (4, *shape))
    layer.build(shape)
    out, up, dx = _run(layer, x, training=True)
    if name == "GaussianNoise":
        noise = out - x
        _check(torch, layer, x, out, up, dx, lambda t: t + torch.tensor(noise))
    else:
        mask = out / x
        if name.startswith("Spatial"):               # one draw per sample and channel
            assert np.allclose(mask, mask.reshape(4, -1, shape[-1])[:, :1].reshape(4, *[1] * (len(shape) - 1), shape[-1]))
        if name != "GaussianDropout":
            assert set(np.round(np.unique(mask), 12)) <= {0.0, round(1 / 0.6, 12)}
        _check(torch, layer, x, out, up, dx, lambda t: t * torch.tensor(mask))


# -- losses: settings and shapes the torch comparisons left out ------------------------------------
@pytest.mark.parametrize("delta", [0.3, 2.5])
def test_huber_with_another_delta_matches_torch(delta, torch):
    rng = np.random.default_rng(9)
    y_hat, y = rng.normal(size=(6, 3)) * 2, rng.normal(size=(6, 3))
    t = torch.tensor(y_hat, requires_grad=True)
    value = torch.nn.functional.huber_loss(t, torch.tensor(y), delta=delta)
    value.backward()
    loss = losses.Huber(delta=delta)
    assert loss(y_hat, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_hat, y), t.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "log_cosh", "binary_crossentropy", "categorical_crossentropy",
                                  "kl_divergence", "cosine_similarity", "squared_error"])
def test_losses_on_sequence_outputs_match_torch(name, torch):
    """Outputs (n, steps, k), as a return_sequences model's: Keras reduces the last axis, then
    averages over steps and samples (squared_error: 1/2 the sum of each sample, over n)."""
    rng = np.random.default_rng(10)
    z = rng.normal(size=(4, 3, 5))
    F = torch.nn.functional
    if name in ("categorical_crossentropy", "kl_divergence"):
        y_hat = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        y = np.eye(5)[rng.integers(0, 5, (4, 3))] if name != "kl_divergence" else \
            np.exp(2 * z[::-1]) / np.exp(2 * z[::-1]).sum(-1, keepdims=True)
    elif name == "binary_crossentropy":
        y_hat, y = 1 / (1 + np.exp(-z)), rng.integers(0, 2, z.shape).astype(float)
    else:
        y_hat, y = z, rng.normal(size=z.shape)
    t, ty = torch.tensor(y_hat, requires_grad=True), torch.tensor(y)
    per_step = {"mse": lambda: ((t - ty) ** 2).mean(-1), "mae": lambda: (t - ty).abs().mean(-1),
                "huber": lambda: F.huber_loss(t, ty, reduction="none").mean(-1),
                "log_cosh": lambda: torch.log(torch.cosh(t - ty)).mean(-1),
                "binary_crossentropy": lambda: F.binary_cross_entropy(t, ty, reduction="none").mean(-1),
                # Keras rescales each row to sum 1 first: its gradient flows through the division
                "categorical_crossentropy": lambda: -(ty * torch.log(t / t.sum(-1, keepdim=True))).sum(-1),
                "kl_divergence": lambda: (ty * torch.log(ty / t)).sum(-1),
                "cosine_similarity": lambda: -(F.normalize(t, dim=-1) * F.normalize(ty, dim=-1)).sum(-1),
                "squared_error": lambda: 0.5 * ((t - ty) ** 2).sum(-1) * 3}[name]()
    value = per_step.mean()
    value.backward()
    loss = losses.get(name)
    assert loss(y_hat, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_hat, y), t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_sparse_crossentropy_on_sequence_outputs_matches_torch(torch):
    """One label per step, (n, steps), with a softmax over (n, steps, k) in a model: torch's
    cross_entropy over every step, its value and (through one SGD step) its weight gradients."""
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 5, (4, 3))
    x = rng.normal(size=(4, 3, 2))
    model = gn.Sequential([L.Input((3, 2)), L.Dense(5, activation="softmax", bias_initializer="random_normal")],
                          seed=0, dtype="float64")
    model.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.1))
    k, b = model.get_weights()
    tk, tb = torch.tensor(k, requires_grad=True), torch.tensor(b, requires_grad=True)
    logits = torch.tensor(x) @ tk + tb
    value = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), torch.tensor(labels.reshape(-1)))
    value.backward()
    assert model.train_on_batch(x, labels) == pytest.approx(value.item(), rel=1e-12)
    k1, b1 = model.get_weights()
    np.testing.assert_allclose((k - k1) / 0.1, tk.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((b - b1) / 0.1, tb.grad.numpy(), rtol=1e-9, atol=1e-12)


# -- recurrent layers with other activations than torch's modules have --------------------------
def _torch_recurrence(torch, name, x, kernel, recurrent, bias, act, rec_act, units, go_backwards=False):
    """Keras' SimpleRNN, LSTM (gates i, f, c, o) and GRU (z, r, h; reset_after: the reset gate
    multiplies h U + b_rec), written out step by step; returns the sequence of outputs."""
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    h = torch.zeros(x.shape[0], units)
    c = torch.zeros(x.shape[0], units)
    outputs = []
    for t in steps:
        xt = x[:, t]
        if name == "SimpleRNN":
            h = act(xt @ kernel + h @ recurrent + bias)
        elif name == "LSTM":
            zs = (xt @ kernel + h @ recurrent + bias).split(units, dim=-1)
            i, f, g, o = rec_act(zs[0]), rec_act(zs[1]), act(zs[2]), rec_act(zs[3])
            c = f * c + i * g
            h = o * act(c)
        else:
            xz, xr, xh = (xt @ kernel + bias[0]).split(units, dim=-1)
            hz, hr, hh = (h @ recurrent + bias[1]).split(units, dim=-1)
            z, r = rec_act(xz + hz), rec_act(xr + hr)
            h = z * h + (1 - z) * act(xh + r * hh)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("name, settings", [
    ("SimpleRNN", dict(activation="relu")), ("SimpleRNN", dict(activation="softsign", go_backwards=True)),
    ("LSTM", dict(activation="relu", recurrent_activation="hard_sigmoid")),
    ("LSTM", dict(activation="softsign", recurrent_activation="tanh", go_backwards=True)),
    ("GRU", dict(activation="relu", recurrent_activation="hard_sigmoid")),
    ("GRU", dict(activation="elu", recurrent_activation="sigmoid", go_backwards=True))], ids=str)
def test_recurrent_layers_with_other_activations_match_torch(name, settings, torch):
    F = torch.nn.functional
    acts = {"relu": torch.relu, "softsign": F.softsign, "elu": F.elu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            # Keras 3's relu6(x + 3) / 6, in float64 (torch's hardsigmoid backward uses a float32 1/6)
            "hard_sigmoid": lambda t: torch.clamp(t / 6 + 0.5, 0, 1)}
    rng = np.random.default_rng(12)
    layer = getattr(L, name)(4, return_sequences=True, bias_initializer="random_normal", dtype="float64", seed=2,
                             **settings)
    x = rng.normal(size=(3, 6, 2))
    layer.build(x.shape[1:])
    out, up, dx = _run(layer, x)
    act = acts[settings.get("activation", "tanh")]
    rec_act = acts[settings.get("recurrent_activation", "sigmoid")]

    def reference(t, kernel, recurrent, bias):
        return _torch_recurrence(torch, name, t, kernel, recurrent, bias, act, rec_act, 4,
                                 settings.get("go_backwards", False))
    _check(torch, layer, x, out, up, dx, reference, ("kernel", "recurrent_kernel", "bias"))


# -- random image layers, for the draw they made ---------------------------------------------------
def _grid_sample(torch, t, matrices, fill):
    """Keras' affine_transform in torch: output pixel (x, y) reads the input at
    (a0 x + a1 y + a2, b0 x + b1 y + b2), bilinear, outside: zeros ("constant" 0) or the edge ("nearest")."""
    n, h, w, _ = t.shape
    ys, xs = torch.meshgrid(torch.arange(float(h)), torch.arange(float(w)), indexing="ij")
    m = torch.tensor(matrices)[:, :, None, None]
    x_in, y_in = m[:, 0] * xs + m[:, 1] * ys + m[:, 2], m[:, 3] * xs + m[:, 4] * ys + m[:, 5]
    grid = torch.stack([2 * x_in / (w - 1) - 1, 2 * y_in / (h - 1) - 1], dim=-1)
    out = torch.nn.functional.grid_sample(t.permute(0, 3, 1, 2), grid, mode="bilinear", align_corners=True,
                                          padding_mode={"constant": "zeros", "nearest": "border"}[fill])
    return out.permute(0, 2, 3, 1)


def _keras_matrices(name, n, h, w):
    """Keras 3's matrices for the fixed draws of the layers below (from its layers' sources)."""
    one, zero = np.ones(n), np.zeros(n)
    if name == "RandomRotation":                   # factor 0.1 of a turn: 36 degrees
        a = np.deg2rad(36.0)
        cos, sin = np.cos(a) * one, np.sin(a) * one
        x_off = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2
        y_off = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2
        return np.stack([cos, -sin, x_off, sin, cos, y_off], axis=1)
    if name == "RandomZoom":                       # zooms 1 + 0.3 high and 1 - 0.2 wide
        zy, zx = 1.3 * one, 0.8 * one
        return np.stack([zx, zero, (w - 1) / 2 * (1 - zx), zero, zy, (h - 1) / 2 * (1 - zy)], axis=1)
    # RandomTranslation: 0.25 of the height down, 0.2 of the width left
    return np.stack([one, zero, 0.2 * w * one, zero, one, -0.25 * h * one], axis=1)


@pytest.mark.parametrize("fill", ["constant", "nearest"])
@pytest.mark.parametrize("name", ["RandomRotation", "RandomZoom", "RandomTranslation"])
def test_geometric_augmentations_match_torch_grid_sample(name, fill, torch):
    make = {"RandomRotation": lambda **kw: L.RandomRotation((0.1, 0.1), **kw),
            "RandomZoom": lambda **kw: L.RandomZoom((0.3, 0.3), (-0.2, -0.2), **kw),
            "RandomTranslation": lambda **kw: L.RandomTranslation((0.25, 0.25), (-0.2, -0.2), **kw)}[name]
    layer = make(fill_mode=fill, dtype="float64", seed=0)
    x = np.random.default_rng(13).normal(size=(2, 7, 6, 2))
    layer.build(x.shape[1:])
    out, up, dx = _run(layer, x, training=True)
    matrices = _keras_matrices(name, 2, 7, 6)
    _check(torch, layer, x, out, up, dx, lambda t: _grid_sample(torch, t, matrices, fill), rtol=1e-10, atol=1e-10)


def test_flip_brightness_and_contrast_match_torch_for_their_draws(torch):
    rng = np.random.default_rng(14)
    x = rng.uniform(-2.4, 2.4, size=(6, 4, 5, 3))
    flip = L.RandomFlip("horizontal_and_vertical", dtype="float64", seed=0)
    flip.build(x.shape[1:])
    out, up, dx = _run(flip, x, training=True)
    # each image's flips, read from its output (random values: no image equals another flip of itself)
    flips = [next((a, b) for a in (False, True) for b in (False, True)
                  if np.array_equal(out[i], x[i][::-1 if a else 1, ::-1 if b else 1])) for i in range(6)]
    assert len(set(flips)) > 1

    def flipped(t):
        return torch.stack([t[i].flip([d for d, f in zip((0, 1), flips[i]) if f]) if any(flips[i]) else t[i]
                            for i in range(6)])
    _check(torch, flip, x, out, up, dx, flipped)

    bright = L.RandomBrightness((0.1, 0.1), value_range=(-2.5, 2.5), dtype="float64", seed=0)
    bright.build(x.shape[1:])
    out, up, dx = _run(bright, x, training=True)
    assert (out == 2.5).any()                      # some pixels clipped: their gradient is 0
    _check(torch, bright, x, out, up, dx, lambda t: torch.clamp(t + 0.5, -2.5, 2.5))

    contrast = L.RandomContrast(0.6, value_range=(-2.5, 2.5), dtype="float64", seed=0)
    contrast.build(x.shape[1:])
    out, up, dx = _run(contrast, x, training=True)
    factor = torch.tensor(contrast._drawn["contrast_factor"])[:, None, None, None]

    def contrasted(t):
        mean = t.mean(dim=(1, 2), keepdim=True)
        return torch.clamp((t - mean) * factor + mean, -2.5, 2.5)
    _check(torch, contrast, x, out, up, dx, contrasted)


# -- normalisation settings torch's modules do not take ---------------------------------------------
def _torch_normalize(torch, t, dims, eps):
    mean = t.mean(dim=dims, keepdim=True)
    var = ((t - mean) ** 2).mean(dim=dims, keepdim=True)
    return (t - mean) / torch.sqrt(var + eps)


@pytest.mark.parametrize("settings, shape", [
    (dict(axis=1), (3, 4)), (dict(axis=[1, 3], center=False), (3, 2, 4)), (dict(axis=-1, scale=False), (2, 5)),
    (dict(axis=[-1, -3], center=False, scale=False), (3, 2, 4))], ids=str)
def test_layer_normalization_settings_match_torch(settings, shape, torch):
    rng = np.random.default_rng(15)
    layer = L.LayerNormalization(epsilon=1e-3, dtype="float64", seed=0, **settings)
    layer.build(shape)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    x = rng.normal(size=(4, *shape)) * 2 + 1
    out, up, dx = _run(layer, x)
    axes = [a % (len(shape) + 1) for a in np.atleast_1d(settings["axis"])]
    kept = [shape[i - 1] if i in axes else 1 for i in range(len(shape) + 1)]     # gamma's broadcast shape
    names = [n for n in ("gamma", "beta") if n in layer.params]

    def reference(t, *weights):
        y = _torch_normalize(torch, t, axes, 1e-3)
        for name, w in zip(names, weights):
            w = w.reshape(kept)
            y = y * w if name == "gamma" else y + w
        return y
    _check(torch, layer, x, out, up, dx, reference, names, rtol=1e-10)


@pytest.mark.parametrize("settings, shape", [(dict(groups=-1), (3, 4, 4)), (dict(groups=2, center=False), (5, 6)),
                                             (dict(groups=4, scale=False), (2, 3, 2, 8)), (dict(groups=1), (4,))], ids=str)
def test_group_normalization_settings_match_torch(settings, shape, torch):
    rng = np.random.default_rng(16)
    layer = L.GroupNormalization(epsilon=1e-3, dtype="float64", seed=0, **settings)
    layer.build(shape)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    x = rng.normal(size=(3, *shape)) * 2 + 1
    out, up, dx = _run(layer, x)
    channels = shape[-1]
    groups = channels if settings["groups"] == -1 else settings["groups"]
    names = [n for n in ("gamma", "beta") if n in layer.params]

    def reference(t, *weights):
        g = t.reshape(*t.shape[:-1], groups, channels // groups)
        dims = list(range(1, g.dim() - 2)) + [g.dim() - 1]          # the spatial axes and the group's channels
        y = _torch_normalize(torch, g, dims, 1e-3).reshape(t.shape)
        for name, w in zip(names, weights):
            y = y * w if name == "gamma" else y + w
        return y
    _check(torch, layer, x, out, up, dx, reference, names, rtol=1e-10)
