"""Sensor `upstream_repo_changes` against a fake upstream on loopback (case dag02-sensor-timeout):
one repomd.xml per repo and tick, never primary.xml, a cursor whose size ignores package count."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from dagster import Definitions, build_sensor_context, instance_for_test

from iso_assets.assets import ALL_ASSETS
from iso_assets.jobs import ALL_JOBS
from iso_assets.partitions import PARTITIONS_NAME
from iso_assets.paths import DEMO_SPEC
from resources.product import ProductSpecResource
from sensors.upstream import build_upstream_sensor

REPOS = ["BaseOS", "AppStream", "CRB", "extras"]
BIG = 50_000
PACKAGE = (
    '<package type="rpm"><name>pkg{i}</name><arch>x86_64</arch>'
    '<version epoch="0" ver="1.0" rel="1.el9"/><checksum type="sha256" pkgid="YES">{sha}'
    '</checksum><location href="Packages/pkg{i}-1.0-1.el9.x86_64.rpm"/></package>\n'
)


@dataclass
class Requests:
    paths: list[str] = field(default_factory=list)
    bytes: int = 0


@contextlib.contextmanager
def counting_server(root: Path) -> Iterator[tuple[str, Requests]]:
    """Serve `root` on 127.0.0.1 and record every GET path and the bytes served."""
    seen = Requests()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.paths.append(self.path)
            local = Path(self.translate_path(self.path))
            if local.is_file():
                seen.bytes += local.stat().st_size
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_primary(path: Path, packages: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sha = "0" * 64
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write(
            f'<metadata xmlns="http://linux.duke.edu/metadata/common" packages="{packages}">\n'
        )
        out.writelines(PACKAGE.format(i=i, sha=sha) for i in range(packages))
        out.write("</metadata>\n")


def write_repomd(repo: Path, revision: int) -> None:
    primary = repo / "repodata/primary.xml.gz"
    digest = hashlib.sha256(primary.read_bytes()).hexdigest()
    (repo / "repodata/repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<repomd xmlns="http://linux.duke.edu/metadata/repo">\n'
        f"  <revision>{revision}</revision>\n"
        '  <data type="primary">\n'
        f'    <checksum type="sha256">{digest}</checksum>\n'
        '    <location href="repodata/primary.xml.gz"/>\n'
        f"    <size>{primary.stat().st_size}</size>\n"
        "  </data>\n"
        "</repomd>\n"
    )


def make_upstream(root: Path, packages: int, primary_cache: Path) -> Path:
    if not primary_cache.exists():
        write_primary(primary_cache, packages)
    for repo_id in REPOS:
        repo = root / repo_id
        (repo / "repodata").mkdir(parents=True)
        os.link(primary_cache, repo / "repodata/primary.xml.gz")
        write_repomd(repo, revision=1735689600)
    return root


def spec_for(tmp_path: Path, url: str, name: str = "product.yaml") -> Path:
    raw = yaml.safe_load(DEMO_SPEC.read_text())
    raw["upstream"] = [
        {"id": repo_id, "baseurl": f"{url}/{repo_id}", "allow_unsigned": True} for repo_id in REPOS
    ]
    raw["upstream"][0]["installer_tree"] = True
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def primaries(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("primaries")
    return {count: folder / f"primary-{count}.xml.gz" for count in (10, BIG)}


class Evaluator:
    def __init__(self, instance, spec_path: Path, **options: object) -> None:
        self.instance = instance
        self.spec_path = spec_path
        self.sensor = build_upstream_sensor(**options)  # type: ignore[arg-type]
        self.defs = Definitions(
            assets=ALL_ASSETS,
            jobs=ALL_JOBS,
            sensors=[self.sensor],
            resources={"product": ProductSpecResource(spec_path=str(spec_path)), "store": 0},
        )

    def tick(self, cursor: str | None):
        context = build_sensor_context(
            instance_ref=self.instance.get_ref(),
            cursor=cursor,
            definitions=self.defs,
            resources={"product": ProductSpecResource(spec_path=str(self.spec_path))},
        )
        return self.sensor.evaluate_tick(context)


def test_revision_change_rebuilds_active_versions_once(
    tmp_path: Path, primaries: dict[int, Path]
) -> None:
    root = make_upstream(tmp_path / "upstream", BIG, primaries[BIG])
    with counting_server(root) as (url, seen), instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.9.0", "1.10.0"])
        sensor = Evaluator(instance, spec_for(tmp_path, url))

        first = sensor.tick(None)
        assert first.run_requests == [] and "no upstream repo changed" in first.skip_message
        assert sorted(seen.paths) == sorted(f"/{r}/repodata/repomd.xml" for r in REPOS)
        assert seen.bytes < 2048 * len(REPOS)

        write_repomd(root / "CRB", revision=1735776000)
        changed = sensor.tick(first.cursor)
        keys = [(r.partition_key, r.run_key) for r in changed.run_requests]
        crb_sha = hashlib.sha256((root / "CRB/repodata/repomd.xml").read_bytes()).hexdigest()
        assert keys == [
            ("1.10.0", f"upstream:1.10.0:CRB@{crb_sha[:12]}"),
            ("1.9.0", f"upstream:1.9.0:CRB@{crb_sha[:12]}"),
        ]
        observations = [event.partition for event in changed.asset_events]
        assert observations == ["1.10.0", "1.9.0"]

        quiet = sensor.tick(changed.cursor)
        assert quiet.run_requests == []
        # A replayed tick asks for the same run keys, which the daemon runs at most once.
        replay = sensor.tick(first.cursor)
        assert [(r.partition_key, r.run_key) for r in replay.run_requests] == keys

    # Four ticks, one small object per repo each; primary.xml.gz never fetched.
    assert len(seen.paths) == 4 * len(REPOS)
    assert not any("primary" in path for path in seen.paths)


def test_cursor_size_ignores_package_count(tmp_path: Path, primaries: dict[int, Path]) -> None:
    cursors = {}
    for count in (10, BIG):
        root = make_upstream(tmp_path / f"upstream-{count}", count, primaries[count])
        with counting_server(root) as (url, _), instance_for_test() as instance:
            sensor = Evaluator(instance, spec_for(tmp_path, url, f"product-{count}.yaml"))
            cursors[count] = sensor.tick(None).cursor
    assert len(cursors[10]) == len(cursors[BIG]) < 150 * len(REPOS)
    assert primaries[BIG].stat().st_size > 20 * primaries[10].stat().st_size


def test_unreachable_repo_keeps_its_state_and_limit_picks_newest(
    tmp_path: Path, primaries: dict[int, Path]
) -> None:
    root = make_upstream(tmp_path / "upstream", 10, primaries[10])
    with counting_server(root) as (url, _), instance_for_test() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["2.0.0", "10.0.0", "9.0.0"])
        sensor = Evaluator(instance, spec_for(tmp_path, url), active_limit=1)
        first = sensor.tick(None)

        (root / "extras/repodata/repomd.xml").unlink()
        write_repomd(root / "BaseOS", revision=1735776000)
        second = sensor.tick(first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["10.0.0"]
        assert '"extras"' in second.cursor

        # extras comes back unchanged: not a change.
        write_repomd(root / "extras", revision=1735689600)
        assert sensor.tick(second.cursor).run_requests == []
