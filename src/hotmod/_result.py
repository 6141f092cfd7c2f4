"""The outcome of one reload, as a frozen value with a readable ``str``."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hotmod._system_paths import HOTMOD_DIR, system_dirs

__all__ = ["ReloadResult", "user_traceback"]


@dataclass(frozen=True)
class ReloadResult:
    """What one reload did.

    Attributes:
        changed: the source files whose change caused the reload.
        evicted: the modules removed from the module dict, each before every module it imports
            (dependents first).
        reloaded: the modules re-executed, each after every module it imports (dependencies
            first); empty for a lazy (``eager=False``) reload or a rolled-back one.
        error: the exception that stopped the reload, or None.
        rolled_back: True when the reload failed and every module was put back as it was: the
            process keeps running its previous code.
        duration: wall time of the reload, in seconds.
        patched: the qualified names (``module.qualname``) of the old functions and classes
            upgraded in place: references to them held anywhere run the new code.

    Example:
        >>> print(ReloadResult(changed=(Path("app/a.py"),), evicted=("app.b", "app.a"),
        ...                    reloaded=("app.a", "app.b"), duration=0.0021))
        reloaded app.a, app.b in 2.1 ms (changed: app/a.py)
    """

    changed: tuple[Path, ...] = ()
    evicted: tuple[str, ...] = ()
    reloaded: tuple[str, ...] = ()
    error: BaseException | None = None
    rolled_back: bool = False
    duration: float = 0.0
    patched: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the reload raised nothing."""
        return self.error is None

    def __str__(self) -> str:
        changed = ", ".join(str(p) for p in self.changed) or "nothing"
        took = f"{self.duration * 1000:.1f} ms"
        if self.error is not None:
            return (
                f"reload failed after {took} (changed: {changed}): {_describe(self.error)}; "
                + ("rolled back, the previous code is still running" if self.rolled_back else "")
            ).rstrip("; ")
        if self.reloaded:
            patched = f"; patched {len(self.patched)} in place" if self.patched else ""
            return f"reloaded {', '.join(self.reloaded)} in {took} (changed: {changed}){patched}"
        if self.evicted:
            return (
                f"evicted {', '.join(self.evicted)} in {took} (changed: {changed}); "
                "they re-execute on next import"
            )
        return f"nothing to reload (changed: {changed})"


def _describe(error: BaseException) -> str:
    """``Type: message (file, line N)``, the line being where the user's code failed."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{type(error).__name__}: {error.msg} ({error.filename}, line {error.lineno})"
    return f"{type(error).__name__}: {error}{_location(error)}"


def _location(error: BaseException) -> str:
    """The deepest frame in the user's code (not the stdlib, site-packages, hotmod, or code
    compiled from a string: ``<frozen ...>``, ``<string>``, a library's generated wrapper),
    else the deepest frame."""
    skip = (*system_dirs(), HOTMOD_DIR, "<")
    tb = error.__traceback__
    last = user = None
    while tb is not None:
        last = tb
        if not tb.tb_frame.f_code.co_filename.startswith(skip):
            user = tb
        tb = tb.tb_next
    found = user or last
    if found is None:
        return ""
    return f" ({found.tb_frame.f_code.co_filename}, line {found.tb_lineno})"


# importlib's own frames, which every import goes through (CPython hides them from the
# traceback of an ``import`` statement, not from one of ``importlib.import_module``).
_IMPORT_MACHINERY = ("<frozen importlib.", importlib.__file__ or "<no importlib file>")


def user_traceback(error: BaseException) -> TracebackType | None:
    """The traceback of ``error`` without hotmod's frames and the import machinery's.

    What is logged for a failed reload starts at the user's code, the way pytest hides its
    own frames. A new chain is built: ``error.__traceback__`` is left as it is. When every
    frame is hotmod's (an error of hotmod itself), the whole traceback is returned.
    """
    kept: list[TracebackType] = []
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith((HOTMOD_DIR, *_IMPORT_MACHINERY)):
            kept.append(tb)
        tb = tb.tb_next
    if not kept:
        return error.__traceback__
    chain: TracebackType | None = None
    for frame_tb in reversed(kept):
        chain = TracebackType(chain, frame_tb.tb_frame, frame_tb.tb_lasti, frame_tb.tb_lineno)
    return chain
