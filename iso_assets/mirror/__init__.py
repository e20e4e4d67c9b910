"""Mirror upstream RPM repos (a `dnf reposync` peer): metadata, installer tree, packages,
each verified on arrival; packages the store already holds are never downloaded again."""

from iso_assets.mirror.sync import MirroredFile, RepoSnapshot, SyncStats, sync_repo
from iso_assets.mirror.treeinfo import InstallerTree, parse_treeinfo

__all__ = [
    "InstallerTree",
    "MirroredFile",
    "RepoSnapshot",
    "SyncStats",
    "parse_treeinfo",
    "sync_repo",
]
