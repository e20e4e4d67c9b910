"""rpm macros that make a Debian host build and install like an EL host.

Debian's rpm defaults differ from EL (see TOOLCHAIN-NOTES): empty %dist, the rpmdb under
~/.rpmdb, gzip payloads, no %_unitdir. These defines are passed on every rpm/rpmbuild call,
so nothing depends on the invoking user's ~/.rpmmacros.
"""

from __future__ import annotations

DIST_TAGS = {"el8": ".el8", "el9": ".el9", "el10": ".el10"}


def el_build_defines(release: str = "el9") -> dict[str, str]:
    """Macros for rpmbuild: EL dist tag, paths, zstd payload, reproducible timestamps."""
    return {
        "dist": DIST_TAGS[release],
        "_unitdir": "/usr/lib/systemd/system",
        "_sharedstatedir": "/var/lib",
        "_localstatedir": "/var",
        "_sysconfdir": "/etc",
        "_prefix": "/usr",
        "_vendor": "redhat",
        "_binary_payload": "w19.zstdio",
        "debug_package": "%{nil}",
        "_build_id_links": "none",
        "use_source_date_epoch_as_buildtime": "1",
        "clamp_mtime_to_source_date_epoch": "1",
        "_buildhost": "iso-assets.build",
        "__gpg": "/usr/bin/gpg",
        "_dbpath": "/var/lib/rpm",
    }


def define_args(defines: dict[str, str]) -> list[str]:
    """`--define 'name value'` pairs for rpm/rpmbuild argv."""
    args: list[str] = []
    for name, value in defines.items():
        args += ["--define", f"{name} {value}"]
    return args
