"""Build RPMs from spec files with rpmbuild, reproducibly."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from iso_assets.process import run_tool
from iso_assets.rpm.macros import define_args, el_build_defines


def rpmbuild_argv(spec: Path, topdir: Path, *, release: str, target: str | None) -> list[str]:
    argv = ["rpmbuild", "-bb", "--quiet", *define_args({"_topdir": str(topdir)})]
    argv += define_args(el_build_defines(release))
    if target:
        argv += ["--target", target]
    return [*argv, str(spec)]


def build_rpms(
    spec: Path,
    out_dir: Path,
    *,
    source_date_epoch: int,
    release: str = "el9",
    target: str | None = None,
    sources: list[Path] | None = None,
) -> list[Path]:
    """Build `spec` (with `sources` copied to SOURCES/); return the RPM files in `out_dir`.

    Two builds with the same inputs and `source_date_epoch` are byte-identical.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rpmbuild-") as tmp:
        topdir = Path(tmp)
        for sub in ("SPECS", "SOURCES", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
            (topdir / sub).mkdir()
        for source in sources or []:
            shutil.copy2(source, topdir / "SOURCES" / source.name)
        env = {"SOURCE_DATE_EPOCH": str(source_date_epoch), "HOME": tmp, "LC_ALL": "C"}
        run_tool(rpmbuild_argv(spec, topdir, release=release, target=target), env=env)
        built = []
        for rpm in sorted((topdir / "RPMS").rglob("*.rpm")):
            dest = out_dir / rpm.name
            shutil.move(rpm, dest)
            built.append(dest)
    return built


def write_simple_spec(
    path: Path,
    *,
    name: str,
    version: str,
    release: str = "1%{?dist}",
    arch: str = "noarch",
    files: dict[str, str] | None = None,
    provides: list[str] | None = None,
    requires: list[str] | None = None,
    summary: str | None = None,
) -> Path:
    """Write a spec for a package that installs `files` (target path -> text). For tests and
    the demo's stand-in upstream packages."""
    files = files or {f"/usr/share/{name}/README": f"{name} {version}\n"}
    lines = [
        f"Name: {name}",
        f"Version: {version}",
        f"Release: {release}",
        f"Summary: {summary or 'iso-assets package ' + name}",
        "License: MIT",
    ]
    if arch == "noarch":
        lines.append("BuildArch: noarch")
    lines += [f"Provides: {item}" for item in provides or []]
    lines += [f"Requires: {item}" for item in requires or []]
    lines += ["", "%description", f"{summary or name}.", "", "%install"]
    for target, text in files.items():
        quoted = text.replace("\\", "\\\\").replace("'", "'\\''")
        lines.append(f"mkdir -p %{{buildroot}}$(dirname '{target}')")
        lines.append(f"printf '%s' '{quoted}' > %{{buildroot}}{target}")
    lines += ["", "%files", *files.keys(), ""]
    path.write_text("\n".join(lines))
    return path
