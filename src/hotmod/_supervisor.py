"""``hotmod run`` restarts its target when a change cannot be applied in process.

Two processes take part. The supervisor (the ``hotmod run`` the user started) launches the same
command again as its child, with ``--no-restart`` semantics and a pipe back to it; the child runs
the target with the in-process reloader, exactly as ``hotmod run --no-restart`` does. A reporter
thread in the child looks at the loaded modules a few times a second and sends the supervisor
each file whose change the reloader cannot apply, with the reason: a module outside the watched
packages (the project's own files, the target script's ``__main__``, files matching
``--restart-on`` globs), a C extension, a ``.pth`` file, a module that declares
``__hotmod_restart__ = True``. It also sends the watched modules' files, which the supervisor
only looks at while the target is down (after a crash, a fix of any of them starts it again).

The supervisor polls those files' ``stat`` (a few hundred files at most by default): a changed
one restarts the child (SIGTERM, then SIGKILL after a grace period) with the same command line,
environment and working directory, after one line saying why. A ``.py`` file that does not
compile is not a reason to restart: the running child keeps its code until the fix. A child
that exits with an error after a restart is not started again until the next change. SIGINT and
SIGTERM sent to the supervisor are forwarded to the child; the supervisor exits with the child's
exit code.

Wire format (child to supervisor): one JSON object per line, ``{"path": ..., "reason": ...,
"key": ...}``, ``reason`` None for a watched module's file, ``key`` the file's stat signature
when the child looked (null for a missing file).
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.machinery
import importlib.util
import json
import logging
import os
import select
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

from hotmod._code_cache import discard_bytecode
from hotmod._reloader import is_restarted_by_supervisor, restarted_by_supervisor
from hotmod._system_paths import HOTMOD_DIR, system_dirs

__all__ = [
    "ENV_FD",
    "Reporter",
    "declare_restart",
    "restart_reasons",
    "supervise",
    "supervise_command",
    "supervised",
]

logger = logging.getLogger(__name__)

ENV_FD = "HOTMOD_SUPERVISOR_FD"  # set in the child: the write end of the pipe to the supervisor

_POLL = 0.1  # seconds between two looks at the pipe, the signals and the child
_STAT_EVERY = 0.25  # seconds between two stat sweeps of the files that restart
_GRACE = 5.0  # seconds a child has to exit after SIGTERM before it is killed
_CRASH_WINDOW = 5.0  # an error exit this soon after a restart waits for the next change
_FORWARDED = (signal.SIGINT, signal.SIGTERM)
_SI_KERNEL = 0x80  # si_code of a signal the kernel sent (Ctrl-C at a terminal), Linux

MAIN_REASON = "the program's __main__ module, which cannot be re-executed in place"
OUTSIDE_REASON = "a loaded module outside the watched packages"
EXTENSION_REASON = "a C extension"
PTH_REASON = "a .pth file, read at start-up"
DECLARED_REASON = "its module declares __hotmod_restart__ = True"

# module name -> why a change of it restarts, for modules an adapter marked (Django's settings)
_declared: dict[str, str] = {}


def declare_restart(module: ModuleType, reason: str) -> None:
    """Mark ``module`` as changed only by a restart (``__hotmod_restart__ = True``: the
    reloader leaves it alone), ``reason`` saying why in the supervisor's message."""
    module.__dict__["__hotmod_restart__"] = True
    _declared[module.__name__] = reason


def supervised() -> bool:
    """Whether this process is a supervised child (or will make its Reporter: the variable
    is still set), so that a restart is a supervisor's job already."""
    return is_restarted_by_supervisor() or ENV_FD in os.environ


# -- the child: which loaded files restart ------------------------------------------------------


def _stdlib_dirs() -> tuple[str, ...]:
    found: set[str] = {os.path.dirname(os.__file__)}
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars)
        found.update(paths[key] for key in ("stdlib", "platstdlib"))
    return tuple(sorted({os.path.join(os.path.realpath(p), "") for p in found if p}))


def _matches(path: str, root: str, globs: Sequence[str]) -> str | None:
    """The first ``--restart-on`` glob ``path`` matches, as an absolute path or relative to
    ``root``."""
    relative = os.path.relpath(path, root) if path.startswith(os.path.join(root, "")) else None
    for glob in globs:
        if fnmatch.fnmatchcase(path, glob) or (
            relative is not None and fnmatch.fnmatchcase(relative, glob)
        ):
            return glob
    return None


