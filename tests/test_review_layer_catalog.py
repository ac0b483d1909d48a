"""Review of the lazy layer imports (layers/__init__.py __getattr__, catalog.py, base.lookup)."""
import subprocess
import sys

import glassnet


def _fresh(code):
    """stdout lines of ``code`` run in a new interpreter (nothing imported before it)."""
    src = str(glassnet.__file__).rsplit("/glassnet/", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
    return out.stdout.split("\n")[:-1]


def test_an_unknown_class_in_a_model_file_lists_every_built_in_layer():
    """io._build's error says "known: [...]": in a fresh program that list was only the layer
    modules imported yet (['Dense', 'Masking']), as though Conv2D did not exist."""
    code = ("import glassnet as gn\n"
            "try:\n"
            "    gn.model_from_json('{\"class_name\": \"Sequential\", \"config\": {\"layers\": "
            "[{\"class_name\": \"MyLayer\", \"config\": {}}]}}')\n"
            "except Exception as exc:\n"
            "    print('Conv2D' in str(exc), 'StringLookup' in str(exc))\n")
    assert _fresh(code) == ["True True"]


def test_a_layer_module_is_still_an_attribute_of_glassnet_layers():
    """Before the lazy imports, ``import glassnet`` imported every layer module, so
    ``glassnet.layers.conv`` (or ``gn.layers.text.vocabulary_lines``) worked as an attribute; now it
    is an AttributeError until something imports the module."""
    code = ("import glassnet as gn\n"
            "print(gn.layers.conv.Conv2D is gn.layers.Conv2D, callable(gn.layers.text.vocabulary_lines))\n")
    assert _fresh(code) == ["True True"]
