"""Dagster resources: the artifact store."""

from resources.store import ArtifactStore

__all__ = ["ArtifactStore"]
