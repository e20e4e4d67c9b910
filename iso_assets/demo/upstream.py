"""The demo's upstream: a signed, BaseOS-like repo tree built offline from real RPM builds.

Layout under `root` (serve `root` over HTTP; each repo's URL is `<served root>/<repo id>/`):

    RPM-GPG-KEY-acme-demo            armored public key that signed every package
    BaseOS/                          what .../9/BaseOS/x86_64/os/ is on a mirror
        .treeinfo                    productmd 1.2, sha256 [checksums] of the images
        images/pxeboot/vmlinuz       from the boot tree (Debian kernel)
        images/pxeboot/initrd.img    from the boot tree (busybox stage 1)
        images/install.img           stand-in stage2
        Packages/<letter>/*.rpm      stand-ins for EL packages, signed
        repodata/                    createrepo_c: primary/filelists/other + group (comps)
    AppStream/
        Packages/<letter>/*.rpm
        repodata/                    + group (comps) + modules (demo-web:1)

The spec files, comps.xml and modules.yaml are in examples/demo/upstream/<repo id>/. The
signing key is generated once (gpg, no passphrase) into a private GNUPGHOME beside `root`,
never inside it, so the secret key is not served; rebuilding with the same key gives the same
bytes (RSA signatures with a fixed signing time are deterministic).
"""

from __future__ import annotations

import configparser
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from iso_assets.artifacts import digest_of, sha256_file
from iso_assets.demo.base_runtime import (
    OS_NAME,
    OS_VERSION_ID,
)
from iso_assets.demo.boottree import BootTree
from iso_assets.demo.stamp import is_up_to_date, stamp_path, write_stamp
from iso_assets.errors import IsoAssetsError, RepodataError
from iso_assets.process import run_tool, tool_version
from iso_assets.rpm.build import build_rpms

log = logging.getLogger(__name__)

CODE_VERSION = "upstream-1"
SOURCE_DIR = Path(__file__).resolve().parents[2] / "examples" / "demo" / "upstream"
REPO_IDS = ("BaseOS", "AppStream")
INSTALLER_TREE_REPO = "BaseOS"
KEY_FILE_NAME = "RPM-GPG-KEY-acme-demo"
DEMO_SIGNING_KEY = SOURCE_DIR.parent / "keys" / "demo-signing-key.asc"
TARGET_ARCH = "x86_64"
# The venv's createrepo_c (1.x) picks up modules.yaml from the repo folder; Debian's 0.17
# does not, so the one beside the interpreter is preferred.
VENV_BIN = Path(sys.executable).parent


class UpstreamError(IsoAssetsError):
    """Raised when the demo upstream cannot be built (sources missing, signing failed)."""


@dataclass(frozen=True)
class DemoUpstream:
    """What build_upstream made: repo folders by id, the public key and its fingerprint."""

    root: Path
    repos: dict[str, Path]
    gpg_key: Path
    key_fingerprint: str
    packages: dict[str, list[str]] = field(default_factory=dict)
    installer_tree_repo: str = INSTALLER_TREE_REPO

    def repo_url(self, served_root_url: str, repo_id: str) -> str:
        """The baseurl of one repo when `root` is served at `served_root_url`."""
        return f"{served_root_url.rstrip('/')}/{repo_id}"


def build_upstream(
    root: Path,
    *,
    source_date_epoch: int,
    boot_tree: BootTree,
    gnupg_home: Path | None = None,
    source_dir: Path = SOURCE_DIR,
) -> DemoUpstream:
    """Build the signed demo upstream under `root`; return where everything is.

    `gnupg_home` (default `<root>.gnupg-<key digest>`, beside `root`) holds the imported
    demo signing key; the digest in its name means a changed key file gets a fresh keyring.
    Cached: when the stamp beside `root` records the same input digest (sources, boot tree
    files, source_date_epoch, tool versions, signing key), nothing is rebuilt.
    Raises UpstreamError, RepodataError or ToolError.
    """
    key_digest = sha256_file(DEMO_SIGNING_KEY)[0][:12]
    gnupg_home = gnupg_home or root.with_name(f"{root.name}.gnupg-{key_digest}")
    sources = {repo_id: source_dir / repo_id for repo_id in REPO_IDS}
    for repo_id, folder in sources.items():
        if not sorted(folder.glob("*.spec")) or not (folder / "comps.xml").is_file():
            raise UpstreamError(f"{folder}: the demo {repo_id} specs or comps.xml are missing")

    try:
        return build_signed_upstream(
            root, sources, gnupg_home, boot_tree, source_date_epoch=source_date_epoch
        )
    finally:
        # gpg starts an agent per GNUPGHOME; no process may outlive the build.
        stop_gpg_agent(gnupg_home)


