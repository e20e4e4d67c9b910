"""A minimal QMP client: JSON lines over QEMU's unix socket, one command at a time.

Enough for the boot test: pause and resume the guest around a screenshot, take the
screenshot as PNG (QEMU 7.2 writes PNG when asked), and quit. Asynchronous events that
arrive between a command and its reply are skipped.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

from iso_assets.vmtest.errors import VmTestError

log = logging.getLogger(__name__)

CONNECT_POLL_SECONDS = 0.05
REPLY_TIMEOUT_SECONDS = 30.0


class QmpError(VmTestError):
    """Raised when QMP is unreachable, the connection drops, or QEMU answers with an error."""


class QmpClient:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")

    @classmethod
    def connect(cls, path: Path, *, timeout: float = 10.0) -> QmpClient:
        """Connect to QEMU's QMP socket (retrying while QEMU creates it), read the greeting
        and leave capabilities negotiation mode. Raises QmpError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(REPLY_TIMEOUT_SECONDS)
            try:
                sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                sock.close()
                if time.monotonic() > deadline:
                    message = f"QMP socket {path} not reachable after {timeout:.0f} s"
                    raise QmpError(message) from exc
                time.sleep(CONNECT_POLL_SECONDS)
        client = cls(sock)
        greeting = client._read_message()
        if "QMP" not in greeting:
            client.close()
            raise QmpError(f"{path} is not a QMP socket: greeting {greeting!r}")
        client.execute("qmp_capabilities")
        return client

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Send one command and return its "return" value; raise QmpError on "error"."""
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise QmpError(f"QMP {command}: connection lost ({exc})") from exc
        while True:
            reply = self._read_message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                error = reply["error"]
                raise QmpError(f"QMP {command} failed: {error.get('class')}: {error.get('desc')}")

    def screendump(self, png: Path) -> Path:
        """Write the guest's display to `png` (absolute path, PNG format)."""
        png = png.resolve()
        self.execute("screendump", {"filename": str(png), "format": "png"})
        return png

    def stop(self) -> None:
        self.execute("stop")

    def cont(self) -> None:
        self.execute("cont")

    def quit(self) -> None:
        self.execute("quit")

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def __enter__(self) -> QmpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_message(self) -> dict[str, Any]:
        """The next reply or greeting; events are logged and skipped."""
        while True:
            try:
                line = self._reader.readline()
            except OSError as exc:
                raise QmpError(f"QMP read failed ({exc})") from exc
            if not line:
                raise QmpError("QMP connection closed by QEMU")
            message: dict[str, Any] = json.loads(line)
            if "event" not in message:
                return message
            log.debug("qmp event %s", message["event"])
