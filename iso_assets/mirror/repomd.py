"""Parse repomd.xml and primary.xml (any compression createrepo_c knows) into typed records."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import createrepo_c as cr
from lxml import etree

from iso_assets.errors import MirrorError

REPO_NS = "{http://linux.duke.edu/metadata/repo}"
COMMON_NS = "{http://linux.duke.edu/metadata/common}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


class RepoMetadataError(MirrorError):
    """Raised when repomd.xml or primary.xml is unreadable or lacks a required element."""


@dataclass(frozen=True)
class RepomdRecord:
    """One <data type=...> entry of repomd.xml."""

    type: str
    href: str
    checksum_type: str
    checksum: str
    open_checksum_type: str | None
    open_checksum: str | None
    size: int | None


@dataclass(frozen=True)
class Repomd:
    revision: str | None
    records: list[RepomdRecord]

    def record(self, data_type: str) -> RepomdRecord | None:
        return next((r for r in self.records if r.type == data_type), None)


@dataclass(frozen=True)
class PackageEntry:
    """One <package> of primary.xml: what the mirror needs to fetch and verify it."""

    name: str
    epoch: str
    version: str
    release: str
    arch: str
    href: str
    checksum_type: str
    checksum: str
    size: int
    location_base: str | None = None

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch not in ("", "0") else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"

    @property
    def evr(self) -> tuple[str, str, str]:
        return (self.epoch, self.version, self.release)


def normalise_checksum_type(name: str) -> str:
    """hashlib's name for a repodata checksum type ("sha" is what yum called sha1)."""
    lowered = name.lower()
    return "sha1" if lowered == "sha" else lowered


def check_relative_href(href: str, *, source: str) -> str:
    """Refuse hrefs that would escape the repo folder (absolute or with `..`)."""
    path = PurePosixPath(href)
    if not href or path.is_absolute() or ".." in path.parts:
        raise RepoMetadataError(
            f"{source}: location href {href!r} is not a path inside the repo; refusing it"
        )
    return href


def parse_repomd(content: bytes, *, source: str = "repomd.xml") -> Repomd:
    """Every <data> record of a repomd.xml document; raises RepoMetadataError if malformed."""
    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError as exc:
        raise RepoMetadataError(f"{source}: not valid XML ({exc})") from exc
    if root.tag != f"{REPO_NS}repomd":
        raise RepoMetadataError(f"{source}: root element is {root.tag}, expected repomd")

    records = []
    for data in root.iter(f"{REPO_NS}data"):
        data_type = data.get("type", "")
        location = data.find(f"{REPO_NS}location")
        checksum = data.find(f"{REPO_NS}checksum")
        if location is None or checksum is None or not checksum.text:
            raise RepoMetadataError(f"{source}: <data type={data_type!r}> lacks location/checksum")
        open_checksum = data.find(f"{REPO_NS}open-checksum")
        size = data.findtext(f"{REPO_NS}size")
        records.append(
            RepomdRecord(
                type=data_type,
                href=check_relative_href(location.get("href", ""), source=source),
                checksum_type=normalise_checksum_type(checksum.get("type", "sha256")),
                checksum=checksum.text.strip(),
                open_checksum_type=(
                    normalise_checksum_type(open_checksum.get("type", "sha256"))
                    if open_checksum is not None
                    else None
                ),
                open_checksum=(
                    open_checksum.text.strip()
                    if open_checksum is not None and open_checksum.text
                    else None
                ),
                size=int(size) if size else None,
            )
        )
    revision = root.findtext(f"{REPO_NS}revision")
    return Repomd(revision=revision.strip() if revision else None, records=records)


def read_repomd(path: Path) -> Repomd:
    return parse_repomd(path.read_bytes(), source=str(path))


def parse_primary(path: Path) -> list[PackageEntry]:
    """Package entries of a primary.xml file, plain or gz/bz2/xz/zst compressed.

    zchunk (`primary_zck`) is not readable: the createrepo_c wheel is built without it; every
    repo that has one also lists a plain `primary` record.
    """
    with tempfile.TemporaryDirectory(prefix="primary-") as tmp:
        plain = Path(tmp) / "primary.xml"
        try:
            cr.decompress_file(str(path), str(plain), cr.AUTO_DETECT_COMPRESSION)
        except Exception as exc:  # createrepo_c raises its own CreaterepoCError
            raise RepoMetadataError(f"{path}: cannot decompress ({exc})") from exc
        return _parse_plain_primary(plain, source=str(path))


def _parse_plain_primary(plain: Path, *, source: str) -> list[PackageEntry]:
    packages = []
    try:
        # iterparse keeps memory flat for primaries with tens of thousands of packages.
        for _, element in etree.iterparse(str(plain), tag=f"{COMMON_NS}package"):
            packages.append(_package_entry(element, source=source))
            element.clear()
    except etree.XMLSyntaxError as exc:
        raise RepoMetadataError(f"{source}: not valid XML ({exc})") from exc
    return packages


def _package_entry(element: etree._Element, *, source: str) -> PackageEntry:
    name = element.findtext(f"{COMMON_NS}name")
    arch = element.findtext(f"{COMMON_NS}arch")
    version = element.find(f"{COMMON_NS}version")
    checksum = element.find(f"{COMMON_NS}checksum")
    location = element.find(f"{COMMON_NS}location")
    size = element.find(f"{COMMON_NS}size")
    if (
        name is None
        or arch is None
        or version is None
        or location is None
        or checksum is None
        or not (checksum.text or "").strip()
    ):
        raise RepoMetadataError(f"{source}: package {name or '?'} lacks a required element")
    return PackageEntry(
        name=name,
        epoch=version.get("epoch") or "0",
        version=version.get("ver", ""),
        release=version.get("rel", ""),
        arch=arch,
        href=check_relative_href(location.get("href", ""), source=source),
        checksum_type=normalise_checksum_type(checksum.get("type", "sha256")),
        checksum=(checksum.text or "").strip(),
        size=int(size.get("package", "0")) if size is not None else 0,
        location_base=location.get(XML_BASE),
    )
