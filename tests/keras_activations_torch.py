"""Keras 3's further activations in PyTorch: the oracle of their values and autograd gradients.
torch.nn.functional's own where it has one, else the formula in torch ops (written from the papers
and Keras' docs, not from glassnet's code)."""


def sparsemax_in_torch(torch, t, dim=-1):
    """Martins and Astudillo 2016, Algorithm 1: the support size k is a constant to autograd, so
    the gradient flows through tau = (sum of the k largest - 1) / k and the relu."""
    t = t.movedim(dim, -1)
    ranked = torch.sort(t, dim=-1, descending=True).values
    sums = torch.cumsum(ranked, dim=-1)
    ranks = torch.arange(1, t.shape[-1] + 1, dtype=t.dtype)
    k = (1 + ranks * ranked > sums).sum(dim=-1, keepdim=True)
    tau = (torch.gather(sums, -1, k - 1) - 1) / k.to(t.dtype)
    return torch.relu(t - tau).movedim(-1, dim)


def keras_activations_in_torch(torch, alpha=1.0, threshold=0.5, b=4.0, axis=-1, approximate="none"):
    """name -> torch function, with the given settings (Keras' defaults by default)."""
    F = torch.nn.functional
    return {
        "celu": lambda t: F.celu(t, alpha=alpha),
        "exponential": torch.exp,
        "gelu": lambda t: F.gelu(t, approximate=approximate),
        "glu": lambda t: F.glu(t, dim=axis),
        "hard_shrink": lambda t: F.hardshrink(t, threshold),
        "hard_tanh": F.hardtanh,
        "log_sigmoid": F.logsigmoid,
        "soft_shrink": lambda t: F.softshrink(t, threshold),
        "sparse_plus": lambda t: torch.where(t <= -1, torch.zeros_like(t),
                                             torch.where(t < 1, 0.25 * (t + 1) ** 2, t)),
        "sparse_sigmoid": lambda t: torch.where(t <= -1, torch.zeros_like(t),
                                                torch.where(t >= 1, torch.ones_like(t), 0.5 * (t + 1))),
        "sparsemax": lambda t: sparsemax_in_torch(torch, t, axis),
        "squareplus": lambda t: (t + torch.sqrt(t * t + b)) / 2,
        "tanh_shrink": F.tanhshrink,
    }
