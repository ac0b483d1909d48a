"""Review "readme34": the README's snippets and docs/scaling.md read as a new user reads them.

The multi-output and subclass snippets read ``x``, ``labels`` and ``w`` that the README never made
(tests/test_readme.py runs the short example alone, so nothing ran them); scaling.md's table of the
estimators' parameters left out ``alpha``.
"""
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

ROOT = Path(__file__).resolve().parents[1]


def _block_after(name, marker):
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not next to the tests")
    text = path.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text[text.index(marker):], re.S).group(1)
    return compile(code, f"{path} (after {marker!r})", "exec")


def test_the_readme_multi_output_and_subclass_snippets_run_as_written(capsys):
    # only what the README's earlier snippets import: every other name is the snippets' own
    namespace = {"gn": gn, "np": np}
    # (the snippets moved from the README to docs/guide/: the same order, read from their pages)
    for page, marker in (("docs/guide/functional.md", "compile` takes one loss for every output"),   # two outputs, a list
                         ("docs/guide/functional.md", "The outputs may also be given as a dict"),     # two outputs, a dict
                         ("docs/guide/subclassing.md", "Keras' model subclassing works too")):        # the Residual subclass
        exec(_block_after(page, marker), namespace)
    x, labels = namespace["x"], namespace["labels"]
    assert x.shape[1:] == (64,) and set(np.unique(labels)) == set(range(10))
    assert namespace["p_digit"].shape == (len(x), 10) and namespace["p_big"].shape == (len(x), 1)
    assert {"digit_loss", "val_big_accuracy"} <= set(namespace["history"].history)
    assert namespace["model"].name == "residual"
    assert "Epoch 5/5" in capsys.readouterr().out


def test_scaling_md_lists_every_parameter_of_the_scikit_learn_estimators():
    pytest.importorskip("sklearn")
    from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    table = text[text.index("| parameter | default | meaning |"):]
    table = table[:table.index("\n\n")]
    listed = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", table, re.M))
    listed = {name for row in listed for name in row if name}
    for cls in (GlassnetClassifier, GlassnetRegressor):
        params = inspect.signature(cls).parameters
        assert set(params) == listed, f"{cls.__name__}: the table misses {set(params) - listed}"
        for row in re.findall(r"^\| `(\w+)`[^|]*\| `([^`]+)`", table, re.M):
            name, default = row
            assert repr(params[name].default).replace("'", '"') == default, name
