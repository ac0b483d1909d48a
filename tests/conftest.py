"""Shared fixtures: a seeded generator, float64 by default for checks, and the optional torch oracle."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    """PyTorch as a test oracle only: tests that use it are skipped (with the reason) when absent."""
    torch = pytest.importorskip("torch", reason="PyTorch oracle not installed: pip install torch==2.13.0")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)      # oracle comparisons run in float64
    yield torch
    torch.set_default_dtype(previous)           # later tests (examples, benchmarks) expect float32
