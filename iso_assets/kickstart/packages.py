"""Resolve `%packages` against the repos that go on the ISO, before the ISO is built.

Anaconda resolves `%packages` only at install time, and `--ignoremissing` turns a missing
item into silence: a package written as a group (`@acme-agent`), or an environment whose comps
were lost while mirroring, gives an installed system without it. Every item is resolved here
regardless of `--ignoremissing`, against the comps and package lists of the media.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from iso_assets.kickstart.findings import Finding
from iso_assets.kickstart.sections import Section
from iso_assets.repodata.facts import MediaFacts

# `name.arch` spellings dnf accepts in %packages.
ARCH_SUFFIXES = (".x86_64", ".noarch", ".i686", ".aarch64", ".ppc64le", ".s390x")


@dataclass(frozen=True)
class PackageItem:
    line: int
    text: str
    excluded: bool
    kind: str  # "environment", "group", "module" or "package"
    name: str


def parse_item(line: int, raw: str) -> PackageItem | None:
    words = raw.split("#", 1)[0].split()
    if not words or words[0].startswith("%"):
        return None
    text = words[0]
    excluded = text.startswith("-")
    body = text[1:] if excluded else text
    if body.startswith("@^"):
        return PackageItem(line, text, excluded, "environment", body[2:])
    if body.startswith("@"):
        kind = "module" if ":" in body or "/" in body else "group"
        return PackageItem(line, text, excluded, kind, body[1:])
    return PackageItem(line, text, excluded, "package", body)


def _package_present(media: MediaFacts, name: str) -> bool:
    if any(ch in name for ch in "*?["):
        pattern = name.replace("\\", "")
        return any(fnmatch.filter(repo.packages, pattern) for repo in media.repos)
    if media.has_package(name):
        return True
    base, _, _ = name.rpartition(".")
    return name.endswith(ARCH_SUFFIXES) and media.has_package(base)


class _Resolver:
    def __init__(self, media: MediaFacts, release_version: str | None) -> None:
        self.media = media
        self.for_release = f" for {release_version}" if release_version else ""

    def comps_hint(self) -> str:
        bare = self.media.repos_without_groups()
        if not bare:
            return ""
        listed = ", ".join(f"'{repo}'" for repo in bare)
        noun = "repo" if len(bare) == 1 else "repos"
        return (
            f" ({noun} {listed} {'has' if len(bare) == 1 else 'have'} no group metadata - "
            f"was comps dropped during mirroring?)"
        )

    def missing(self, item: PackageItem) -> str | None:
        """Why an included item cannot be installed from the media, or None if it can."""
        media = self.media
        if item.kind == "environment":
            if media.has_environment(item.name):
                return None
            if media.has_group(item.name):
                return f"'{item.name}' is a group, not an environment - write '@{item.name}'"
            return (
                f"environment '{item.name}' not found in any repo{self.for_release}"
                f"{self.comps_hint()}"
            )
        if item.kind == "group":
            if media.has_group(item.name):
                return None
            if media.has_environment(item.name):
                return f"'{item.name}' is an environment, not a group - write '@^{item.name}'"
            if media.has_package(item.name):
                return f"no group '{item.name}'; a package of that name exists - drop the '@'"
            return f"no group '{item.name}' in any repo{self.for_release}{self.comps_hint()}"
        if item.kind == "package":
            if _package_present(media, item.name):
                return None
            return f"no package '{item.name}' in any repo{self.for_release}"
        return None

    def exclusion_problem(self, item: PackageItem) -> str | None:
        if item.kind == "environment":
            present = self.media.has_environment(item.name)
            return "environments cannot be excluded (Anaconda ignores the line)" + (
                "" if present else f"; '{item.name}' is not in the comps of any repo"
            )
        if item.kind == "group" and not self.media.has_group(item.name):
            return f"excluded group '{item.name}' is not in any repo (the line has no effect)"
        if item.kind == "package" and not _package_present(self.media, item.name):
            return f"excluded package '{item.name}' is not in any repo (the line has no effect)"
        return None


def lint_packages(
    section: Section, media: MediaFacts | None, release_version: str | None
) -> list[Finding]:
    """Findings for one `%packages` section; without `media` only `--ignoremissing` is noted."""
    findings: list[Finding] = []
    items = [
        item for item in (parse_item(line, raw) for line, raw in section.body) if item is not None
    ]
    ignore_missing = section.has_flag("--ignoremissing")
    missing_items: list[str] = []

    if media is not None:
        resolver = _Resolver(media, release_version)
        for item in items:
            if item.kind == "module":
                findings.append(
                    Finding(
                        "WARN",
                        item.line,
                        section.name,
                        "module-unchecked",
                        f"'{item.text}': module streams are not resolved by this check",
                    )
                )
                continue
            problem = resolver.exclusion_problem(item) if item.excluded else resolver.missing(item)
            if problem is None:
                continue
            if item.excluded:
                findings.append(
                    Finding("WARN", item.line, section.name, "exclude-unresolved", problem)
                )
                continue
            missing_items.append(item.text)
            rule = {"environment": "environment-missing", "group": "group-missing"}.get(
                item.kind, "package-missing"
            )
            if "a package of that name exists" in problem:
                rule = "group-is-package"
            findings.append(
                Finding("ERROR", item.line, section.name, rule, f"'{item.text}': {problem}")
            )

    if ignore_missing:
        hidden = (
            f"listed missing items: [{', '.join(missing_items)}]"
            if media is not None
            else "repo facts were not given, so missing items could not be listed"
        )
        findings.append(
            Finding(
                "WARN",
                section.line,
                section.name,
                "ignoremissing",
                f"%packages --ignoremissing hides missing items at install time; {hidden}",
            )
        )
    return findings
