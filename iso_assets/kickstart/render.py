"""Render ks.cfg for one product version from product.yaml's `kickstart` section.

The output depends only on its inputs (no dates, no host facts), so the same spec, version,
repos and hash give the same bytes, and the kickstart asset's digest is stable. The root
password hash comes from the environment variable the spec names, never from the spec file.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

import jinja2

from iso_assets.errors import KickstartError
from iso_assets.kickstart.passwords import HASH_HINT, is_crypt_hash
from iso_assets.kickstart.sections import SECTION_NAMES
from iso_assets.spec.models import KickstartSpec, LogicalVolume, ProductSpec

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "ks.cfg.j2"
# Anaconda mounts the install media (found via inst.stage2=hd:LABEL=...) here.
MEDIA_ROOT = "/run/install/repo"
PRODUCT_REPO_ID = "product"
PV_NAME = "pv.01"
# The line the installed system's last %post prints on the serial console (ttyS0). The VM
# test treats a serial log containing `install_marker(name, version)` as a passed install.
INSTALL_OK_MARKER = "ISO-ASSETS-INSTALL-OK"
MARKER_VERSION = re.compile(r"^[A-Za-z0-9._+~-]+$")


def install_marker(product: str, version: str) -> str:
    return f"{INSTALL_OK_MARKER} product={product} version={version}"


def root_password_hash_from_env(spec: ProductSpec, environ: Mapping[str, str] | None = None) -> str:
    """The root password hash from the variable `spec.kickstart.root_password_hash_env`.

    Raises KickstartError naming the variable when it is unset or empty, or when its value is
    not a crypt(3) hash; the value itself is never put into a message.
    """
    env = os.environ if environ is None else environ
    name = spec.kickstart.root_password_hash_env
    value = env.get(name, "").strip()
    if not value:
        raise KickstartError(
            f"environment variable {name} (kickstart.root_password_hash_env) is not set; "
            f"export it with a crypt(3) hash of the root password ({HASH_HINT})"
        )
    if not is_crypt_hash(value):
        raise KickstartError(
            f"environment variable {name} (kickstart.root_password_hash_env) does not hold a "
            f"crypt(3) hash (value not shown); hashed passwords only: {HASH_HINT}"
        )
    return value


def _check_post(post: str) -> None:
    # A section keyword inside the product's script would end %post early.
    for number, line in enumerate(post.splitlines(), start=1):
        first = line.split()[:1]
        if first and (first[0] == "%end" or first[0] in SECTION_NAMES):
            raise KickstartError(
                f"kickstart.post line {number} starts with {first[0]!r}, which would end the "
                f"%post section; indent-proof it (e.g. quote it) or remove it"
            )


def _ks_word(value: str) -> str:
    """`value` as one kickstart word (kickstart lines are split with shell rules)."""
    return shlex.quote(value)


def _network_options(ks: KickstartSpec) -> list[str]:
    net = ks.network
    options = [f"--bootproto={net.bootproto}", f"--device={_ks_word(net.device)}"]
    if net.bootproto == "static":
        options += [f"--ip={net.ip}", f"--netmask={net.netmask}"]
        if net.gateway:
            options.append(f"--gateway={net.gateway}")
    if net.nameservers:
        options.append(f"--nameserver={','.join(net.nameservers)}")
    if net.activate:
        options.append("--activate")
    options.append(f"--hostname={ks.hostname}")
    return options


def _firewall_options(ks: KickstartSpec) -> list[str]:
    options = ["--enabled"]
    if ks.firewall.services:
        options.append(f"--service={','.join(ks.firewall.services)}")
    if ks.firewall.ports:
        options.append(f"--port={','.join(ks.firewall.ports)}")
    return options


def _logvol_line(volume: LogicalVolume, volume_group: str) -> str:
    if volume.size_mib is None and not volume.grow:
        raise KickstartError(
            f"kickstart.partitioning.logical_volumes {volume.name!r}: give size_mib, grow, "
            f"or both (Anaconda needs a size for every logical volume)"
        )
    words = [
        "logvol",
        volume.mountpoint,
        f"--vgname={volume_group}",
        f"--name={volume.name}",
        f"--fstype={volume.fstype}",
        f"--size={volume.size_mib or 1}",
    ]
    if volume.grow:
        words.append("--grow")
    return " ".join(words)


def _partition_lines(ks: KickstartSpec) -> list[str]:
    parts = ks.partitioning
    on_disk = [f"--ondisk={parts.disk}"] if parts.disk else []
    # One kickstart serves BIOS and UEFI boots, so the firmware-specific partition comes from
    # reqpart (biosboot on BIOS, /boot/efi on UEFI, sized by Anaconda: 600 MiB ESP on EL9),
    # not from a fixed `part /boot/efi`; efi_size_mib is therefore not used here.
    lines = [
        "reqpart",
        " ".join(["part /boot", "--fstype=xfs", f"--size={parts.boot_size_mib}", *on_disk]),
        " ".join([f"part {PV_NAME}", "--size=1", "--grow", *on_disk]),
        f"volgroup {parts.volume_group} {PV_NAME}",
    ]
    lines += [_logvol_line(volume, parts.volume_group) for volume in parts.logical_volumes]
    return lines


def _bootloader_options(ks: KickstartSpec) -> list[str]:
    options = [f"--timeout={ks.bootloader.timeout}"]
    if ks.bootloader.append.strip():
        options.append(f"--append={_ks_word(ks.bootloader.append.strip())}")
    return options


def _repo_urls(repo_ids: list[str]) -> list[tuple[str, str]]:
    ids = list(repo_ids)
    if len(set(ids)) != len(ids):
        raise KickstartError(f"repo ids for the kickstart are repeated: {ids}")
    if PRODUCT_REPO_ID not in ids:
        log.info("adding repo %r: the product's own packages are installed from it", "product")
        ids.append(PRODUCT_REPO_ID)
    if len(ids) < 2:
        raise KickstartError(
            "no upstream repo ids given for the kickstart's install source; pass the on-media "
            "repo ids (the installer-tree repo first)"
        )
    return [(repo_id, f"file://{MEDIA_ROOT}/{repo_id}") for repo_id in ids]


def _package_lines(spec: ProductSpec) -> list[str]:
    lines: list[str] = []
    for item in [*spec.kickstart.packages, *spec.product_rpms.packages]:
        if item not in lines:
            lines.append(item)
    return lines


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_kickstart(
    spec: ProductSpec,
    *,
    version: str,
    volume_id: str,
    repo_ids: list[str],
    root_password_hash: str,
    rootfs_image: str | None,
) -> str:
    """ks.cfg text for `version` of the product.

    `repo_ids`: the repo folders on the media, the installer-tree repo first (the `url`
    source); `product` is added when missing. `rootfs_image`: media-relative path of the
    rootfs tarball, required when `kickstart.install_source` is `liveimg`.
    Raises KickstartError for a hash that is not crypt(3), a missing rootfs image, or a
    partitioning the installer cannot apply.
    """
    started = time.monotonic()
    ks = spec.kickstart
    if not MARKER_VERSION.match(version):
        raise KickstartError(
            f"version {version!r} cannot go into the install marker; use a partition key "
            f"made of letters, digits and . _ + ~ -"
        )
    _check_post(ks.post)
    if not is_crypt_hash(root_password_hash):
        raise KickstartError(
            f"root password hash for {spec.name} {version} is not a crypt(3) hash (value not "
            f"shown); {HASH_HINT}"
        )

    liveimg: str | None = None
    repo_urls: list[tuple[str, str]] = []
    if ks.install_source == "liveimg":
        if not rootfs_image:
            raise KickstartError(
                f"kickstart.install_source is liveimg but no rootfs image was given for "
                f"{spec.name} {version}; pass the tarball's path on the media"
            )
        if any(ch.isspace() or ch in "\"'$#" for ch in rootfs_image):
            raise KickstartError(
                f"rootfs image path {rootfs_image!r} must not hold spaces, quotes, '$' or '#' "
                f"(it becomes a file:// URL in the kickstart)"
            )
        liveimg = f"file://{MEDIA_ROOT}/{rootfs_image.lstrip('/')}"
    else:
        repo_urls = _repo_urls(repo_ids)

    context = {
        "product": spec.name,
        "version": version,
        "handler": spec.kickstart_handler,
        "volume_id": volume_id,
        "media_root": MEDIA_ROOT,
        "text_mode": ks.text,
        "keyboard": _ks_word(ks.keyboard),
        "lang": _ks_word(ks.lang),
        "timezone": _ks_word(ks.timezone),
        "network_options": _network_options(ks),
        "root_password_hash": root_password_hash,
        "firewall_options": _firewall_options(ks),
        "clearpart_options": ["--all", "--initlabel"]
        + ([f"--drives={ks.partitioning.disk}"] if ks.partitioning.disk else []),
        "disk": ks.partitioning.disk,
        "partition_lines": _partition_lines(ks),
        "bootloader_options": _bootloader_options(ks),
        "liveimg": liveimg,
        "repo_urls": repo_urls,
        "packages": _package_lines(spec),
        "post": ks.post.strip("\n"),
        "marker": install_marker(spec.name, version),
        "finish": "reboot" if ks.reboot else "poweroff",
    }
    text = _environment().get_template(TEMPLATE_NAME).render(context)
    log.info(
        "rendered kickstart for %s %s (%s, %d bytes) in %.3fs",
        spec.name,
        version,
        ks.install_source,
        len(text),
        time.monotonic() - started,
    )
    return text
