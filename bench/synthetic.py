"""Synthetic inputs for the benchmark: an RPM repo with random payloads, a big primary.xml,
a big random file. Each is cached under the bench work dir by its parameters."""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from iso_assets.process import run_tool
from iso_assets.rpm.build import rpmbuild_argv
from iso_assets.rpm.macros import define_args

log = logging.getLogger(__name__)

MIB = 1024 * 1024
EPOCH = 1735689600
COMMON_NS = "http://linux.duke.edu/metadata/common"


def synthetic_repo(root: Path, *, packages: int, total_bytes: int, seed: int = 7) -> Path:
    """A createrepo_c repo of `packages` noarch RPMs (random, incompressible payloads that add
    up to about `total_bytes`), built by one rpmbuild run of a spec with one subpackage each."""
    stamp = root / "bench-stamp.json"
    wanted = {"packages": packages, "total_bytes": total_bytes, "seed": seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return root
    started = time.monotonic()
    shutil.rmtree(root, ignore_errors=True)
    (root / "Packages").mkdir(parents=True)
    rng = random.Random(seed)
    average = total_bytes // packages
    sizes = [rng.randint(average // 2, average * 3 // 2) for _ in range(packages)]
    with tempfile.TemporaryDirectory(prefix="bench-rpmbuild-") as tmp:
        topdir = Path(tmp)
        for sub in ("SPECS", "SOURCES", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
            (topdir / sub).mkdir()
        spec = topdir / "SPECS" / "bench.spec"
        spec.write_text(bench_spec_text(sizes))
        argv = rpmbuild_argv(spec, topdir, release="el9", target=None)
        # Stored payloads: random bytes do not compress, and zstd -19 would dominate the build.
        argv[-1:-1] = define_args({"_binary_payload": "w0.ufdio"})
        env = {"SOURCE_DATE_EPOCH": str(EPOCH), "HOME": tmp, "LC_ALL": "C"}
        run_tool(argv, env=env, timeout=1800)
        for rpm in (topdir / "RPMS").rglob("*.rpm"):
            shutil.move(rpm, root / "Packages" / rpm.name)
    run_tool(["createrepo_c", "--quiet", "--no-database", str(root)], timeout=600)
    stamp.write_text(json.dumps(wanted))
    log.info("synthetic repo: %d packages in %.1f s", packages, time.monotonic() - started)
    return root


def bench_spec_text(sizes: list[int]) -> str:
    lines = [
        "Name: bench",
        "Version: 1.0",
        "Release: 1%{?dist}",
        "Summary: benchmark packages",
        "License: MIT",
        "BuildArch: noarch",
        "",
        "%description",
        "Benchmark packages with random payloads.",
    ]
    for index in range(len(sizes)):
        name = f"bench-{index:04d}"
        lines += ["", f"%package -n {name}", f"Summary: {name}", "", f"%description -n {name}"]
        lines.append(f"{name} payload.")
    lines += ["", "%install"]
    for index, size in enumerate(sizes):
        folder = f"%{{buildroot}}/usr/share/bench-{index:04d}"
        lines.append(f"mkdir -p {folder} && head -c {size} /dev/urandom > {folder}/payload")
    for index in range(len(sizes)):
        lines += ["", f"%files -n bench-{index:04d}", f"/usr/share/bench-{index:04d}/payload"]
    return "\n".join(lines) + "\n"


def synthetic_primary(path: Path, *, packages: int, seed: int = 11) -> Path:
    """A gzip primary.xml with `packages` entries shaped like a real repo's (files, provides,
    requires, changelog-free), with mixed arches so selection has work to do."""
    if path.is_file():
        return path
    rng = random.Random(seed)
    arches = ["x86_64"] * 6 + ["noarch"] * 3 + ["i686"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=6) as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(
            f'<metadata xmlns="{COMMON_NS}" xmlns:rpm="http://linux.duke.edu/metadata/rpm" '
            f'packages="{packages}">\n'
        )
        for index in range(packages):
            out.write(package_xml(index, rng.choice(arches), rng))
        out.write("</metadata>\n")
    return path


def package_xml(index: int, arch: str, rng: random.Random) -> str:
    name = f"pkg{index:05d}-{rng.choice(['libs', 'devel', 'tools', 'common', 'data'])}"
    digest = f"{rng.getrandbits(256):064x}"
    requires = "".join(
        f'<rpm:entry name="pkg{rng.randrange(10000):05d}-libs"/>' for _ in range(rng.randint(1, 8))
    )
    files = "".join(f"<file>/usr/lib/{name}/file{n}.so</file>" for n in range(rng.randint(1, 6)))
    return (
        f'<package type="rpm"><name>{name}</name><arch>{arch}</arch>'
        f'<version epoch="0" ver="{rng.randint(1, 9)}.{rng.randint(0, 40)}" rel="1.el9"/>'
        f'<checksum type="sha256" pkgid="YES">{digest}</checksum>'
        f"<summary>Synthetic package {name}</summary>"
        f"<description>Synthetic package {index} for planning benchmarks.</description>"
        f"<packager>bench</packager><url>https://example.invalid/{name}</url>"
        f'<time file="{EPOCH}" build="{EPOCH}"/>'
        f'<size package="{rng.randint(10_000, 5_000_000)}" installed="0" archive="0"/>'
        f'<location href="Packages/{name[0]}/{name}-1.0-1.el9.{arch}.rpm"/>'
        f"<format><rpm:license>MIT</rpm:license><rpm:group>Unspecified</rpm:group>"
        f'<rpm:provides><rpm:entry name="{name}"/></rpm:provides>'
        f"<rpm:requires>{requires}</rpm:requires>{files}</format></package>\n"
    )


def random_file(path: Path, size: int) -> Path:
    if path.is_file() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, 16 * MIB))
            out.write(chunk)
            remaining -= len(chunk)
    return path