def restart_reasons(
    modules: Mapping[str, object],
    is_watched: Callable[[str, ModuleType], bool],
    *,
    root: str,
    restart_on: Sequence[str] = (),
    path_entries: Iterable[str] = (),
) -> dict[str, str | None]:
    """The loaded files whose change needs a restart, each with the reason, and the watched
    modules' files (reason None).

    Args:
        modules: ``sys.modules``.
        is_watched: whether the reloader re-executes a module in place.
        root: the project's folder (real path): its non-watched ``.py`` files restart.
        restart_on: globs of further files (site-packages, another project) that restart.
        path_entries: ``sys.path``: the ``.pth`` files in its folders restart.
    """
    stdlib = _stdlib_dirs()
    system = (*system_dirs(), HOTMOD_DIR)
    root_prefix = os.path.join(root, "")
    found: dict[str, str | None] = {}
    for name, module in list(modules.items()):
        if not issubclass(type(module), ModuleType):  # type(): never evaluate a lazy object
            continue
        assert isinstance(module, ModuleType)
        namespace = module.__dict__
        file = namespace.get("__file__")
        if not isinstance(file, str) or not os.path.isabs(file):
            continue
        path = os.path.realpath(file)
        if path.endswith((".pyc", ".pyo")):
            with contextlib.suppress(ValueError):
                path = importlib.util.source_from_cache(path)
        reason: str | None
        glob = _matches(path, root, restart_on)
        if namespace.get("__hotmod_restart__") is True:
            reason = _declared.get(name, DECLARED_REASON)
        elif path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            if glob is None and path.startswith(stdlib):
                continue  # the standard library's own do not change under a running program
            reason = EXTENSION_REASON
        elif not path.endswith(".py"):
            continue
        elif name != "__main__" and is_watched(name, module):
            reason = None
        elif glob is not None:
            reason = f"it matches --restart-on {glob}"
        elif not path.startswith(root_prefix) or path.startswith(system):
            continue
        elif any(part.startswith(".") for part in Path(path[len(root_prefix) :]).parts[:-1]):
            continue  # a hidden folder (.venv, .tox) holds no file of the project's own
        else:
            reason = MAIN_REASON if name == "__main__" else OUTSIDE_REASON
        if found.get(path) is None:  # a file both watched and restarting (rare): restarts
            found[path] = reason
    for entry in path_entries:
        folder = entry or os.getcwd()
        with contextlib.suppress(OSError):
            for item in os.scandir(folder):
                if item.name.endswith(".pth") and item.is_file():
                    found.setdefault(os.path.realpath(item.path), PTH_REASON)
    return found


class Reporter(threading.Thread):
    """In the supervised child: sends the supervisor the files whose change restarts, as
    modules are imported (a look every ``interval`` seconds)."""

    def __init__(
        self,
        fd: int,
        is_watched: Callable[[str, ModuleType], bool],
        restart_on: Sequence[str],
        interval: float = 0.2,
    ) -> None:
        super().__init__(name="hotmod-supervised", daemon=True)
        self._fd = fd
        self._is_watched = is_watched
        self._restart_on = tuple(restart_on)
        self._interval = interval
        self._sent: dict[str, str | None] = {}
        self._stop_event = threading.Event()
        self._root = os.path.realpath(os.getcwd())
        self._supervisor = os.getppid()

    @classmethod
    def from_environ(
        cls, is_watched: Callable[[str, ModuleType], bool], restart_on: Sequence[str]
    ) -> Reporter | None:
        """The reporter of a child that a supervisor started, else None. The variable is
        taken out of the environment: the target's own subprocesses are not supervised."""
        value = os.environ.pop(ENV_FD, None)
        if value is None:
            return None
        restarted_by_supervisor()  # (what supervised() tells from now on)
        try:
            fd = int(value)
            os.set_inheritable(fd, False)
        except (ValueError, OSError):
            logger.warning("%s=%r is not an open pipe: restarts are off", ENV_FD, value)
            return None
        return cls(fd, is_watched, restart_on)

    def report(self) -> None:
        """Send what changed since the last report (runs in the thread; tests call it)."""
        found = restart_reasons(
            sys.modules,
            self._is_watched,
            root=self._root,
            restart_on=self._restart_on,
            path_entries=list(sys.path),
        )
        # each file's stat as of now, the supervisor's starting point for it: a change saved
        # before the supervisor read this line (it reads every 0.1 s) is a change all the same
        lines = [
            json.dumps({"path": path, "reason": reason, "key": _stat_key(path)}) + "\n"
            for path, reason in found.items()
            if path not in self._sent or self._sent[path] != reason
        ]
        if not lines:
            return
        data = "".join(lines).encode()
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
        self._sent.update(found)

    def start(self) -> None:
        """Report once in the caller's thread, then from the thread: the files' signatures are
        taken before the program goes on (serves, say), so no change made after that is
        missed."""
        try:
            self.report()
        except Exception:
            logger.exception("hotmod: looking for files that need a restart failed")
        super().start()

    def run(self) -> None:
        while True:
            try:
                if os.getppid() != self._supervisor:
                    raise BrokenPipeError
                self.report()
            except OSError:
                # The supervisor was killed (SIGKILL cannot be forwarded): do not outlive it.
                if not self._stop_event.is_set():
                    logger.warning("hotmod run's supervisor is gone; stopping the program")
                    os.kill(os.getpid(), signal.SIGTERM)
                return
            except Exception:
                logger.exception("hotmod: looking for files that need a restart failed")
            if self._stop_event.wait(self._interval):
                return

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join()
        with contextlib.suppress(OSError):
            os.close(self._fd)


