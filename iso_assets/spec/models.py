"""Pydantic models of product.yaml.

Secrets never live here: the root password hash is named by an environment variable
(`kickstart.root_password_hash_env`) and read at render time. Unknown keys are errors, so a
typo in product.yaml fails loudly instead of being ignored.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iso_assets.partitions import version_key

# Target release -> pykickstart handler name.
KICKSTART_HANDLERS = {"el8": "RHEL8", "el9": "RHEL9", "el10": "RHEL10"}
RPM_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamRepo(Strict):
    """One upstream repository to mirror (BaseOS, AppStream, extras, a vendor repo)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="repo id, also its folder on the ISO")
    baseurl: str = Field(description="http(s):// or file:// URL of the repo (holds repodata/)")
    gpg_keys: list[Path] = Field(
        default_factory=list, description="armored public keys (files) that may sign packages"
    )
    allow_unsigned: bool = Field(
        default=False,
        description="explicit opt-out of signature checks for this repo; recorded in metadata",
    )
    installer_tree: bool = Field(
        default=False, description="this repo's baseurl also holds .treeinfo and images/"
    )
    include: list[str] = Field(default_factory=list, description="fnmatch patterns of names")
    exclude: list[str] = Field(default_factory=list, description="fnmatch patterns of names")
    keep_newest: int | None = Field(
        default=None, ge=1, description="keep only the newest N builds per name.arch"
    )

    @model_validator(mode="after")
    def _signature_policy_is_explicit(self) -> UpstreamRepo:
        if not self.gpg_keys and not self.allow_unsigned:
            raise ValueError(
                f"repo {self.id!r}: no gpg_keys given; list the signing keys or set "
                f"allow_unsigned: true to mirror without signature checks"
            )
        return self


class ProductRpms(Strict):
    """Where the product's own RPMs for a version come from."""

    incoming: str = Field(description="folder (or s3://bucket/prefix) where product RPMs land")
    packages: list[str] = Field(min_length=1, description="names of the product's packages")
    version_from: str | None = Field(
        default=None,
        description="package whose header Version is the product version (default: first)",
    )

    @field_validator("packages")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not RPM_NAME.match(name):
                raise ValueError(f"{name!r} is not an RPM package name")
        return value


