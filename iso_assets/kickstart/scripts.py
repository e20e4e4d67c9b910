"""Path rules for %post scripts: which root a path refers to depends on --nochroot.

A chrooted %post runs inside the installed system: /mnt/sysimage does not exist there and the
install media (/run/install/repo) is not visible. A `%post --nochroot` runs in the installer's
own root: a plain /etc/... path changes the installer, not the installed system, which lives
under $ANA_INSTALL_PATH (/mnt/sysimage). The checks read shell text line by line; they are a
lint (common write forms: redirections, cp/mv/install/rsync/ln targets, mkdir/touch/tee
arguments), not a shell interpreter.
"""

from __future__ import annotations

import re
import shlex

from iso_assets.kickstart.findings import Finding
from iso_assets.kickstart.sections import Section

SYSIMAGE = "/mnt/sysimage"
MEDIA_PATHS = ("/run/install/repo", "/run/install/sources")
# Top-level folders that only make sense as paths of the installed system.
TARGET_DIRS = frozenset(
    {"etc", "usr", "opt", "root", "home", "boot", "srv", "var", "bin", "sbin", "lib", "lib64"}
)
# Variables a script may use without setting them: Anaconda's and the shell's own.
KNOWN_VARIABLES = frozenset(
    {
        "ANA_INSTALL_PATH",
        "PATH",
        "HOME",
        "PWD",
        "OLDPWD",
        "TERM",
        "LANG",
        "LC_ALL",
        "USER",
        "SHELL",
        "HOSTNAME",
        "IFS",
        "RANDOM",
        "LINENO",
        "SECONDS",
        "REPLY",
        "OPTARG",
        "OPTIND",
        "UID",
        "EUID",
        "PPID",
        "BASH_SOURCE",
        "BASH_VERSION",
        "FUNCNAME",
        "PIPESTATUS",
        "TMPDIR",
    }
)
DESTINATION_LAST = frozenset({"cp", "mv", "install", "rsync", "ln"})
DESTINATION_ALL = frozenset({"mkdir", "touch", "tee"})

