"""Warnings that name the user's line.

``warnings.warn(..., stacklevel=n)`` points n frames up, and glassnet's warnings are given at
different depths below the user's call (``fit`` -> the model's lock -> a feed -> its check), so a
fixed ``n`` pointed into glassnet's own files whenever a layer of calls was added or removed.
``warn`` walks up to the first frame outside the package instead: the user's ``fit(...)``,
``Sequential([...])``, ``class MyLayer(Layer)`` line, however deep the warning was given.
"""
import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def outside_glassnet():
    """The ``stacklevel`` of the first caller outside the glassnet package, for ``warnings.warn``
    called by the function that calls this one."""
    frame, level = sys._getframe(2), 2          # level 1 is the caller, which calls warnings.warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def warn(message, category=UserWarning):
    """``warnings.warn(message, category)`` attributed to the user's line (see the module's docstring)."""
    warnings.warn(message, category, stacklevel=outside_glassnet())