def build_signed_upstream(
    root: Path,
    sources: dict[str, Path],
    gnupg_home: Path,
    boot_tree: BootTree,
    *,
    source_date_epoch: int,
) -> DemoUpstream:
    started = time.monotonic()
    fingerprint = ensure_signing_key(gnupg_home, source_date_epoch=source_date_epoch)
    input_digest = digest_of(
        {
            "code": CODE_VERSION,
            "sources": {
                f"{repo_id}/{path.name}": path.read_text()
                for repo_id, folder in sources.items()
                for path in sorted(folder.iterdir())
                if path.is_file()
            },
            "boot_tree": {
                name: sha256_file(path)[0]
                for name, path in (
                    ("vmlinuz", boot_tree.vmlinuz),
                    ("initrd", boot_tree.initrd),
                    ("stage2", boot_tree.stage2),
                )
            },
            "source_date_epoch": source_date_epoch,
            "key": fingerprint,
            "rpmbuild": tool_version(["rpmbuild", "--version"]),
            "createrepo_c": tool_version([createrepo_c_command(), "--version"]),
        }
    )
    stamp = stamp_path(root)
    if is_up_to_date(root, stamp, input_digest):
        log.info("demo upstream %s reused: input digest unchanged", root)
        return upstream_from_stamp(root, stamp, fingerprint)

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    key_file = root / KEY_FILE_NAME
    key_file.write_bytes(export_public_key(gnupg_home, fingerprint))

    packages: dict[str, list[str]] = {}
    repos: dict[str, Path] = {}
    for repo_id, folder in sources.items():
        repo_dir = root / repo_id
        rpms = build_repo_packages(
            folder, repo_dir, key_file=key_file, source_date_epoch=source_date_epoch
        )
        sign_rpms(rpms, gnupg_home, fingerprint, source_date_epoch=source_date_epoch)
        for rpm in rpms:
            os.utime(rpm, (source_date_epoch, source_date_epoch))
        make_repodata(repo_dir, folder, source_date_epoch=source_date_epoch)
        packages[repo_id] = sorted(str(rpm.relative_to(repo_dir)) for rpm in rpms)
        repos[repo_id] = repo_dir

    write_installer_tree(root / INSTALLER_TREE_REPO, boot_tree, source_date_epoch=source_date_epoch)
    write_stamp(stamp, input_digest, packages=packages)
    log.info(
        "demo upstream %s built in %.2f s: %s",
        root,
        time.monotonic() - started,
        ", ".join(f"{repo_id} {len(names)} packages" for repo_id, names in packages.items()),
    )
    return DemoUpstream(root, repos, key_file, fingerprint, packages)


def upstream_from_stamp(root: Path, stamp: Path, fingerprint: str) -> DemoUpstream:
    packages = json.loads(stamp.read_text()).get("packages", {})
    repos = {repo_id: root / repo_id for repo_id in packages}
    return DemoUpstream(root, repos, root / KEY_FILE_NAME, fingerprint, packages)


def build_repo_packages(
    spec_folder: Path, repo_dir: Path, *, key_file: Path, source_date_epoch: int
) -> list[Path]:
    """Build every spec of one repo into `repo_dir/Packages/<first letter>/`."""
    built: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="demo-upstream-rpms-") as tmp:
        for spec in sorted(spec_folder.glob("*.spec")):
            built += build_rpms(
                spec,
                Path(tmp),
                source_date_epoch=source_date_epoch,
                target=TARGET_ARCH,
                sources=[key_file],
            )
        placed = []
        for rpm in built:
            dest = repo_dir / "Packages" / rpm.name[0].lower() / rpm.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(rpm, dest)
            placed.append(dest)
    return sorted(placed)


