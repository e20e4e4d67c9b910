"""The one wrapper every external tool runs through.

argv is always a list (never a shell string); the command is logged at debug level with
`shlex.join`, its duration at info level; a failure raises ToolError carrying the command
and the tail of stderr, and exit 127 / a missing binary is explained as "not installed".
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from iso_assets.errors import ToolError, ToolMissingError

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 20


def stderr_tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    timeout: float | None = None,
    check: bool = True,
    capture: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv; return the CompletedProcess (stdout/stderr as bytes when `capture`).

    `env` entries are added to the current environment. Raises ToolMissingError when
    argv[0] is not installed, ToolError on a non-zero exit (when `check`) or a timeout.
    """
    args = [os.fspath(a) for a in argv]
    command = shlex.join(args)
    if shutil.which(args[0]) is None and not Path(args[0]).is_file():
        raise ToolMissingError(
            f"{args[0]} is not installed (needed for: {command}); run `make deps` or "
            f"install the Debian package that provides it",
            argv=args,
            returncode=127,
        )
    full_env = {**os.environ, **env} if env else None
    log.debug("run: %s", command)
    started = time.monotonic()
    try:
        result = subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            input=input_bytes,
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode(errors="replace")
        raise ToolError(
            f"{args[0]} timed out after {timeout} s: {command}\n{stderr_tail(err)}",
            argv=args,
            returncode=None,
            stderr=err,
        ) from exc
    elapsed = time.monotonic() - started
    log.info("%s finished in %.2f s (exit %d)", Path(args[0]).name, elapsed, result.returncode)
    if check and result.returncode != 0:
        err = (result.stderr or b"").decode(errors="replace")
        if result.returncode == 127:
            raise ToolMissingError(
                f"{args[0]} is not installed: {command}", argv=args, returncode=127, stderr=err
            )
        raise ToolError(
            f"{Path(args[0]).name} failed with exit {result.returncode}: {command}\n"
            f"{stderr_tail(err)}",
            argv=args,
            returncode=result.returncode,
            stderr=err,
        )
    return result


def tool_version(argv: Sequence[str]) -> str:
    """First line of a tool's version output, for input digests; '' when not installed."""
    try:
        result = run_tool(argv, check=False)
    except ToolMissingError:
        return ""
    text = (result.stdout or b"").decode(errors="replace") or (result.stderr or b"").decode(
        errors="replace"
    )
    return text.strip().splitlines()[0] if text.strip() else ""