_VARIABLE_USE = re.compile(r"\$\{?#?([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNMENT = re.compile(r"(?:^|[\s;(&|{])([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
_FOR_LOOP = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b")
_READ = re.compile(r"\b(?:read|export|local|declare|readonly|typeset)\s+((?:-\S+\s+)*)([^;&|]*)")
_DEFAULT_ASSIGN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=")
_REDIRECT = re.compile(r"(?:^|[^0-9&<>])\d?>{1,2}\s*([^\s;|&<>)]+)")
_SINGLE_QUOTED = re.compile(r"'[^']*'")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)\\?([A-Za-z_][A-Za-z0-9_]*)\1")
_SEGMENT_SPLIT = re.compile(r"&&|\|\||[;|]")
_NOT_SHELL = ("python", "perl", "ruby", "lua")


def _strip_single_quotes(line: str) -> str:
    """Drop '...' spans outside double quotes: nothing in them is expanded."""
    out, quoted_double, index = [], False, 0
    while index < len(line):
        char = line[index]
        if char == '"':
            quoted_double = not quoted_double
        elif char == "\\" and index + 1 < len(line):
            index += 2
            continue
        elif char == "'" and not quoted_double:
            end = line.find("'", index + 1)
            if end == -1:
                break
            index = end + 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _code_lines(section: Section) -> list[tuple[int, str]]:
    """Script lines that the shell reads as code: no comments, no quoted heredoc bodies."""
    lines: list[tuple[int, str]] = []
    heredoc_end: str | None = None
    heredoc_literal = False
    for lineno, raw in section.body:
        if heredoc_end is not None:
            if raw.strip() == heredoc_end:
                heredoc_end = None
            elif not heredoc_literal:
                lines.append((lineno, raw))
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        heredoc = _HEREDOC.search(raw)
        if heredoc:
            heredoc_end = heredoc.group(2)
            heredoc_literal = bool(heredoc.group(1)) or "<<\\" in raw or "<<-\\" in raw
        lines.append((lineno, raw))
    return lines


def _assigned_variables(lines: list[tuple[int, str]]) -> set[str]:
    assigned: set[str] = set()
    for _lineno, raw in lines:
        code = _strip_single_quotes(raw)
        assigned.update(_ASSIGNMENT.findall(code))
        assigned.update(_FOR_LOOP.findall(code))
        assigned.update(_DEFAULT_ASSIGN.findall(code))
        for _options, names in _READ.findall(code):
            assigned.update(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\b", names.split("=")[0]))
    return assigned


def _unset_variables(code: str, assigned: set[str]) -> list[str]:
    names = []
    for name in _VARIABLE_USE.findall(code.replace("\\$", "")):
        if name not in assigned and name not in KNOWN_VARIABLES and name not in names:
            names.append(name)
    return names


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=True)
    except ValueError:
        return segment.split()


def written_paths(code: str) -> list[str]:
    """Paths a shell line writes to: redirection targets and common copy/create targets."""
    paths = [target.strip("\"'") for target in _REDIRECT.findall(code)]
    for segment in _SEGMENT_SPLIT.split(_REDIRECT.sub(" ", code)):
        words = [w for w in _words(segment) if "=" not in w or w.startswith("-")]
        while words and words[0] in ("sudo", "command", "exec"):
            words = words[1:]
        if not words:
            continue
        arguments = [w for w in words[1:] if not w.startswith("-")]
        if words[0] in DESTINATION_LAST and len(arguments) >= 2:
            paths.append(arguments[-1])
        elif words[0] in DESTINATION_ALL:
            paths.extend(arguments)
    return paths


def _is_installer_target_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith(SYSIMAGE):
        return False
    top = path.lstrip("/").split("/", 1)[0]
    return top in TARGET_DIRS


def _lint_nochroot(section: Section, lines: list[tuple[int, str]]) -> list[Finding]:
    findings: list[Finding] = []
    assigned = _assigned_variables(lines)
    for lineno, raw in lines:
        code = _strip_single_quotes(raw)
        unset = _unset_variables(code, assigned)
        for name in unset:
            findings.append(
                Finding(
                    "ERROR",
                    lineno,
                    section.label,
                    "unset-variable",
                    f"${name} is not set by Anaconda or by this script; an empty or multi-word "
                    f"expansion points the path at the installer's root or turns 'cp' into a "
                    f"copy of a directory (\"omitting directory '/mnt/sysimage'\"). "
                    f'Use "$ANA_INSTALL_PATH".',
                )
            )
        for path in written_paths(raw):
            if _is_installer_target_path(path):
                findings.append(
                    Finding(
                        "ERROR",
                        lineno,
                        section.label,
                        "nochroot-target-path",
                        f"writes {path} - that is the installer's own root, not the installed "
                        f"system; use $ANA_INSTALL_PATH{path} (or {SYSIMAGE}{path})",
                    )
                )
    return findings


def _lint_chroot(section: Section, lines: list[tuple[int, str]]) -> list[Finding]:
    findings: list[Finding] = []
    log_path = section.option("--log", "--logfile")
    if log_path and log_path.startswith(SYSIMAGE):
        findings.append(
            Finding(
                "WARN",
                section.line,
                section.label,
                "post-log-path",
                f"--log={log_path}: inside the chroot the log path resolves relative to the "
                f"installed root (it lands in {SYSIMAGE}{log_path}); use --log=/root/ks-post.log",
            )
        )
    for lineno, raw in lines:
        code = _strip_single_quotes(raw)
        outside = [p for p in (SYSIMAGE, "$ANA_INSTALL_PATH", "${ANA_INSTALL_PATH}") if p in code]
        media = [p for p in MEDIA_PATHS if p in code]
        if not outside and not media:
            continue
        reasons = []
        if outside:
            reasons.append(f"{outside[0]} does not exist")
        if media:
            reasons.append(f"{media[0]} (the install media) is not visible")
        findings.append(
            Finding(
                "ERROR",
                lineno,
                section.label,
                "chroot-path",
                f"{' and '.join(reasons)} inside the chroot; do this step in a %post --nochroot "
                f"section "
                f"(target paths as $ANA_INSTALL_PATH/...)",
            )
        )
    return findings


def lint_post_scripts(section: Section) -> list[Finding]:
    """Findings for one %post section (shell scripts only; other interpreters are skipped)."""
    interpreter = section.option("--interpreter") or "/bin/sh"
    if any(name in interpreter for name in _NOT_SHELL):
        return []
    lines = _code_lines(section)
    if section.has_flag("--nochroot"):
        return _lint_nochroot(section, lines)
    return _lint_chroot(section, lines)
