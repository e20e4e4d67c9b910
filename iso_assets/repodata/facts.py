"""What the repos going on an ISO offer: package names, comps groups and environments.

The kickstart stage resolves `%packages` against these facts; they are read from the
repodata itself (primary + group metadata), never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RepoFacts:
    """Facts of one repo (id as on the ISO)."""

    repo_id: str
    packages: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    environments: set[str] = field(default_factory=set)
    has_group_metadata: bool = False


@dataclass
class MediaFacts:
    """Facts of every repo that goes on the ISO for one product version."""

    repos: list[RepoFacts] = field(default_factory=list)

    def has_package(self, name: str) -> bool:
        return any(name in repo.packages for repo in self.repos)

    def has_group(self, group_id: str) -> bool:
        return any(group_id in repo.groups for repo in self.repos)

    def has_environment(self, env_id: str) -> bool:
        return any(env_id in repo.environments for repo in self.repos)

    def repos_without_groups(self) -> list[str]:
        return [repo.repo_id for repo in self.repos if not repo.has_group_metadata]


def media_facts_to_json(media: MediaFacts) -> dict[str, object]:
    """Plain JSON form (sorted lists), stored beside the repodata for the kickstart stage."""
    return {
        "repos": [
            {
                "repo_id": repo.repo_id,
                "packages": sorted(repo.packages),
                "groups": sorted(repo.groups),
                "environments": sorted(repo.environments),
                "has_group_metadata": repo.has_group_metadata,
            }
            for repo in media.repos
        ]
    }


def media_facts_from_json(document: dict[str, object]) -> MediaFacts:
    repos = document["repos"]
    assert isinstance(repos, list)
    return MediaFacts(
        repos=[
            RepoFacts(
                repo_id=item["repo_id"],
                packages=set(item["packages"]),
                groups=set(item["groups"]),
                environments=set(item["environments"]),
                has_group_metadata=item["has_group_metadata"],
            )
            for item in repos
        ]
    )