def gpg_argv(gnupg_home: Path, *args: str) -> list[str]:
    return ["gpg", "--homedir", str(gnupg_home), "--batch", "--no-tty", *args]


def ensure_signing_key(gnupg_home: Path, *, source_date_epoch: int) -> str:
    """Fingerprint of the demo signing key in `gnupg_home`, importing it on first use.

    The key is committed (examples/demo/keys/demo-signing-key.asc): RSA signatures made with a
    fixed key at a fixed time are deterministic, so the demo ISO has the same sha256 on every
    machine. It signs only the demo's stand-in upstream and must never sign anything real.
    """
    fingerprint = secret_key_fingerprint(gnupg_home)
    if fingerprint:
        return fingerprint
    gnupg_home.mkdir(parents=True, exist_ok=True)
    gnupg_home.chmod(0o700)
    log.info("importing the demo signing key into %s (demo only)", gnupg_home)
    run_tool(
        gpg_argv(
            gnupg_home,
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            f"--faked-system-time={source_date_epoch}!",
            "--import",
            str(DEMO_SIGNING_KEY),
        ),
        timeout=60,
    )
    fingerprint = secret_key_fingerprint(gnupg_home)
    if not fingerprint:
        raise UpstreamError(f"gpg imported no secret key from {DEMO_SIGNING_KEY} into {gnupg_home}")
    return fingerprint


def secret_key_fingerprint(gnupg_home: Path) -> str:
    """Fingerprint of the first secret key in `gnupg_home`, '' when there is none."""
    if not gnupg_home.is_dir():
        return ""
    listing = run_tool(
        gpg_argv(gnupg_home, "--with-colons", "--list-secret-keys"), check=False
    ).stdout.decode()
    for line in listing.splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    return ""


def export_public_key(gnupg_home: Path, fingerprint: str) -> bytes:
    key = run_tool(gpg_argv(gnupg_home, "--armor", "--export", fingerprint)).stdout
    if b"BEGIN PGP PUBLIC KEY BLOCK" not in key:
        raise UpstreamError(f"gpg exported no public key for {fingerprint} from {gnupg_home}")
    return key


def stop_gpg_agent(gnupg_home: Path) -> None:
    if not gnupg_home.is_dir():
        return
    run_tool(["gpgconf", "--homedir", str(gnupg_home), "--kill", "gpg-agent"], check=False)


def rpmsign_argv(
    rpms: list[Path], gnupg_home: Path, fingerprint: str, *, source_date_epoch: int
) -> list[str]:
    """rpmsign with Debian's gpg (rpm defaults to the absent gpg2) and a fixed signing time."""
    return [
        "rpmsign",
        "--addsign",
        "--define",
        f"_gpg_path {gnupg_home}",
        "--define",
        f"_gpg_name {fingerprint}",
        "--define",
        "__gpg /usr/bin/gpg",
        "--define",
        f"_gpg_sign_cmd_extra_args --batch --no-tty --faked-system-time={source_date_epoch}!",
        *(str(rpm) for rpm in rpms),
    ]


def sign_rpms(
    rpms: list[Path], gnupg_home: Path, fingerprint: str, *, source_date_epoch: int
) -> None:
    run_tool(
        rpmsign_argv(rpms, gnupg_home, fingerprint, source_date_epoch=source_date_epoch),
        env={"GNUPGHOME": str(gnupg_home)},
        timeout=300,
    )


def createrepo_c_command() -> str:
    venv_tool = VENV_BIN / "createrepo_c"
    return str(venv_tool) if venv_tool.is_file() else "createrepo_c"


def createrepo_argv(repo_dir: Path, comps: Path, *, source_date_epoch: int) -> list[str]:
    """createrepo_c with fixed timestamps; `--compatibility` gives gzip'd primary/filelists/
    other and an uncompressed `group` record that every dnf/yum reads (1.x alone writes
    only a compressed comps), `--no-database` drops the sqlite files it would add."""
    return [
        createrepo_c_command(),
        "--revision",
        str(source_date_epoch),
        "--set-timestamp-to-revision",
        "--compatibility",
        "--no-database",
        "--groupfile",
        str(comps),
        "--workers",
        "1",
        str(repo_dir),
    ]


