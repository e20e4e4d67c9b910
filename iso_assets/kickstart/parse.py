"""The pykickstart layer: parse with the handler of the target release, keep every finding.

pykickstart's own parser stops at the first error and reports deprecations as Python
warnings, mostly without a line number. Here each command is dispatched under its own
warnings capture, so a deprecation is tied to the line of its command, and a command that
fails does not stop the parse: the next command is still checked. A broken section header or
an unterminated section still ends the parse (pykickstart cannot resync there); that finding
carries its line.

`%include` is not followed: a kickstart is checked as written, without reading files from
this host (the included file usually exists only inside the installer, made by %pre).
"""

from __future__ import annotations

import logging
import re
import shlex
import warnings
from dataclasses import dataclass, field
from typing import Any

from pykickstart import errors as ks_errors
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

from iso_assets.errors import KickstartError
from iso_assets.kickstart.findings import Finding
from iso_assets.kickstart.sections import split_sections

log = logging.getLogger(__name__)

# Advice for commands and options pykickstart reports as removed or deprecated.
COMMAND_ADVICE = {
    "install": "remove the line (installing is the only mode since RHEL 8)",
    "auth": "use 'authselect' (auth/authconfig are removed in RHEL 10)",
    "authconfig": "use 'authselect' (auth/authconfig are removed in RHEL 10)",
    "upgrade": "remove the line (upgrades are not done by kickstart)",
    "device": "remove the line (drivers load automatically)",
    "method": "use 'url', 'cdrom', 'harddrive' or 'nfs'",
}
OPTION_ADVICE = {"--isUtc": "'--utc'", "--nontp": "'timesource --ntp-disable'"}

_REMOVED = re.compile(r"^(\S+) has been removed")
_UNRECOGNIZED = re.compile(r"unrecognized arguments?: (.+)$")
_DEPRECATED_OPTION = re.compile(r"(?:option (--[\w-]+)|(--[\w-]+) option)\b.* will be deprecated")
_ALIAS = re.compile(r"preferred alias (--[\w-]+)")
_LINE_IN_TEXT = re.compile(r"\bline (\d+)")


@dataclass(frozen=True)
class CommandRecord:
    """One command line as pykickstart dispatched it: its line, words and data object."""

    line: int
    args: list[str]
    data: Any

    @property
    def name(self) -> str:
        return self.args[0]


