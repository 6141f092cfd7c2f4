"""Headless Chromium driven over the DevTools protocol (a websocket), for the browser tests
and the browser benchmark. Debian's ``chromium`` package: ``make test`` installs it."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get update && apt-get install -y chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,700",
    "--remote-debugging-port=0",
    "about:blank",
]


class Chromium:
    """One headless Chromium with a new empty profile; ``page()`` opens a tab."""

    def __init__(self) -> None:
        if not Path(CHROMIUM).exists():
            raise RuntimeError(f"{CHROMIUM} is missing: install it with `{INSTALL}`")
        self._profile = tempfile.mkdtemp(prefix="hotmod-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, f"--user-data-dir={self._profile}", *FLAGS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # its singleton socket folder goes inside the profile, which close() removes
            env={**os.environ, "TMPDIR": self._profile},
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        for line in self.proc.stderr:
            if "DevTools listening on ws://" in line:
                self.http = "http://" + line.split("ws://", 1)[1].split("/", 1)[0]
                break
            if time.monotonic() > deadline:
                break
        else:
            raise RuntimeError("chromium exited before listening for DevTools")

    def page(self) -> Page:
        request = urllib.request.Request(self.http + "/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        stack = contextlib.ExitStack()
        ws = stack.enter_context(
            connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        )
        return Page(ws, stack)

    def close(self) -> None:
        # SIGTERM first: a killed Chromium leaves its org.chromium.Chromium.* folder in /tmp.
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)


# What DevTools answers when a page is replaced while it evaluates an expression.
_NAVIGATING = ("Inspected target navigated or closed", "Cannot find context with specified id")


class Page:
    """A tab: navigate, evaluate JavaScript, wait for a condition, take a screenshot."""

    def __init__(self, ws: ClientConnection, stack: contextlib.ExitStack[None]) -> None:
        self.ws = ws
        self._stack = stack
        self._ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href === " + json.dumps(url))

    def eval(self, expression: str) -> Any:
        try:
            result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        except RuntimeError as error:
            # The page reloaded (hotmod's full reload) while it evaluated: no answer yet.
            if any(text in str(error) for text in _NAVIGATING):
                return None
            raise
        if "exceptionDetails" in result:
            return None  # e.g. evaluated while the page was being replaced
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 15.0, poll: float = 0.002) -> Any:
        """Wait until ``expression`` is truthy in the page; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(poll)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self._stack.close()