def make_repodata(repo_dir: Path, source_folder: Path, *, source_date_epoch: int) -> None:
    """repodata/ for one repo: packages, comps as `group`, modules.yaml as `modules`.

    createrepo_c 1.x takes modules.yaml from the repo folder (stamping the fixed revision
    time, which modifyrepo_c cannot); the copy is removed afterwards.
    """
    modules = source_folder / "modules.yaml"
    staged_modules = repo_dir / "modules.yaml"
    if modules.is_file():
        shutil.copyfile(modules, staged_modules)
    try:
        run_tool(
            createrepo_argv(
                repo_dir, source_folder / "comps.xml", source_date_epoch=source_date_epoch
            ),
            timeout=300,
        )
    finally:
        staged_modules.unlink(missing_ok=True)
    repomd = (repo_dir / "repodata" / "repomd.xml").read_text()
    if modules.is_file() and 'type="modules"' not in repomd:
        raise RepodataError(
            f"{repo_dir}/repodata/repomd.xml has no modules record: {createrepo_c_command()} "
            f"did not pick up modules.yaml (createrepo_c >= 1.0 is needed, as in the venv)"
        )
    if 'type="group"' not in repomd:
        raise RepodataError(f"{repo_dir}/repodata/repomd.xml has no group (comps) record")
    for path in (repo_dir / "repodata").iterdir():
        os.utime(path, (source_date_epoch, source_date_epoch))


def write_installer_tree(repo_dir: Path, boot_tree: BootTree, *, source_date_epoch: int) -> Path:
    """Copy the boot files into images/ and write .treeinfo; return the .treeinfo path."""
    images = {
        "images/pxeboot/vmlinuz": boot_tree.vmlinuz,
        "images/pxeboot/initrd.img": boot_tree.initrd,
        "images/install.img": boot_tree.stage2,
    }
    checksums = {}
    for relative, source in images.items():
        dest = repo_dir / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        os.utime(dest, (source_date_epoch, source_date_epoch))
        checksums[relative] = sha256_file(dest)[0]
    treeinfo = repo_dir / ".treeinfo"
    treeinfo.write_text(treeinfo_text(checksums, timestamp=source_date_epoch))
    os.utime(treeinfo, (source_date_epoch, source_date_epoch))
    return treeinfo


def treeinfo_text(checksums: dict[str, str], *, timestamp: int, variant: str = "BaseOS") -> str:
    """A productmd 1.2 .treeinfo for a BaseOS-style tree whose repo is the tree itself."""
    sections: dict[str, dict[str, str]] = {
        "checksums": {path: f"sha256:{digest}" for path, digest in sorted(checksums.items())},
        "general": {
            "arch": TARGET_ARCH,
            "family": OS_NAME,
            "name": f"{OS_NAME} {OS_VERSION_ID}",
            "packagedir": "Packages",
            "platforms": TARGET_ARCH,
            "repository": ".",
            "timestamp": str(timestamp),
            "variant": variant,
            "variants": variant,
            "version": OS_VERSION_ID,
        },
        "header": {"type": "productmd.treeinfo", "version": "1.2"},
        "images-x86_64": {
            "initrd": "images/pxeboot/initrd.img",
            "kernel": "images/pxeboot/vmlinuz",
        },
        "media": {"discnum": "1", "totaldiscs": "1"},
        "release": {"name": OS_NAME, "short": "Rocky", "version": OS_VERSION_ID},
        "stage2": {"mainimage": "images/install.img"},
        "tree": {
            "arch": TARGET_ARCH,
            "build_timestamp": str(timestamp),
            "platforms": TARGET_ARCH,
            "variants": variant,
        },
        f"variant-{variant}": {
            "id": variant,
            "name": variant,
            "packages": "Packages",
            "repository": ".",
            "type": "variant",
            "uid": variant,
        },
    }
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_dict(sections)
    text = io.StringIO()
    text.write("; iso-assets demo installer tree: stand-in packages and a Debian kernel,\n")
    text.write("; shaped like a Rocky Linux 9 BaseOS tree. Not a Rocky Linux release.\n")
    parser.write(text)
    return text.getvalue()