@dataclass
class ParsedKickstart:
    handler_name: str
    handler: Any
    commands: list[CommandRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True

    def last(self, name: str) -> CommandRecord | None:
        matches = [record for record in self.commands if record.name == name]
        return matches[-1] if matches else None


class _RecordingParser(KickstartParser):
    """KickstartParser that records each command and turns its problems into findings."""

    def __init__(self, handler: Any, parsed: ParsedKickstart) -> None:
        super().__init__(handler, followIncludes=False)
        self._parsed = parsed

    def handleCommand(self, lineno: int, args: list[str]) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                data = super().handleCommand(lineno, args)
            except ks_errors.KickstartError as exc:
                self._parsed.findings.append(
                    classify_parse_error(exc.message, args, lineno, self._parsed.handler_name)
                )
                return None
        for warning in caught:
            if issubclass(warning.category, ks_errors.KickstartParseWarning):
                self._parsed.findings.append(
                    classify_warning(str(warning.message), args[0], lineno)
                )
        self._parsed.commands.append(CommandRecord(line=lineno, args=list(args), data=data))
        return data


def _advise_option(option: str) -> str:
    replacement = OPTION_ADVICE.get(option)
    return f"; use {replacement}" if replacement else "; remove it"


def classify_parse_error(message: str, args: list[str], lineno: int, handler: str) -> Finding:
    """A pykickstart error on a command line as a finding with a rule and advice."""
    command = args[0]
    removed = _REMOVED.match(message)
    if removed:
        advice = COMMAND_ADVICE.get(removed.group(1), "remove it or use its replacement")
        return Finding(
            "ERROR",
            lineno,
            None,
            "removed-command",
            f"'{removed.group(1)}' was removed in {handler}; {advice}",
        )
    unrecognized = _UNRECOGNIZED.search(message)
    if unrecognized:
        options = unrecognized.group(1).split()
        known = [o for o in options if o.split("=")[0] in OPTION_ADVICE]
        if known:
            option = known[0].split("=")[0]
            return Finding(
                "ERROR",
                lineno,
                None,
                "removed-option",
                f"'{command} {option}' is not valid {handler} syntax{_advise_option(option)}",
            )
    return Finding("ERROR", lineno, None, "parse-error", f"'{command}': {message.strip()}")


def classify_warning(message: str, command: str, lineno: int | None) -> Finding:
    """A pykickstart deprecation/parse warning as a WARN finding with advice."""
    text = " ".join(message.split())
    option = _DEPRECATED_OPTION.search(text)
    if option:
        old = option.group(1) or option.group(2)
        alias = _ALIAS.search(text)
        replacement = f"'{alias.group(1)}'" if alias else OPTION_ADVICE.get(old)
        advice = f"use {replacement}" if replacement else "remove it"
        return Finding(
            "WARN",
            lineno,
            None,
            "deprecated",
            f"'{command} {old}' is deprecated; {advice} (an error in later releases)",
        )
    command_advice = COMMAND_ADVICE.get(command)
    if command_advice:
        return Finding(
            "WARN", lineno, None, "deprecated", f"'{command}' is deprecated: {command_advice}"
        )
    return Finding("WARN", lineno, None, "deprecated", f"'{command}': {text}")


def make_handler(handler_name: str) -> Any:
    try:
        return makeVersion(handler_name)
    except ks_errors.KickstartVersionError as exc:
        raise KickstartError(
            f"unknown pykickstart handler {handler_name!r}; use one of RHEL8, RHEL9, RHEL10 "
            f"(product.yaml release el8/el9/el10)"
        ) from exc


def _unsplittable_line(text: str) -> int | None:
    """The first command line (outside section bodies) that shell-style splitting rejects."""
    body_lines = {line for section in split_sections(text) for line, _raw in section.body}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if lineno in body_lines:
            continue
        try:
            shlex.split(line, comments=True)
        except ValueError:
            return lineno
    return None


def parse_kickstart(text: str, handler_name: str) -> ParsedKickstart:
    """Parse `text` with pykickstart's `handler_name` syntax; problems become findings.

    Warnings are captured with the process-global `warnings` machinery: validate one
    kickstart at a time per process (Dagster's executors run one step per process).
    """
    handler = make_handler(handler_name)
    parsed = ParsedKickstart(handler_name=handler_name, handler=handler)
    parser = _RecordingParser(handler, parsed)

    # Warnings raised outside a command (section headers) carry their line in the text.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser.readKickstartFromString(text)
        except ks_errors.KickstartError as exc:
            parsed.complete = False
            parsed.findings.append(
                Finding("ERROR", exc.lineno, None, "parse-error", str(exc.message).strip())
            )
        except ValueError as exc:
            # pykickstart splits command lines with shlex outside its own error handling.
            parsed.complete = False
            parsed.findings.append(
                Finding(
                    "ERROR",
                    _unsplittable_line(text),
                    None,
                    "parse-error",
                    f"{exc} (unbalanced quotes); the parse stopped here",
                )
            )
    lines = text.splitlines()
    for warning in caught:
        if issubclass(warning.category, ks_errors.KickstartParseWarning):
            found = _LINE_IN_TEXT.search(str(warning.message))
            lineno = int(found.group(1)) if found else None
            words = lines[lineno - 1].split() if lineno and lineno <= len(lines) else []
            where = words[0] if words else "section header"
            parsed.findings.append(classify_warning(str(warning.message), where, lineno))
    return parsed