# -- the supervisor ---------------------------------------------------------------------------


def _stat_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _display(path: str, root: str) -> str:
    """``path`` relative to the project's folder when it lies inside it."""
    if path.startswith(os.path.join(root, "")):
        return path[len(root) + 1 :]
    return path


def _syntax_error(path: str) -> str | None:
    """Why a changed ``.py`` file does not compile, or None (it does, or is not ``.py``)."""
    if not path.endswith(".py"):
        return None
    try:
        source = Path(path).read_bytes()
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{type(exc).__name__} at line {exc.lineno}: {exc.msg}"
    except (OSError, ValueError):
        return None
    return None


def interpreter_options() -> list[str]:
    """The options this interpreter was started with that a child must get too."""
    options: list[str] = []
    flags = sys.flags
    for attr, option in (
        ("isolated", "-I"),
        ("ignore_environment", "-E"),
        ("no_user_site", "-s"),
        ("dont_write_bytecode", "-B"),
        ("safe_path", "-P"),
    ):
        if getattr(flags, attr, 0):
            options.append(option)
    options.extend(["-O"] * flags.optimize)
    for warning in sys.warnoptions:
        options.extend(["-W", warning])
    for key, value in sys._xoptions.items():
        options.extend(["-X", key if value is True else f"{key}={value}"])
    return options


