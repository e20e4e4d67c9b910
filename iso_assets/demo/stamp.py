"""Cache stamps for the demo's inputs: an output is rebuilt only when its input digest changes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def stamp_path(output: Path) -> Path:
    """Where the cache stamp of `output` (a file or a folder) lives: beside it."""
    return output.with_name(output.name + ".stamp.json")


def is_up_to_date(output: Path, stamp: Path, input_digest: str) -> bool:
    """True when `output` exists and `stamp` records `input_digest`."""
    if not output.exists() or not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text()).get("input_digest")
    except (OSError, ValueError):
        return False
    if recorded != input_digest:
        log.info("not reusing %s: input digest changed", output)
    return recorded == input_digest


def write_stamp(stamp: Path, input_digest: str, **facts: object) -> None:
    """Record the input digest (and any small facts) of a finished output."""
    stamp.write_text(json.dumps({"input_digest": input_digest, **facts}, sort_keys=True) + "\n")
