"""pytorch/examples and PyTorch's tutorials ported as docs/pytorch.md says (review "portstorch"):
super_resolution (PixelShuffle, PSNR), fast_neural_style's TransformerNet (ReflectionPad2d,
InstanceNorm2d, nearest interpolation, residual blocks), mnist_rnn (LSTM over image rows, BatchNorm1d,
Adadelta and StepLR), time_sequence_prediction (stacked LSTMCell, its `future` loop; Adam, glassnet
having no LBFGS) and "Learning PyTorch with Examples" (the polynomial fits, LegendrePolynomial3).
Started from PyTorch's weights, in float64, losses and weights follow PyTorch's step by step. And
targets (n, T) for outputs (n, T, 1), which PyTorch's time sequence example has and Keras 3 takes,
train as Keras trains them (they were refused)."""
import math
import re
from pathlib import Path

import numpy as np

import glassnet as gn

L = gn.layers


def t(p):
    return p.detach().numpy()


def conv(m, order=slice(None)):
    """nn.Conv2d's weights as Conv2D's, its output channels reordered by ``order``."""
    return [t(m.weight).transpose(2, 3, 1, 0)[..., order], t(m.bias)[order]]


def torch_steps(torch, net, opt, loss_fn, x, y, batch, epochs=1, scheduler=None):
    losses = []
    for _ in range(epochs):
        for i in range(0, len(x), batch):
            opt.zero_grad()
            loss = loss_fn(net(torch.from_numpy(x[i:i + batch])), torch.from_numpy(y[i:i + batch]))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()
    return np.array(losses)


def batch_losses(model, x, y, batch, epochs=1, callbacks=()):
    losses = []
    record = gn.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: losses.append(logs["loss"]))
    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0, callbacks=[record, *callbacks])
    running = np.array(losses).reshape(epochs, -1)          # each epoch's running means
    steps = np.arange(1, running.shape[1] + 1)
    per_batch = np.diff(np.concatenate([np.zeros((epochs, 1)), running * steps], 1), axis=1)
    return per_batch.ravel()


