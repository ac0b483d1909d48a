"""Dense: a fully connected layer, ``a = activation(x @ kernel + bias)``."""
import numpy as np

from .. import _numpy_c, activations, backend, constraints, initializers, regularizers
from .._validation import check_flag
from .base import Layer, shape_fits
from .lora import LoraTarget

# from this many kernel entries on, a one-sample kernel gradient (an outer product) goes through
# np.einsum rather than a broadcast multiply (measured: the multiply wins at 500 entries,
# einsum from 5,000 on)
_EINSUM_OUTER_MIN_SIZE = 4096


# A layer's three products (forward, kernel gradient, input gradient) each make batch x kernel size
# multiply-adds. Below this many they go through np.dot, from it on through matmul. Why two routes:
# for 2-D operands both call the same BLAS routine and give the same bits, but dot skips matmul's
# generalised-ufunc set-up, ~0.3 us a call -- a sixth of a (32, 50) @ (50, 50) product, and a
# small network makes four products per layer and step. On big products with a transposed operand
# dot is slower instead (measured on two threads: (784, 128) @ (128, 512) 345 us with matmul, 432 us
# with dot; (128, 10) @ (10, 512) 24 against 42 us).
_DOT_MAX_MACS = 2 ** 17


class Dense(LoraTarget, Layer):
    """Fully connected layer with an optional activation.

    Parameters
    ----------
    units : int
        Number of output features.
    activation : str or Activation, optional
        Applied to ``z = x @ kernel + bias``; ``None`` means linear.
    kernel_initializer, bias_initializer : str, Initializer or callable
        Names from ``glassnet.initializers`` (``"glorot_uniform"``, ``"he"``, ``"plain"``, ...), one
        of its classes with settings (``RandomNormal(stddev=0.01)``, ``Orthogonal()``) or a function
        ``f(shape, rng, dtype)`` of your own.
    use_bias : bool
        False: no bias, ``z = x @ kernel`` (Keras' ``use_bias``; e.g. before BatchNormalization,
        whose beta plays its part).
    kernel_regularizer, bias_regularizer : Regularizer or str, optional
        A penalty on the weight added to the training loss (``glassnet.regularizers``: ``L2(1e-4)``,
        ``"l2"``, ...), as in Keras.
    kernel_constraint, bias_constraint : Constraint or str, optional
        A projection of the weight after every update (``glassnet.constraints``: ``MaxNorm(3)``,
        ``"non_neg"``, ...), as in Keras; norms over axis 0 are per unit.
    lora_rank, lora_alpha : optional
        Keras' LoRA: build with ``enable_lora(lora_rank, lora_alpha)`` (glassnet.layers.lora).

    Shapes: ``x`` (batch, in) -> output (batch, units); ``kernel`` (in, units), ``bias`` (units,).
    On input with more axes, (batch, ..., in), it acts on the last axis, as Keras' and PyTorch's do:
    output (batch, ..., units), the same kernel applied at every position.

    Example
    -------
    >>> layer = Dense(3, activation="relu", seed=0)
    >>> layer(np.ones((2, 4))).shape
    (2, 3)
    """

    supports_masking = True      # each step on its own: a mask passes on (layers/masking.py)

    # on the class too: a Dense pickled before these arguments existed lacks them
    use_bias, kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint = True, None, None, None, None

    activation = activations.LayerSetting()     # set as Keras code sets it: layer.activation = None

    def __init__(self, units, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, use_bias=True,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        super().__init__(**kwargs)
        if quantization_config is not None:      # Keras': kept, quantizes nothing (layers/quantized.py)
            from .quantized import given_config
            given_config(self, quantization_config)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.use_bias = check_flag(use_bias, "Dense: use_bias")
        self.activation = activations.get_for(activation, type(self).__name__)
        self.kernel_initializer = initializers.get(kernel_initializer, "Dense: kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "Dense: bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "Dense: kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "Dense: bias_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, "Dense: kernel_constraint")
        self.bias_constraint = constraints.get(bias_constraint, "Dense: bias_constraint")
        self._ones = None        # a cached vector of ones for the bias gradient
        self._lora_settings(lora_rank, lora_alpha)

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"{self.describe()}: expected input samples of shape (features,) or "
                             f"(..., features), got {tuple(input_shape)}")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        self.kernel_regularizer, self.kernel_constraint)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)
        super().build(input_shape)
        self._build_lora()

    def output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def check_input_shape(self, sample_shape):
        # the kernel fixes the features alone: built for sequences of 4 steps, a Dense takes 1 step
        # (a seq2seq decoder's inference model, drawn from the trained layers), as Keras' does
        built = self.input_shape
        if built is not None and (len(sample_shape) != len(built) or not shape_fits(sample_shape[-1:], built[-1:])):
            raise ValueError(f"{self.describe()}: expected input samples of shape {built}, got "
                             f"{tuple(sample_shape)}" + ("; the axes before the features may take any sizes"
                                                         if len(built) > 1 else ""))

    def forward(self, x, training=False):
        # x, z and a are kept for backward (and for model.trace)
        self.x = x
        kernel = self.params["kernel"]
        if x.ndim != 2:      # (batch, ..., in): every position is a row of one matrix product
            z = x.reshape(-1, x.shape[-1]) @ kernel
            if self.use_bias:
                z += self.params["bias"]
            self.z = z = z.reshape(*x.shape[:-1], self.units)
            self.a = self.activation.forward(z)
            return self.a
        # np.dot for small products, matmul for big ones (see _DOT_MAX_MACS); for NumPy
        # arrays, np.dot's C function without its Python wrapper (see glassnet._numpy_c)
        if x.shape[0] * kernel.size < _DOT_MAX_MACS:
            self.z = z = (_numpy_c.dot if type(kernel) is np.ndarray else np.dot)(x, kernel)
        else:
            self.z = z = x @ kernel
        if self.use_bias:
            z += self.params["bias"]
        self.a = self.activation.forward(z)
        return self.a

    def backward(self, grad_output):
        return self.backward_from_logits(
            self.activation.backward(grad_output, self.z, self.a))

    def backward_from_logits(self, grad_z):
        """Backward pass given dL/dz directly (the fused softmax/sigmoid + cross-entropy path)."""
        self.grad_z = grad_z
        if grad_z.ndim != 2:         # (batch, ..., units): as rows, like forward
            return self._backward_rows(grad_z)
        n, kernel = grad_z.shape[0], self.params["kernel"]
        small = n * kernel.size < _DOT_MAX_MACS        # np.dot's route (see _DOT_MAX_MACS)
        dot = _numpy_c.dot if type(kernel) is np.ndarray else np.dot
        if n == 1:
            # one sample (per-sample SGD): x.T @ grad_z is an outer product, which BLAS runs as a
            # matrix product with an inner size of 1 -- several times slower than a broadcast
            # multiply. einsum's product loop is faster still on big ones (784 x 100: 20 against
            # 34 us; it costs ~1 us more to set up, so small ones keep the multiply). Same numbers:
            # a sum over one product is that product.
            kernel_grad = self.grads["kernel"]
            if kernel_grad.size >= _EINSUM_OUTER_MIN_SIZE and isinstance(grad_z, np.ndarray):
                _numpy_c.einsum("ki,kj->ij", self.x, grad_z, out=kernel_grad)
            else:
                np.multiply(self.x.T, grad_z, out=kernel_grad)
            if self.use_bias:
                self.grads["bias"][...] = grad_z[0]
        else:
            # the bias gradient, the column sums, as ones @ grad_z: a BLAS call, several times faster
            # than grad_z.sum(axis=0) on a tall, narrow array
            # (kept at the largest batch seen; a shorter last batch takes a prefix, not a new array)
            ones = self._ones
            if ones is None or ones.shape[0] < n or ones.dtype != grad_z.dtype:
                ones = self._ones = backend.get_array_module(grad_z).ones(n, dtype=grad_z.dtype)
            if ones.shape[0] != n:
                ones = ones[:n]
            grads, done = self.grads, False
            if small:
                try:
                    dot(self.x.T, grad_z, out=grads["kernel"])
                    if self.use_bias:
                        dot(ones, grad_z, out=grads["bias"])
                    done = True
                except ValueError:      # np.dot writes only into an out of the result's exact dtype
                    pass                # (a float64 gradient reaching a float32 layer): matmul casts
            if not done:
                np.matmul(self.x.T, grad_z, out=grads["kernel"])
                if self.use_bias:
                    np.matmul(ones, grad_z, out=grads["bias"])
        if not self.needs_input_gradient:
            return None
        return dot(grad_z, kernel.T) if small else grad_z @ kernel.T

    def _backward_rows(self, grad_z):
        """``backward_from_logits`` for input of more than two axes: every position is a row."""
        x = self.x.reshape(-1, self.x.shape[-1])
        g = grad_z.reshape(-1, self.units)
        np.matmul(x.T, g, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(g, axis=0, out=self.grads["bias"])
        if not self.needs_input_gradient:
            return None
        return (g @ self.params["kernel"].T).reshape(self.x.shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer),
                **regularizers.config_entries(self), **constraints.config_entries(self),
                # only when off: a file of a network with biases still loads in a glassnet before it
                **({} if self.use_bias else {"use_bias": False}), **self._lora_config()}
