"""docs/layers.md, the layer reference, names every built-in layer and every other name for one."""
import re
from pathlib import Path

import pytest

from glassnet import layers

DOC = Path(__file__).resolve().parents[1] / "docs" / "layers.md"


def test_every_built_in_layer_and_alias_is_in_the_reference():
    if not DOC.exists():
        pytest.skip("docs/layers.md is not next to the tests")
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Z][A-Za-z0-9]*)[(`]", text))
    built_in = {name for name, cls in layers.LAYERS.items() if cls.__module__.startswith("glassnet.layers.")}
    aliases = {name for name in layers.__all__ if name[0].isupper() and name not in built_in
               and isinstance(getattr(layers, name), type) and name not in ("Layer", "LAYERS", "InputLayer")}
    assert built_in - named == set(), "add these layers to docs/layers.md"
    assert aliases - named == set(), "add these names to docs/layers.md"
