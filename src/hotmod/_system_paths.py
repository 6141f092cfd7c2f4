"""Where code hotmod never reloads lives: the standard library, site-packages, hotmod itself."""

from __future__ import annotations

import contextlib
import functools
import os
import site
import sys
import sysconfig

__all__ = ["HOTMOD_DIR", "system_dirs"]

HOTMOD_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "")


@functools.cache
def system_dirs() -> tuple[str, ...]:
    """Real paths of the standard library and site-packages folders, each ending in a separator."""
    found: set[str] = set()
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars)
        found.update(paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    found.add(os.path.dirname(os.__file__))
    with contextlib.suppress(AttributeError):  # an old virtualenv's site module lacks it
        found.update(site.getsitepackages())
    found.add(site.getusersitepackages())
    found.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return tuple(sorted({os.path.join(os.path.realpath(p), "") for p in found if p}))