class _Supervisor:
    def __init__(self, command: list[str], target: str, *, quiet: bool) -> None:
        self._command = command
        self._target = target
        self._quiet = quiet
        self._restarts: dict[str, str] = {}  # file -> why its change restarts
        self._watched: set[str] = set()  # watched modules' files: looked at while down
        self._keys: dict[str, tuple[int, int, int] | None] = {}
        self._broken: dict[str, tuple[int, int, int] | None] = {}  # reported syntax errors
        self._buffer = b""
        self._child: subprocess.Popen[bytes] | None = None
        self._pipe: int | None = None
        self._restarted_at: float | None = None  # when a restart started the running child
        self._stopping = False  # a signal was forwarded: the child's exit is the answer
        self._pending_signals: list[int] = []
        self._root = os.path.realpath(os.getcwd())

    def say(self, message: str) -> None:
        if not self._quiet:
            print(f"hotmod: {message}", file=sys.stderr, flush=True)

    # -- the child ------------------------------------------------------------------------

    def _launch(self) -> None:
        read, write = os.pipe()
        env = dict(os.environ)
        env[ENV_FD] = str(write)
        blocked = set(_FORWARDED)

        def unblock() -> None:  # in the child, before exec: the supervisor blocks them
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)

        try:
            self._child = subprocess.Popen(
                self._command,
                env=env,
                pass_fds=(write,),
                # Safe here: the supervisor runs no thread that could hold a lock at the fork.
                preexec_fn=unblock if _HAS_SIGWAIT else None,  # noqa: PLW1509
            )
        finally:
            os.close(write)
        os.set_blocking(read, False)
        self._pipe = read
        self._buffer = b""

    def _read_pipe(self) -> None:
        if self._pipe is None:
            return
        while True:
            try:
                chunk = os.read(self._pipe, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                os.close(self._pipe)
                self._pipe = None
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        added: list[str] = []
        for line in lines:
            try:
                message = json.loads(line)
                path, reason = message["path"], message["reason"]
            except (ValueError, KeyError, TypeError):
                continue
            if not isinstance(path, str):
                continue
            if path not in self._keys:
                key = message.get("key")
                self._keys[path] = (
                    tuple(key) if isinstance(key, list) and len(key) == 3 else _stat_key(path)
                )
            if isinstance(reason, str):
                if self._restarts.get(path) != reason:
                    added.append(path)
                self._restarts[path] = reason
                self._watched.discard(path)
            elif path not in self._restarts:
                self._watched.add(path)
        if added:
            logger.debug(
                "a change to any of these files restarts the program: %s",
                ", ".join(_display(path, self._root) for path in added),
            )

    def _stop_child(self) -> None:
        child = self._child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(_GRACE)
        except subprocess.TimeoutExpired:
            logger.warning("the program did not stop %.0f s after SIGTERM: killed", _GRACE)
            child.kill()
            child.wait()

    # -- files ----------------------------------------------------------------------------

    def _changed(self, *, down: bool) -> tuple[str, str] | None:
        """The first file that changed and restarts (with why); syntax errors are said once
        and wait for the fix."""
        paths: Iterable[str] = self._restarts
        if down:
            paths = [*self._restarts, *sorted(self._watched)]
        found: tuple[str, str] | None = None
        for path in list(paths):
            key = _stat_key(path)
            if key == self._keys.get(path):
                continue
            self._keys[path] = key
            error = _syntax_error(path) if key is not None else None
            if error is not None:
                if self._broken.get(path) != key:
                    self._broken[path] = key
                    shown = _display(path, self._root)
                    self.say(
                        f"{shown} has a {error}; waiting for the fix"
                        if down
                        else f"not restarting: {shown} has a {error}; the running program keeps "
                        "its code until the file is fixed"
                    )
                continue
            self._broken.pop(path, None)
            if path.endswith(".py"):  # its .pyc records mtime in whole seconds and size: a
                discard_bytecode(path)  # same-size edit in that second would run old code
            if found is None:
                reason = self._restarts.get(path, "a watched module")
                what = "deleted" if key is None else "changed"
                found = (path, f"{_display(path, self._root)} {what} ({reason})")
        return found

    # -- signals --------------------------------------------------------------------------

    def _forward(self, signum: int, from_terminal: bool) -> None:
        child = self._child
        if child is None or child.poll() is not None:
            # Nothing runs (waiting for a fix): the signal is for the supervisor.
            if signum == signal.SIGINT:
                print("hotmod: interrupted", file=sys.stderr, flush=True)
            raise _Exit(128 + signum)
        self._stopping = True
        if not from_terminal:  # Ctrl-C at a terminal reached the child (same group) already
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    def _take_signals(self) -> None:
        if _HAS_SIGWAIT:
            while True:
                info = signal.sigtimedwait(_FORWARDED, 0)
                if info is None:
                    break
                self._forward(info.si_signo, info.si_code == _SI_KERNEL)
        else:
            pending, self._pending_signals = self._pending_signals, []
            for signum in pending:
                self._forward(signum, signum == signal.SIGINT and sys.stdin.isatty())

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        if _HAS_SIGWAIT:
            signal.pthread_sigmask(signal.SIG_BLOCK, set(_FORWARDED))
        else:
            for signum in _FORWARDED:
                signal.signal(signum, lambda signum, _frame: self._pending_signals.append(signum))
        try:
            return self._loop()
        except _Exit as exc:
            return exc.code
        finally:
            self._stop_child()

    def _loop(self) -> int:
        self._launch()
        next_stat = time.monotonic() + _STAT_EVERY
        while True:
            if self._pipe is not None:
                select.select([self._pipe], [], [], _POLL)
            else:
                time.sleep(_POLL)
            self._read_pipe()
            self._take_signals()
            child = self._child
            code = child.poll() if child is not None else None
            if child is not None and code is not None:
                self._read_pipe()
                self._child = None
                started = self._restarted_at
                if (
                    self._stopping
                    or code == 0
                    or started is None
                    or time.monotonic() - started > _CRASH_WINDOW
                ):
                    return code if code >= 0 else 128 - code
                self.say(
                    f"{self._target} exited with code {code} right after the restart; not "
                    "restarting it until the next change"
                )
            if time.monotonic() < next_stat:
                continue
            next_stat = time.monotonic() + _STAT_EVERY
            down = self._child is None
            changed = self._changed(down=down)
            if changed is None:
                continue
            _, why = changed
            if down:
                self.say(f"starting {self._target} again: {why}")
            else:
                self.say(f"restarting {self._target}: {why}; the program's state is lost")
                self._stop_child()
                self._read_pipe()
            self._launch()
            self._restarted_at = time.monotonic()


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


_HAS_SIGWAIT = hasattr(signal, "sigtimedwait") and hasattr(signal, "pthread_sigmask")


def supervise(argv: Sequence[str], target: str, *, quiet: bool = False) -> int:
    """Run ``python -m hotmod ARGV`` as a supervised child, restarting it when a file changes
    that its reloader cannot apply; return its exit code.

    Args:
        argv: the command line after ``hotmod`` (``run ...``), given to every child as is.
        target: the target's name, for the messages.
        quiet: print nothing but errors (``-q``).
    """
    command = [sys.executable, *interpreter_options(), "-m", "hotmod", *argv]
    return supervise_command(command, target, quiet=quiet)


def supervise_command(command: list[str], target: str, *, quiet: bool = False) -> int:
    """Run ``command`` (a Python program that makes a ``Reporter``, e.g. ``manage.py
    runserver`` with ``hotmod.django``) as a supervised child, restarting it when a file
    changes that its reloader cannot apply; return its exit code."""
    return _Supervisor(command, target, quiet=quiet).run()
