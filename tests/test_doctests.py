"""The examples in the docstrings are tests too: every module's doctests run and must pass.

A docstring example that no longer runs is worse than none (a learner copies it first), so each
module of the package is one test here. Examples that need a GPU, a cluster or data the reader
supplies are marked ``# doctest: +SKIP`` where they stand.
"""
import doctest
import importlib
import pkgutil

import pytest

import glassnet

MODULES = sorted(info.name for info in pkgutil.walk_packages(glassnet.__path__, prefix="glassnet.")
                 if not info.name.endswith("__main__"))


def test_the_package_has_doctests_to_run():
    # a broken walk (wrong path, renamed package) would otherwise leave nothing to check
    assert "glassnet.model" in MODULES and "glassnet.layers.dense" in MODULES


@pytest.mark.parametrize("name", ["glassnet"] + MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # an example that writes a file writes it here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed (see the output above)"