class Service(Strict):
    """The product's systemd service."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]+$")
    description: str = "Product service"
    user: str = "root"
    group: str | None = None
    exec_start: str = Field(description="absolute path of the startup script installed in /opt")
    environment: dict[str, str] = Field(default_factory=dict)


class Logrotate(Strict):
    paths: list[str] = Field(min_length=1)
    frequency: Literal["daily", "weekly", "monthly"] = "daily"
    rotate: int = Field(default=7, ge=1)
    compress: bool = True


class RootfsSpec(Strict):
    base_tarball: Path = Field(description="base runtime tarball, relative to product.yaml")
    packages: list[str] = Field(
        default_factory=list, description="upstream packages installed besides the product RPMs"
    )
    install_dir: str = Field(default="/opt/product", description="product install prefix")
    data_dirs: list[str] = Field(default_factory=lambda: ["/var/lib/product/data"])
    config_path: str = "/etc/product.conf"
    config: dict[str, str | int | bool] = Field(default_factory=dict)
    service: Service
    limits: dict[str, int] = Field(
        default_factory=lambda: {"nofile": 65536, "nproc": 4096},
        description="limits.d items for the service user (soft = hard)",
    )
    sysctl: dict[str, str | int] = Field(default_factory=dict)
    logrotate: Logrotate | None = None


class Network(Strict):
    bootproto: Literal["dhcp", "static"] = "dhcp"
    device: str = "link"
    activate: bool = True
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    nameservers: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _static_needs_address(self) -> Network:
        if self.bootproto == "static" and not (self.ip and self.netmask):
            raise ValueError("network.bootproto static needs network.ip and network.netmask")
        return self


class Firewall(Strict):
    enabled: Literal[True] = Field(default=True, description="hardening: the firewall stays on")
    services: list[str] = Field(default_factory=lambda: ["ssh"])
    ports: list[str] = Field(default_factory=list, description="e.g. 8443:tcp")


class LogicalVolume(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    mountpoint: str
    size_mib: int | None = Field(default=None, ge=1)
    grow: bool = False
    fstype: str = "xfs"


class Partitioning(Strict):
    scheme: Literal["lvm"] = "lvm"
    disk: str | None = Field(default=None, description="install disk (default: all disks)")
    boot_size_mib: int = Field(default=1024, ge=256)
    efi_size_mib: int = Field(default=600, ge=100)
    volume_group: str = Field(default="vg_system", pattern=r"^[A-Za-z0-9_]+$")
    logical_volumes: list[LogicalVolume] = Field(
        default_factory=lambda: [
            LogicalVolume(name="swap", mountpoint="swap", size_mib=2048, fstype="swap"),
            LogicalVolume(name="root", mountpoint="/", grow=True),
        ]
    )


class Bootloader(Strict):
    timeout: int = Field(default=5, ge=0)
    append: str = ""


class KickstartSpec(Strict):
    text: bool = True
    keyboard: str = "us"
    lang: str = "en_US.UTF-8"
    timezone: str = "UTC"
    network: Network = Field(default_factory=Network)
    hostname: str = Field(default="localhost", pattern=r"^[A-Za-z0-9.-]+$")
    root_password_hash_env: str = Field(
        default="ISO_ROOT_PASSWORD_HASH",
        description="environment variable holding a crypt(3) hash (never plaintext)",
    )
    selinux: Literal["enforcing"] = Field(default="enforcing", description="hardening: enforcing")
    firewall: Firewall = Field(default_factory=Firewall)
    partitioning: Partitioning = Field(default_factory=Partitioning)
    bootloader: Bootloader = Field(default_factory=Bootloader)
    install_source: Literal["repos", "liveimg"] = "repos"
    packages: list[str] = Field(default_factory=lambda: ["@^minimal-environment"])
    post: str = Field(default="", description="shell lines run in %post (chroot)")
    reboot: bool = True


class IsoSpec(Strict):
    volume_id: str = Field(
        description="label template; {name} {version} {version_id} {arch} are filled in"
    )
    boot_args: list[str] = Field(default_factory=lambda: ["console=tty0", "console=ttyS0,115200"])
    menu_timeout: int = Field(default=5, ge=0, description="seconds before the default entry")
    iso_level: Literal["auto", 2, 3] = "auto"
    efiboot_size_mib: int | None = Field(default=None, ge=1, description="None: sized from payload")


class VmCell(Strict):
    firmware: Literal["seabios", "ovmf"]
    medium: Literal["cd", "usb"]
    required: bool = True

    @property
    def name(self) -> str:
        return f"{self.firmware}-{self.medium}"


def default_vm_matrix() -> list[VmCell]:
    return [
        VmCell(firmware=firmware, medium=medium)
        for firmware in ("seabios", "ovmf")
        for medium in ("cd", "usb")
    ]


class VmTestSpec(Strict):
    """How the ISO is boot-tested in QEMU (the demo boot tree's markers by default)."""

    matrix: list[VmCell] = Field(default_factory=default_vm_matrix, min_length=1)
    success_marker: str = Field(
        default="ISO-ASSETS-KICKSTART-OK",
        description="serial-console text that proves the kickstart was found and ran; for a "
        "real Anaconda install use the kickstart's %post marker ISO-ASSETS-INSTALL-OK",
    )
    failure_markers: list[str] = Field(
        default_factory=lambda: [
            "ISO-ASSETS-FAIL:",
            "Kernel panic",
            "Entering emergency mode",
            "dracut-initqueue[",
            "Traceback (most recent call last)",
        ]
    )
    timeout_seconds: int = Field(default=240, ge=10)
    memory_mib: int = Field(default=1024, ge=256)
    accel: Literal["auto", "kvm", "tcg"] = "auto"
    disk_size_gib: int = Field(default=8, ge=1, description="scratch target disk per cell")


class AllowedVulnerability(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9._:-]+$", description="CVE/GHSA id")
    reason: str = Field(min_length=3)
    expires: date


Severity = Literal["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
DEFAULT_FAIL_ON: tuple[Severity, ...] = ("HIGH", "CRITICAL")


class ScanPolicy(Strict):
    fail_on: list[Severity] = Field(default_factory=lambda: list(DEFAULT_FAIL_ON))
    allow: list[AllowedVulnerability] = Field(default_factory=list)


class ScanSpec(Strict):
    """Trivy scan of the rootfs and the ISO contents."""

    db: str | None = Field(
        default=None,
        description="offline Trivy DB: a cache dir holding db/trivy.db + db/metadata.json "
        "(or s3://bucket/prefix); None scans packages, secrets and SBOM without vulnerabilities",
    )
    max_db_age_days: int = Field(default=7, ge=1)
    scan_iso: bool = True
    policy: ScanPolicy = Field(default_factory=ScanPolicy)
    timeout_seconds: int = Field(default=600, ge=10)


class ProductSpec(Strict):
    """The whole product.yaml."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    release: Literal["el8", "el9", "el10"]
    arch: Literal["x86_64"] = "x86_64"
    source_date_epoch: int = Field(ge=0, description="fixed timestamp for reproducible output")
    upstream: list[UpstreamRepo] = Field(min_length=1)
    product_rpms: ProductRpms
    rootfs: RootfsSpec
    kickstart: KickstartSpec = Field(default_factory=KickstartSpec)
    iso: IsoSpec
    vm_test: VmTestSpec = Field(default_factory=VmTestSpec)
    scan: ScanSpec = Field(default_factory=ScanSpec)
    # Folder holding product.yaml; relative paths in the spec resolve against it.
    spec_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def kickstart_handler(self) -> str:
        return KICKSTART_HANDLERS[self.release]

    @property
    def allowed_arches(self) -> tuple[str, ...]:
        return (self.arch, "noarch")

    @model_validator(mode="after")
    def _unique_repo_ids(self) -> ProductSpec:
        ids = [repo.id for repo in self.upstream]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"upstream repo ids must be unique; repeated: {duplicates}")
        if "product" in ids:
            raise ValueError("upstream repo id 'product' is reserved for the product's own repo")
        if sum(repo.installer_tree for repo in self.upstream) != 1:
            raise ValueError("exactly one upstream repo must set installer_tree: true")
        return self

    def resolve(self, path: Path | str) -> Path:
        """A spec path made absolute against the folder of product.yaml."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else (self.spec_dir / candidate).resolve()

    def volume_id_for(self, version: str) -> str:
        """The ISO volume label of `version` (validated later by the ISO stage)."""
        key = version_key(version)
        return self.iso.volume_id.format(
            name=self.name,
            version=key,
            version_id=re.sub(r"[^A-Za-z0-9]", "-", key).upper(),
            arch=self.arch,
        )

    def section_dump(self, section: str) -> dict[str, object]:
        """A spec section as plain JSON data, for input digests."""
        return self.model_dump(mode="json", include={section})