def test_super_resolution_trains_as_torch_and_psnr_as_main(torch):
    """pytorch/examples super_resolution: Conv2d stack + PixelShuffle, orthogonal init, Adam, MSELoss;
    main.py's test() averages 10 log10(1 / mse) over the batches: MeanMetricWrapper's rule."""
    nn, r = torch.nn, 3

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 8, 5, 1, 2), nn.Conv2d(8, 8, 3, 1, 1)
            self.conv3, self.conv4 = nn.Conv2d(8, 4, 3, 1, 1), nn.Conv2d(4, r * r, 3, 1, 1)
            for m in (self.conv1, self.conv2, self.conv3):
                nn.init.orthogonal_(m.weight, nn.init.calculate_gain("relu"))
            nn.init.orthogonal_(self.conv4.weight)

        def forward(self, x):
            x = torch.relu(self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x))))))
            return nn.functional.pixel_shuffle(self.conv4(x), r)

    torch.manual_seed(0)
    net = Net()
    model = gn.Sequential([gn.Input((None, None, 1)),
                           L.ZeroPadding2D(2), L.Conv2D(8, 5, activation="relu"),       # padding=2
                           L.Conv2D(8, 3, padding="same", activation="relu"),
                           L.Conv2D(4, 3, padding="same", activation="relu"),
                           L.Conv2D(r * r, 3, padding="same"), L.DepthToSpace(r)], dtype="float64")
    order = np.arange(r * r).reshape(1, r * r).T.ravel()
    ported = lambda: conv(net.conv1) + conv(net.conv2) + conv(net.conv3) + conv(net.conv4, order)
    model.set_weights(ported())

    def psnr(y_true, y_pred):
        return 10 * np.log10(1 / np.mean((y_true - y_pred) ** 2))

    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01, epsilon=1e-8),
                  metrics=[gn.metrics.MeanMetricWrapper(psnr, name="wrapped_psnr"), psnr])
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 1, 6, 7)), rng.random((12, 1, 18, 21))
    expected = torch_steps(torch, net, torch.optim.Adam(net.parameters(), lr=0.01), nn.MSELoss(), x, y, 4, 2)
    nhwc = lambda a: a.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(batch_losses(model, nhwc(x), nhwc(y), 4, 2), expected, rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    with torch.no_grad():
        avg_psnr = np.mean([10 * math.log10(1 / nn.functional.mse_loss(
            net(torch.from_numpy(x[i:i + 5])), torch.from_numpy(y[i:i + 5])).item()) for i in range(0, 12, 5)])
    got = model.evaluate(nhwc(x), nhwc(y), batch_size=5, return_dict=True)
    np.testing.assert_allclose(got["psnr"], avg_psnr, rtol=1e-12)        # the function itself, as Keras counts it
    np.testing.assert_allclose(got["wrapped_psnr"], avg_psnr, rtol=1e-12)


def _guide_reflection_padding():
    """docs/pytorch.md's ReflectionPadding2D, the block that defines it, run as written."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "pytorch.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "class ReflectionPadding2D" in b]
    assert blocks, "docs/pytorch.md: no ReflectionPadding2D (nn.ReflectionPad2d)"
    namespace = {}
    exec(compile(blocks[0], "docs/pytorch.md (ReflectionPadding2D)", "exec"), namespace)
    return namespace["ReflectionPadding2D"]


ReflectionPadding2D = _guide_reflection_padding()


def test_reflection_padding_layer_of_the_guide_is_torch_s(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6, 3))
    layer = ReflectionPadding2D(2, dtype="float64")
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2)).requires_grad_(True)
    out = torch.nn.ReflectionPad2d(2)(xt)
    g = rng.standard_normal(out.shape)
    out.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(layer(x), t(out).transpose(0, 2, 3, 1))
    np.testing.assert_allclose(layer.backward(g.transpose(0, 2, 3, 1)), t(xt.grad).transpose(0, 2, 3, 1),
                               atol=1e-14)


def test_fast_neural_style_transformer_net_trains_as_torch(torch):
    """fast_neural_style's TransformerNet (narrower, two residual blocks) and a few Adam steps of an
    MSE loss: ReflectionPad2d as a layer of your own, InstanceNorm2d(affine=True) as
    GroupNormalization(groups=-1, epsilon=1e-5), interpolate(mode="nearest") as UpSampling2D."""
    nn = torch.nn

    class ConvLayer(nn.Module):
        def __init__(self, i, o, k, s, upsample=None):
            super().__init__()
            self.upsample, self.pad, self.conv2d = upsample, nn.ReflectionPad2d(k // 2), nn.Conv2d(i, o, k, s)

        def forward(self, x):
            if self.upsample:
                x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
            return self.conv2d(self.pad(x))

    a, b, c = 4, 5, 6
    specs = [(3, a, 9, 1, None), (a, b, 3, 2, None), (b, c, 3, 2, None)] + [(c, c, 3, 1, None)] * 4 + \
            [(c, b, 3, 1, 2), (b, a, 3, 1, 2)]
    torch.manual_seed(0)
    convs = nn.ModuleList([ConvLayer(*s) for s in specs] + [ConvLayer(a, 3, 9, 1)])
    norms = nn.ModuleList([nn.InstanceNorm2d(s[1], affine=True) for s in specs])
    with torch.no_grad():
        for n in norms:
            n.weight.uniform_(0.5, 1.5)
            n.bias.uniform_(-0.5, 0.5)

    class TransformerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs, self.norms = convs, norms

        def forward(self, x):
            block = lambda k, y: self.norms[k](self.convs[k](y))
            y = torch.relu(block(2, torch.relu(block(1, torch.relu(block(0, x))))))
            for k in (3, 5):                                        # ResidualBlock
                y = block(k + 1, torch.relu(block(k, y))) + y
            y = torch.relu(block(8, torch.relu(block(7, y))))
            return self.convs[9](y)

    net = TransformerNet()
    x_in = gn.Input((None, None, 3))
    gconvs = [L.Conv2D(s[1], s[2], strides=s[3]) for s in specs] + [L.Conv2D(3, 9)]
    gnorms = [L.GroupNormalization(groups=-1, epsilon=1e-5) for _ in specs]

    def block(k, y):
        if k < len(specs) and specs[k][4]:
            y = L.UpSampling2D(specs[k][4])(y)
        y = gconvs[k](ReflectionPadding2D(gconvs[k].kernel_size[0] // 2)(y))
        return gnorms[k](y) if k < len(specs) else y

    y = L.ReLU()(block(2, L.ReLU()(block(1, L.ReLU()(block(0, x_in))))))
    for k in (3, 5):
        y = L.Add()([block(k + 1, L.ReLU()(block(k, y))), y])
    y = L.ReLU()(block(8, L.ReLU()(block(7, y))))
    model = gn.Model(x_in, block(9, y), dtype="float64")

    def ported():
        return [conv(m.conv2d) for m in convs] + [[t(n.weight), t(n.bias)] for n in norms]

    for layer, weights in zip(gconvs + gnorms, ported()):
        layer.set_weights(weights)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(1e-3, epsilon=1e-8))
    rng = np.random.default_rng(0)
    x, target = rng.random((4, 3, 12, 16)), rng.random((4, 3, 12, 16))
    nhwc = lambda v: v.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(model.predict(nhwc(x)), nhwc(t(net(torch.from_numpy(x)))), atol=1e-12)
    expected = torch_steps(torch, net, torch.optim.Adam(net.parameters(), lr=1e-3), nn.MSELoss(), x, target, 2, 2)
    np.testing.assert_allclose(batch_losses(model, nhwc(x), nhwc(target), 2, 2), expected, rtol=1e-12)
    for layer, weights in zip(gconvs + gnorms, ported()):
        # the convolutions before an instance norm have biases of zero gradient, which Adam turns
        # into steps of rounding noise: 1e-10 in float64
        for mine, theirs in zip(layer.get_weights(), weights):
            np.testing.assert_allclose(mine, theirs, atol=1e-9)


def test_mnist_rnn_trains_as_torch(torch):
    """pytorch/examples mnist_rnn: LSTM(28, 64, batch_first) over the rows, its last output through
    BatchNorm1d, Linear, ReLU, Linear, log_softmax; Adadelta(lr=0.1), StepLR(1, gamma=0.7); dropout
    off (Dropout2d on (N, 64) drops values one by one: Dropout(p)); bias_hh frozen (the guide)."""
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=16, batch_first=True)
            self.batchnorm, self.fc1, self.fc2 = nn.BatchNorm1d(16), nn.Linear(16, 8), nn.Linear(8, 10)

        def forward(self, x):
            output, _ = self.rnn(x.reshape(-1, 28, 28))
            output = F.relu(self.fc1(self.batchnorm(output[:, -1, :])))
            return F.log_softmax(self.fc2(output), dim=1)

    torch.manual_seed(0)
    net = Net()
    net.rnn.bias_hh_l0.requires_grad_(False)
    model = gn.Sequential([gn.Input((1, 28, 28)), L.Reshape((28, 28)), L.LSTM(16),
                           L.BatchNormalization(momentum=0.9, epsilon=1e-5), L.Dropout(0.0),
                           L.Dense(8, activation="relu"), L.Dropout(0.0),
                           L.Dense(10), L.Activation("log_softmax")], dtype="float64")

    def ported():
        rnn = net.rnn
        return [t(rnn.weight_ih_l0).T, t(rnn.weight_hh_l0).T, t(rnn.bias_ih_l0) + t(rnn.bias_hh_l0),
                *map(t, (net.batchnorm.weight, net.batchnorm.bias, net.batchnorm.running_mean)),
                t(net.batchnorm.running_var), t(net.fc1.weight).T, t(net.fc1.bias), t(net.fc2.weight).T, t(net.fc2.bias)]

    model.set_weights(ported())
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=gn.optimizers.Adadelta(0.1), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 1, 28, 28)), rng.integers(0, 10, 16)
    opt = torch.optim.Adadelta([p for p in net.parameters() if p.requires_grad], lr=0.1)
    expected = torch_steps(torch, net, opt, F.nll_loss, x, y, 8, 2, torch.optim.lr_scheduler.StepLR(opt, 1, 0.7))
    step_lr = gn.callbacks.LearningRateScheduler(lambda epoch: 0.1 * 0.7 ** epoch)
    np.testing.assert_allclose(batch_losses(model, x, y, 8, 2, [step_lr]), expected, rtol=1e-12)
    for k, (mine, theirs) in enumerate(zip(model.get_weights(), ported())):
        if k != 6:          # the running variance: the batch's biased one here (the guide's table)
            np.testing.assert_allclose(mine, theirs, atol=1e-12)


def test_time_sequence_prediction_trains_as_torch_with_adam(torch):
    """pytorch/examples time_sequence_prediction: LSTMCell(1, 51), LSTMCell(51, 51), Linear(51, 1)
    stepped over the sine waves, then `future` steps fed their own output. glassnet has no LBFGS
    (the example's optimizer): Adam here. The stack of cells is RNN([LSTMCell, LSTMCell]); the
    targets are PyTorch's (n, T)."""
    nn, H = torch.nn, 7

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1, self.lstm2, self.linear = nn.LSTMCell(1, H), nn.LSTMCell(H, H), nn.Linear(H, 1)

        def forward(self, input, future=0):
            outputs, h_t, c_t, h_t2, c_t2 = [], *(torch.zeros(input.size(0), H) for _ in range(4))
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for _ in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return torch.cat(outputs, dim=1)

    rng = np.random.RandomState(2)                  # generate_sine_wave.py, shorter
    T, length, N = 20, 40, 8
    data = np.sin((np.arange(length) + rng.randint(-4 * T, 4 * T, N).reshape(N, 1)) / 1.0 / T)
    x, y, test_x = data[3:, :-1], data[3:, 1:], data[:3, :-1]
    torch.manual_seed(0)
    seq = Sequence()
    for cell in (seq.lstm1, seq.lstm2):
        cell.bias_hh.requires_grad_(False)
    cells, linear = L.RNN([L.LSTMCell(H), L.LSTMCell(H)], return_sequences=True, return_state=True), L.Dense(1)
    inp = gn.Input((None, 1))
    out, *states = cells(inp)
    model = gn.Model(inp, linear(out), dtype="float64")

    def ported():
        cell = lambda c: [t(c.weight_ih).T, t(c.weight_hh).T, t(c.bias_ih) + t(c.bias_hh)]
        return cell(seq.lstm1) + cell(seq.lstm2) + [t(seq.linear.weight).T, t(seq.linear.bias)]

    model.set_weights(ported())
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01, epsilon=1e-8))
    opt = torch.optim.Adam([p for p in seq.parameters() if p.requires_grad], lr=0.01)
    expected = torch_steps(torch, seq, opt, nn.MSELoss(), x, y, len(x), 4)
    history = model.fit(x[..., None], y, batch_size=None, epochs=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
    # the future: the same layers, one step at a time from the states the input ended in
    steps, step_in, state_in = 5, gn.Input((1, 1)), [gn.Input((H,)) for _ in range(4)]
    step_out, *step_states = cells(step_in, initial_state=state_in)
    step_model = gn.Model([step_in, *state_in], [linear(step_out), *step_states], dtype="float64")
    outputs, *carried = gn.Model(inp, [linear(out), *states], dtype="float64").predict(test_x[..., None])
    output, future = outputs[:, -1:], []
    for _ in range(steps):
        output, *carried = step_model.predict([output, *carried])
        future.append(output[:, 0, 0])
    with torch.no_grad():
        np.testing.assert_allclose(np.concatenate([outputs[..., 0], np.stack(future, 1)], 1),
                                   t(seq(torch.from_numpy(test_x), future=steps)), atol=1e-12)


def test_sequence_targets_without_the_last_axis_train_as_keras(keras):
    """Targets (n, T) for outputs (n, T, 1): Keras 3 adds the targets' last axis (its losses'
    squeeze_or_expand_to_same_rank), as glassnet adds x's for an Input ending in 1; they were
    refused ("expected targets of shape (n_samples, 9, 1)")."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 9, 1)), rng.standard_normal((6, 9))
    weights = rng.random(6)
    for loss, targets, metric in (("mse", y, "mae"), ("binary_crossentropy", (y > 0) * 1.0, "binary_accuracy")):
        model = gn.Sequential([gn.Input((None, 1)), L.SimpleRNN(3, return_sequences=True),
                               L.Dense(1, activation="sigmoid")], dtype="float64", seed=0)
        theirs = keras.Sequential([keras.Input((None, 1)), keras.layers.SimpleRNN(3, return_sequences=True),
                                   keras.layers.Dense(1, activation="sigmoid")])
        theirs.set_weights(model.get_weights())
        model.compile(loss=loss, optimizer=gn.optimizers.SGD(0.1), metrics=[metric])
        theirs.compile(loss=loss, optimizer=keras.optimizers.SGD(0.1), metrics=[metric])
        np.testing.assert_allclose(model.evaluate(x, targets), theirs.evaluate(x, targets, verbose=0), rtol=1e-6)
        np.testing.assert_allclose(model.evaluate(x, targets, sample_weight=weights),
                                   theirs.evaluate(x, targets, sample_weight=weights, verbose=0), rtol=1e-6)
        history = model.fit(x, targets, batch_size=3, epochs=2, shuffle=False, verbose=0)
        expected = theirs.fit(x, targets, batch_size=3, epochs=2, shuffle=False, verbose=0)
        for key, values in expected.history.items():
            np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)
        for mine, theirs_w in zip(model.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(mine, theirs_w, atol=1e-5)


def test_learning_pytorch_with_examples_polynomial_fits(torch):
    """"Learning PyTorch with Examples": sin(x) fit by nn.Linear(3, 1) on (x, x^2, x^3) with
    MSELoss(reduction="sum"), by hand (p -= lr * p.grad) and with optim.RMSprop; and by
    a + b P3(c + d x), LegendrePolynomial3 a custom autograd Function: a Layer of your own."""
    x = torch.linspace(-math.pi, math.pi, 200)
    y = torch.sin(x)
    xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    for name in ("by hand", "RMSprop"):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
        model = gn.Sequential([gn.Input((3,)), L.Dense(1)], dtype="float64")
        model.set_weights([t(net[0].weight).T, t(net[0].bias)])
        opt = torch.optim.SGD(net.parameters(), lr=1e-5) if name == "by hand" else \
            torch.optim.RMSprop(net.parameters(), lr=1e-3)
        expected = torch_steps(torch, net, opt, loss_fn, t(xx), t(y), len(xx), 10)
        model.compile(loss=gn.losses.MeanSquaredError(reduction="sum"),
                      optimizer=gn.optimizers.SGD(1e-5) if name == "by hand" else
                      gn.optimizers.RMSprop(1e-3, rho=0.99, epsilon=1e-8))
        history = model.fit(t(xx), t(y), batch_size=None, epochs=10, shuffle=False, verbose=0)
        np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(model.get_weights()[0][:, 0], t(net[0].weight)[0], atol=1e-12)

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class Legendre3(L.Layer):
        """a + b P3(c + d x) on x (batch, 1), P3(z) = (5 z^3 - 3 z) / 2: the Function's forward
        and backward, and the four weights' gradients, which autograd adds there."""
        def build(self, input_shape):
            for name, value in (("a", 0.0), ("b", -1.0), ("c", 0.0), ("d", 0.3)):
                self.add_weight(name=name, shape=(), initializer=gn.initializers.Constant(value))

        def forward(self, x, training=False):
            p = self.params
            self.x, self.z = x, p["c"] + p["d"] * x
            self.p3 = 0.5 * (5 * self.z ** 3 - 3 * self.z)
            return p["a"] + p["b"] * self.p3

        def backward(self, grad_output):
            p, g = self.params, grad_output
            dz = g * p["b"] * 1.5 * (5 * self.z ** 2 - 1)
            for name, value in (("a", g), ("b", g * self.p3), ("c", dz), ("d", dz * self.x)):
                self.grads[name][...] = value.sum()
            return dz * p["d"]

    a, b, c, d = (torch.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
    expected = []
    for _ in range(20):
        loss = (a + b * LegendrePolynomial3.apply(c + d * x) - y).pow(2).sum()
        expected.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 5e-5 * p.grad
                p.grad = None
    model = gn.Sequential([gn.Input((1,)), Legendre3()], dtype="float64")
    model.compile(loss=gn.losses.MeanSquaredError(reduction="sum"), optimizer=gn.optimizers.SGD(5e-5))
    history = model.fit(t(x)[:, None], t(y)[:, None], batch_size=None, epochs=20, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-12)
    np.testing.assert_allclose([float(w) for w in model.get_weights()], [p.item() for p in (a, b, c, d)],
                               atol=1e-12)


def test_fashion_mnist_quickstart_trains_as_torch(torch):
    """PyTorch's quickstart: Flatten, Linear(784, 512), ReLU, Linear(512, 512), ReLU, Linear(512, 10),
    CrossEntropyLoss, SGD(lr=1e-3), its DataLoader's (N, 1, 28, 28) batches (the guide claims it)."""
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                        nn.Linear(512, 10))
    model = gn.Sequential([gn.Input((1, 28, 28)), L.Flatten(), L.Dense(512, activation="relu"),
                           L.Dense(512, activation="relu"), L.Dense(10)], dtype="float64")
    ported = lambda: [w for k in (1, 3, 5) for w in (t(net[k].weight).T, t(net[k].bias))]
    model.set_weights(ported())
    model.compile(loss=gn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=gn.optimizers.SGD(1e-3), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 1, 28, 28)), rng.integers(0, 10, 16)
    expected = torch_steps(torch, net, torch.optim.SGD(net.parameters(), lr=1e-3), nn.CrossEntropyLoss(), x, y, 8, 2)
    np.testing.assert_allclose(batch_losses(model, x, y, 8, 2), expected, rtol=1e-12)
    for mine, theirs in zip(model.get_weights(), ported()):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)
