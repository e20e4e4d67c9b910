"""Render the product overlay (config, systemd unit, startup script, limits, sysctl,
logrotate, tmpfiles) from jinja2 templates into the rootfs tree.

Every value that lands in a file is validated first: a config key becomes a shell variable
(the startup script sources the config), an environment value goes into a systemd
`Environment=` line, a limit must be one both limits.d and systemd know. A bad value fails
here naming its product.yaml field, not at boot.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import jinja2

from iso_assets.errors import RootfsError
from iso_assets.spec.models import RootfsSpec

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCOUNT_NAME = re.compile(r"^[a-z_][a-z0-9_-]*\$?$")
PLAIN_PATH = re.compile(r"^/[A-Za-z0-9_./@+*-]+$")
SYSCTL_KEY = re.compile(r"^[A-Za-z0-9_*-]+([./][A-Za-z0-9_*-]+)*$")
SYSCTL_PRIORITY = "90"  # after the distro's 50-*.conf defaults
UNIT_DIR = "/usr/lib/systemd/system"
WANTS_DIR = "/etc/systemd/system/multi-user.target.wants"
# limits.conf item -> systemd directive (the items both of them understand).
LIMIT_DIRECTIVES = {
    "core": "LimitCORE",
    "cpu": "LimitCPU",
    "data": "LimitDATA",
    "fsize": "LimitFSIZE",
    "locks": "LimitLOCKS",
    "memlock": "LimitMEMLOCK",
    "msgqueue": "LimitMSGQUEUE",
    "nice": "LimitNICE",
    "nofile": "LimitNOFILE",
    "nproc": "LimitNPROC",
    "rss": "LimitRSS",
    "rtprio": "LimitRTPRIO",
    "sigpending": "LimitSIGPENDING",
    "stack": "LimitSTACK",
    "as": "LimitAS",
}


@dataclass(frozen=True)
class OverlayFile:
    path: str  # absolute path inside the rootfs
    content: str
    mode: int


def render_overlay(rootfs: RootfsSpec, tree: Path) -> list[OverlayFile]:
    """Write the overlay into `tree`; return the files written (the enable symlink aside).

    Runs before the RPMs are installed, so a file a product RPM also ships (its own startup
    script, say) ends up as the package's version: see replaced_files.
    """
    files = overlay_files(rootfs)
    for directory in (rootfs.install_dir, *rootfs.data_dirs):
        make_tree_dir(tree, directory, 0o755 if directory == rootfs.install_dir else 0o750)
    for item in files:
        write_tree_file(tree, item)
    unit = f"{UNIT_DIR}/{rootfs.service.name}.service"
    # What `systemctl enable` does, so a liveimg install starts the service too. Relative,
    # so consumers that refuse absolute symlinks (tarfile's data filter) unpack it.
    wants = tree_path(tree, f"{WANTS_DIR}/{rootfs.service.name}.service")
    wants.parent.mkdir(parents=True, exist_ok=True)
    wants.unlink(missing_ok=True)
    wants.symlink_to(os.path.relpath(unit, WANTS_DIR))
    log.info("overlay: %d files rendered for service %s", len(files), rootfs.service.name)
    return files


def replaced_files(tree: Path, files: list[OverlayFile]) -> list[str]:
    """Overlay paths whose content in `tree` is no longer what was rendered (an RPM's now)."""
    replaced = []
    for item in files:
        target = tree / PurePosixPath(item.path).relative_to("/")
        if not target.is_file() or target.read_text(errors="replace") != item.content:
            replaced.append(item.path)
    return replaced


def overlay_files(rootfs: RootfsSpec) -> list[OverlayFile]:
    """The rendered overlay files (pure: validates the spec, renders the templates)."""
    service = rootfs.service
    for field, path in (
        ("rootfs.config_path", rootfs.config_path),
        ("rootfs.install_dir", rootfs.install_dir),
        ("rootfs.service.exec_start", service.exec_start),
        *(("rootfs.data_dirs", d) for d in rootfs.data_dirs),
    ):
        check_plain_path(field, path)
    if PurePosixPath(rootfs.install_dir) not in PurePosixPath(service.exec_start).parents:
        raise RootfsError(
            f"rootfs.service.exec_start {service.exec_start!r} is not under "
            f"rootfs.install_dir {rootfs.install_dir!r}; put the startup script there"
        )
    group = service.group or service.user
    for field, name in (("rootfs.service.user", service.user), ("rootfs.service.group", group)):
        if not ACCOUNT_NAME.match(name):
            raise RootfsError(f"{field} {name!r} is not a valid user/group name")

    values = {
        "service": service,
        "group": group,
        "config_path": rootfs.config_path,
        "exec_start": service.exec_start,
        "main_binary": f"{rootfs.install_dir}/bin/{service.name}",
        "config": config_lines(rootfs.config),
        "environment": environment_lines(service.environment),
        "limits": limit_items(rootfs.limits),
        "limit_directives": limit_directives(rootfs.limits),
        "sysctl": sysctl_items(rootfs.sysctl),
        "data_dirs": rootfs.data_dirs,
        "logrotate": rootfs.logrotate,
    }
    name = service.name
    files = [
        OverlayFile(rootfs.config_path, render("product.conf.j2", values), 0o644),
        OverlayFile(f"{UNIT_DIR}/{name}.service", render("service.unit.j2", values), 0o644),
        OverlayFile(service.exec_start, render("start.sh.j2", values), 0o755),
    ]
    if rootfs.data_dirs:
        files.append(
            OverlayFile(
                f"/usr/lib/tmpfiles.d/{name}.conf", render("tmpfiles.conf.j2", values), 0o644
            )
        )
    if rootfs.limits:
        files.append(
            OverlayFile(
                f"/etc/security/limits.d/{name}.conf", render("limits.conf.j2", values), 0o644
            )
        )
    if rootfs.sysctl:
        files.append(
            OverlayFile(
                f"/etc/sysctl.d/{SYSCTL_PRIORITY}-{name}.conf",
                render("sysctl.conf.j2", values),
                0o644,
            )
        )
    if rootfs.logrotate is not None:
        for path in rootfs.logrotate.paths:
            check_plain_path("rootfs.logrotate.paths", path)
        files.append(OverlayFile(f"/etc/logrotate.d/{name}", render("logrotate.j2", values), 0o644))
    return files


def render(template: str, values: dict[str, object]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return environment.get_template(template).render(values)


def check_plain_path(field: str, path: str) -> None:
    # These paths end up unquoted in shell and unit files: keep them free of blanks/quotes.
    if not PLAIN_PATH.match(path) or ".." in PurePosixPath(path).parts:
        raise RootfsError(
            f"{field} {path!r} must be an absolute path of letters, digits and ._-+@/ only"
        )


def single_line(field: str, value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "\n" in text or "\r" in text:
        raise RootfsError(f"{field} must be one line, got {text!r}")
    return text


def config_lines(config: dict[str, str | int | bool]) -> list[tuple[str, str]]:
    """(key, shell-quoted value) pairs; keys must be shell variable names."""
    lines = []
    for key, value in config.items():
        if not SHELL_NAME.match(key):
            raise RootfsError(
                f"rootfs.config key {key!r} is not a shell variable name (the startup script "
                f"sources the config); use letters, digits and _"
            )
        lines.append((key, shlex.quote(single_line(f"rootfs.config.{key}", value))))
    return lines


def environment_lines(environment: dict[str, str]) -> list[str]:
    """Quoted `KEY=value` assignments for systemd `Environment=` lines."""
    lines = []
    for key, value in environment.items():
        if not SHELL_NAME.match(key):
            raise RootfsError(f"rootfs.service.environment key {key!r} is not a variable name")
        text = single_line(f"rootfs.service.environment.{key}", value)
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
        lines.append(f'"{key}={escaped}"')
    return lines


def limit_items(limits: dict[str, int]) -> list[tuple[str, int]]:
    for item in limits:
        if item not in LIMIT_DIRECTIVES:
            raise RootfsError(
                f"rootfs.limits item {item!r} is unknown; use one of {sorted(LIMIT_DIRECTIVES)}"
            )
    return list(limits.items())


def limit_directives(limits: dict[str, int]) -> list[tuple[str, int]]:
    return [(LIMIT_DIRECTIVES[item], value) for item, value in limit_items(limits)]


def sysctl_items(sysctl: dict[str, str | int]) -> list[tuple[str, str]]:
    items = []
    for key, value in sysctl.items():
        if not SYSCTL_KEY.match(key):
            raise RootfsError(f"rootfs.sysctl key {key!r} is not a sysctl name")
        items.append((key, single_line(f"rootfs.sysctl.{key}", value)))
    return items


def tree_path(tree: Path, path: str) -> Path:
    """`path` (absolute in the rootfs) under `tree`, refusing to leave the tree via symlinks."""
    relative = PurePosixPath(path).relative_to("/")
    target = tree / relative
    root = tree.resolve()
    resolved = Path(os.path.realpath(target.parent))
    if resolved != root and root not in resolved.parents:
        raise RootfsError(f"{path}: its folder resolves to {resolved}, outside the rootfs tree")
    return target


def make_tree_dir(tree: Path, path: str, mode: int) -> None:
    directory = tree_path(tree, path)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, mode)


def write_tree_file(tree: Path, item: OverlayFile) -> None:
    target = tree_path(tree, item.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_text(item.content, encoding="utf-8")
    os.chmod(target, item.mode)
