"""Mirror one upstream RPM repo: repomd first, then its metadata, installer tree, packages.

Every file is verified on arrival (repomd checksums, .treeinfo [checksums], primary's package
checksums, RPM header identity, signatures per the repo's policy). Packages whose bytes the
store already holds (`known_blob(sha256)`) are referenced, never downloaded again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from iso_assets.artifacts import sha256_file
from iso_assets.errors import ChecksumMismatchError, MirrorError
from iso_assets.mirror.fetch import Fetcher, NotFoundError
from iso_assets.mirror.repomd import PackageEntry, Repomd, parse_primary, read_repomd
from iso_assets.mirror.selection import Selection, select_packages
from iso_assets.mirror.signatures import RejectedPackagesError, verify_signatures
from iso_assets.mirror.treeinfo import InstallerTree, parse_treeinfo
from iso_assets.rpm.header import RpmHeaderError, read_rpm_header
from iso_assets.spec.models import UpstreamRepo

log = logging.getLogger(__name__)

DOWNLOAD_THREADS = 4
REPOMD_HREF = "repodata/repomd.xml"
# File-name arch tokens we can compare with the header (anything else is a custom name).
KNOWN_ARCHES = frozenset(
    [
        "noarch",
        "src",
        "nosrc",
        "x86_64",
        "i386",
        "i486",
        "i586",
        "i686",
        "aarch64",
        "ppc64le",
        "ppc64",
        "s390x",
        "armv7hl",
        "riscv64",
    ]
)

Kind = Literal["metadata", "package", "installer"]
KnownBlob = Callable[[str], Path | None]


@dataclass(frozen=True)
class MirroredFile:
    """One file of the snapshot: its path in the repo, where its bytes are, their sha256."""

    path: str
    local: Path
    sha256: str
    size: int
    kind: Kind


@dataclass
class SyncStats:
    downloaded_packages: int = 0
    downloaded_bytes: int = 0
    reused_packages: int = 0
    metadata_files: int = 0
    installer_files: int = 0
    seconds: float = 0.0


@dataclass
class RepoSnapshot:
    """What one sync produced. `filtered` means upstream metadata lists packages that are not
    in `files`, so the repodata stage must regenerate metadata (keeping comps and modules)."""

    repo_id: str
    baseurl: str
    revision: str | None
    files: list[MirroredFile]
    installer_tree: InstallerTree | None
    filtered: bool
    skipped: list[str]
    signature_policy: str
    stats: SyncStats = field(default_factory=SyncStats)


@dataclass(frozen=True)
class _Expected:
    algorithm: str
    digest: str
    source: str  # which metadata promised it, for the error message


def sync_repo(
    repo: UpstreamRepo,
    dest: Path,
    *,
    allowed_arches: tuple[str, ...],
    known_blob: KnownBlob,
    spec_dir: Path,
    label: str | None = None,
) -> RepoSnapshot:
    """Mirror `repo` into `dest` (paths as upstream) and return its snapshot.

    `label` names the repo in messages (e.g. "baseos/9.4"; default the repo id). Raises
    MirrorError when the upstream is unreachable or its metadata is broken,
    ChecksumMismatchError when a file differs from its metadata, SignatureError when a
    package breaks the repo's signature policy.
    """
    label = label or repo.id
    started = time.monotonic()
    stats = SyncStats()
    dest.mkdir(parents=True, exist_ok=True)
    log.info("mirror %s: mirroring %s into %s", label, repo.baseurl, dest)

    # repomd.xml is fetched first but lands last, so dest never names metadata that is not
    # there yet; a failed sync leaves the previous repomd.xml (if any) in place.
    incoming_repomd = dest / "repodata" / "repomd.xml.incoming"
    try:
        with Fetcher(repo.baseurl, repo_label=label) as fetcher:
            repomd = _fetch_repomd(fetcher, incoming_repomd, label)
            files = _fetch_metadata(fetcher, repomd, dest, known_blob, label)
            stats.metadata_files = len(files) + 1

            installer_tree = None
            if repo.installer_tree:
                installer_tree, installer_files = _fetch_installer_tree(
                    fetcher, dest, known_blob, label
                )
                files += installer_files
                stats.installer_files = len(installer_files)

            primary = next(f for f in files if f.path == _primary_href(repomd, label))
            selection = select_packages(
                parse_primary(primary.local),
                allowed_arches=allowed_arches,
                include=repo.include,
                exclude=repo.exclude,
                keep_newest=repo.keep_newest,
            )
            _check_file_name_arches(selection, label)
            _log_selection(selection, label, allowed_arches)
            packages = _fetch_packages(fetcher, selection.kept, dest, known_blob, label, stats)

        _check_headers(packages, selection.kept, label)
        policy = _verify_signatures(packages, repo, dest, spec_dir, label)
        incoming_repomd.replace(dest / REPOMD_HREF)
    finally:
        incoming_repomd.unlink(missing_ok=True)
    files.append(_described(REPOMD_HREF, dest / REPOMD_HREF, "metadata"))
    stats.seconds = time.monotonic() - started
    log.info(
        "mirror %s: mirrored revision %s in %.2f s: %d packages downloaded (%d bytes), "
        "%d reused from the store, %d skipped",
        label,
        repomd.revision,
        stats.seconds,
        stats.downloaded_packages,
        stats.downloaded_bytes,
        stats.reused_packages,
        len(selection.dropped),
    )
    return RepoSnapshot(
        repo_id=repo.id,
        baseurl=repo.baseurl,
        revision=repomd.revision,
        files=[*files, *packages],
        installer_tree=installer_tree,
        filtered=bool(selection.dropped),
        skipped=sorted(p.nevra for p in selection.dropped),
        signature_policy=policy,
        stats=stats,
    )


def _verify_signatures(
    packages: Sequence[MirroredFile], repo: UpstreamRepo, dest: Path, spec_dir: Path, label: str
) -> str:
    try:
        return verify_signatures(
            {f.path: f.local for f in packages},
            repo_label=label,
            keys=[p if p.is_absolute() else spec_dir / p for p in repo.gpg_keys],
            allow_unsigned=repo.allow_unsigned,
        )
    except RejectedPackagesError as exc:
        # A rejected package is not published: remove what this sync put under dest (the
        # store's copies of reused bytes are not ours to delete).
        for item in packages:
            if item.path in exc.rejected and item.local.is_relative_to(dest):
                item.local.unlink(missing_ok=True)
        raise


def _fetch_repomd(fetcher: Fetcher, target: Path, label: str) -> Repomd:
    started = time.monotonic()
    try:
        fetcher.download(REPOMD_HREF, target)
    except NotFoundError as exc:
        raise MirrorError(
            f"mirror {label}: no {REPOMD_HREF} at {fetcher.url_of(REPOMD_HREF)}; the baseurl "
            f"must be the folder that holds repodata/"
        ) from exc
    repomd = read_repomd(target)
    log.info(
        "mirror %s: repomd.xml revision %s lists %d metadata files (%.2f s)",
        label,
        repomd.revision,
        len(repomd.records),
        time.monotonic() - started,
    )
    return repomd


def _primary_href(repomd: Repomd, label: str) -> str:
    record = repomd.record("primary")
    if record is None:
        raise MirrorError(f"mirror {label}: repomd.xml has no primary record; upstream is broken")
    return record.href


def _fetch_metadata(
    fetcher: Fetcher, repomd: Repomd, dest: Path, known_blob: KnownBlob, label: str
) -> list[MirroredFile]:
    """Every file repomd lists (comps, modules, updateinfo, sqlite too), each verified."""
    started = time.monotonic()
    _primary_href(repomd, label)
    files = []
    for record in repomd.records:
        expected = _Expected(record.checksum_type, record.checksum, "repomd.xml")
        mirrored, _ = _obtain(
            fetcher, record.href, dest, "metadata", expected, known_blob, label=label
        )
        files.append(mirrored)
    log.info(
        "mirror %s: %d metadata files verified (%s) in %.2f s",
        label,
        len(files),
        ", ".join(r.type for r in repomd.records),
        time.monotonic() - started,
    )
    return files


def _fetch_installer_tree(
    fetcher: Fetcher, dest: Path, known_blob: KnownBlob, label: str
) -> tuple[InstallerTree, list[MirroredFile]]:
    started = time.monotonic()
    try:
        treeinfo_file, _ = _obtain(fetcher, ".treeinfo", dest, "installer", None, known_blob, label)
    except NotFoundError as exc:
        raise MirrorError(
            f"mirror {label}: installer_tree is set but {fetcher.url_of('.treeinfo')} does not "
            f"exist; set installer_tree on the repo that holds .treeinfo and images/"
        ) from exc
    tree = parse_treeinfo(treeinfo_file.local.read_text(), source=fetcher.url_of(".treeinfo"))
    files = [treeinfo_file]
    try:
        files.append(_obtain(fetcher, ".discinfo", dest, "installer", None, known_blob, label)[0])
    except NotFoundError:
        log.info("mirror %s: no .discinfo upstream (optional)", label)

    for image in tree.images:
        expected = None
        if image in tree.checksums:
            algorithm, _, digest = tree.checksums[image].partition(":")
            expected = _Expected(algorithm.lower(), digest.lower(), ".treeinfo [checksums]")
        else:
            log.warning("mirror %s: %s has no checksum in .treeinfo; not verified", label, image)
        files.append(_obtain(fetcher, image, dest, "installer", expected, known_blob, label)[0])
    log.info(
        "mirror %s: installer tree %s %s (%d files) in %.2f s",
        label,
        tree.release_name,
        tree.release_version,
        len(files),
        time.monotonic() - started,
    )
    return tree, files


def _log_selection(selection: Selection, label: str, allowed_arches: Sequence[str]) -> None:
    if selection.foreign_arch:
        log.warning(
            "mirror %s (%s): skipped %d packages of other arches: %s",
            label,
            ", ".join(allowed_arches),
            len(selection.foreign_arch),
            ", ".join(sorted(p.nevra for p in selection.foreign_arch)),
        )
    if selection.unwanted_name:
        log.info(
            "mirror %s: %d packages left out by include/exclude",
            label,
            len(selection.unwanted_name),
        )
    if selection.superseded:
        log.info(
            "mirror %s: %d older builds left out by keep_newest",
            label,
            len(selection.superseded),
        )


def _fetch_packages(
    fetcher: Fetcher,
    packages: Sequence[PackageEntry],
    dest: Path,
    known_blob: KnownBlob,
    label: str,
    stats: SyncStats,
) -> list[MirroredFile]:
    started = time.monotonic()

    def obtain(package: PackageEntry) -> tuple[MirroredFile, bool]:
        expected = _Expected(package.checksum_type, package.checksum, "primary.xml")
        return _obtain(
            fetcher,
            package.href,
            dest,
            "package",
            expected,
            known_blob,
            label,
            base=package.location_base,
            what=package.nevra,
        )

    with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
        futures = [pool.submit(obtain, package) for package in packages]
    errors = [error for future in futures if (error := future.exception()) is not None]
    for error in errors[1:]:
        log.error("%s", error)
    if errors:
        raise errors[0]

    results = [f.result() for f in futures]
    for mirrored, downloaded in results:
        if downloaded:
            stats.downloaded_packages += 1
            stats.downloaded_bytes += mirrored.size
        else:
            stats.reused_packages += 1
    log.info(
        "mirror %s: %d packages (%d downloaded, %d reused) in %.2f s",
        label,
        len(results),
        stats.downloaded_packages,
        stats.reused_packages,
        time.monotonic() - started,
    )
    return [mirrored for mirrored, _ in results]


def _obtain(
    fetcher: Fetcher,
    href: str,
    dest: Path,
    kind: Kind,
    expected: _Expected | None,
    known_blob: KnownBlob,
    label: str,
    *,
    base: str | None = None,
    what: str | None = None,
) -> tuple[MirroredFile, bool]:
    """Reference the store's copy when it has these bytes, else download and verify.

    Returns (file, downloaded). A download that does not match `expected` is deleted and
    raises ChecksumMismatchError.
    """
    if expected is not None and expected.algorithm == "sha256":
        cached = known_blob(expected.digest)
        if cached is not None:
            return MirroredFile(href, cached, expected.digest, cached.stat().st_size, kind), False

    algorithms = (expected.algorithm,) if expected is not None else ()
    fetched = fetcher.download(href, dest / href, algorithms=algorithms, base=base)
    if expected is not None and fetched.digests[expected.algorithm] != expected.digest:
        fetched.path.unlink()
        raise ChecksumMismatchError(
            f"mirror {label}: {what or href} downloaded from {fetcher.url_of(href, base=base)} "
            f"has {expected.algorithm} {fetched.digests[expected.algorithm]}, but "
            f"{expected.source} expects {expected.digest}; the file was deleted. The upstream "
            f"file is corrupt or its metadata is stale: retry later or report it upstream"
        )
    return MirroredFile(href, fetched.path, fetched.digests["sha256"], fetched.size, kind), True


def _described(path: str, local: Path, kind: Kind) -> MirroredFile:
    digest, size = sha256_file(local)
    return MirroredFile(path, local, digest, size, kind)


def _check_file_name_arches(selection: Selection, label: str) -> None:
    """An arch in a file name must be the arch primary.xml (read from the header) lists;
    checked for skipped packages too, since a mislabelled tree is wrong as a whole."""
    problems = []
    for package in [*selection.kept, *selection.dropped]:
        name_arch = PurePosixPath(package.href).name.removesuffix(".rpm").rsplit(".", 1)[-1]
        if name_arch in KNOWN_ARCHES and name_arch != package.arch:
            problems.append(
                f"{package.href}: file name says arch {name_arch} but the RPM header says "
                f"{package.arch}"
            )
    if problems:
        raise MirrorError(
            f"mirror {label}: {len(problems)} packages have a file name arch that is not their "
            f"header arch:\n" + "\n".join(problems) + "\nthe upstream tree is mislabelled; "
            "report it upstream or exclude these packages"
        )


def _check_headers(
    files: Sequence[MirroredFile], packages: Sequence[PackageEntry], label: str
) -> None:
    """Each RPM's header must be the package primary.xml says it is (name, EVR, arch)."""
    started = time.monotonic()
    problems = []
    for mirrored, package in zip(files, packages, strict=True):
        try:
            header = read_rpm_header(mirrored.local)
        except RpmHeaderError as exc:
            problems.append(f"{package.href}: {exc}")
            continue
        listed = (package.name, package.epoch or "0", package.version, package.release)
        actual = (header.name, header.epoch or "0", header.version, header.release)
        header_arch = "src" if header.is_source else header.arch
        if listed != actual or header_arch != package.arch:
            problems.append(
                f"{package.href}: primary.xml lists {package.nevra} but the RPM header is "
                f"{header.nevra}"
            )
    if problems:
        raise MirrorError(
            f"mirror {label}: {len(problems)} packages are not what primary.xml says:\n"
            + "\n".join(problems)
            + "\nthe upstream repo is inconsistent; report it "
            "upstream or exclude these packages"
        )
    log.info(
        "mirror %s: %d RPM headers match primary.xml (%.2f s)",
        label,
        len(files),
        time.monotonic() - started,
    )
