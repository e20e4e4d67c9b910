"""`python -m bench.run [--quick] [--reps N]`: iso-assets against its targets, side by side.

Everything is measured in one run on this machine, as medians of N repetitions:
- demo product: cold build, no-op rebuild, rebuild after one new product RPM release;
- a 300-package synthetic repo (random payloads, ~60 MB) served on 127.0.0.1: our mirror's
  first sync and resync against `dnf reposync` on the same repo;
- ISO assembly from graft points (our build_iso) against bare xorriso on a staged tree;
- sha256 throughput of our hashing and store paths against `openssl dgst -sha256`;
- planning a 10,000-package repo's sync (parse primary.xml + selection): time, peak RSS.
It prints a markdown table (median, peer median, ratio, target, verdict) and writes it to
`--out` (default bench/results.md). Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

from bench.synthetic import MIB, random_file, synthetic_primary, synthetic_repo
from iso_assets.artifacts import sha256_file
from iso_assets.process import run_tool

log = logging.getLogger("bench")

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_ASSET_NAMES = ("mirrored_repo", "repodata", "rootfs", "kickstart", "iso", "iso_checksum")
FULL_GRAPH_NAMES = (*BUILD_ASSET_NAMES, "vm_test_report", "trivy_scan")


@dataclass
class Row:
    name: str
    ours: float
    unit: str
    peer_name: str = ""
    peer: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.peer if self.peer else None


def median_of(reps: int, action: Callable[[], float]) -> float:
    return statistics.median(action() for _ in range(reps))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def drop_writeback() -> None:
    """Flush dirty pages so one measurement does not pay for the previous one's writes."""
    os.sync()


# --- demo product -------------------------------------------------------------------------


@contextmanager
def demo_environment(work: Path) -> Iterator[tuple[Path, Path]]:
    """Demo inputs built (cached) under `work`, upstream served; yields (spec, spec with a
    new product RPM release in its incoming folder)."""
    from iso_assets.demo.__main__ import DEMO_ROOT_HASH, build_inputs
    from iso_assets.demo.product_rpms import SPEC_DIR, build_product_rpms
    from iso_assets.demo.serve import serve_directory
    from iso_assets.paths import DEMO_SPEC
    from iso_assets.spec import load_product_spec

    build_dir = work / "demo"
    epoch = load_product_spec(DEMO_SPEC).source_date_epoch
    cache = Path(os.environ.get("ISO_ASSETS_CACHE", Path.home() / ".cache/iso-assets"))
    build_inputs(build_dir, cache / "demo-boot", "1.0.0", epoch)

    # A second incoming folder: the same RPMs plus release 2 of both product RPMs.
    incoming2 = build_dir / "incoming-release-2"
    if not incoming2.is_dir():
        shutil.copytree(build_dir / "incoming", incoming2)
        specs = work / "release-2-specs"
        specs.mkdir(exist_ok=True)
        for spec_file in SPEC_DIR.glob("*.spec"):
            text = spec_file.read_text().replace("Release:        1%", "Release:        2%")
            (specs / spec_file.name).write_text(text)
        build_product_rpms(
            incoming2 / "release-2", version="1.0.0", source_date_epoch=epoch, spec_dir=specs
        )
    text = DEMO_SPEC.read_text().replace("../../build/demo", str(build_dir))
    spec1 = work / "product.yaml"
    spec1.write_text(text)
    spec2 = work / "product-release-2.yaml"
    text2 = re.sub(r"^  incoming: .*$", f"  incoming: {incoming2}", text, flags=re.MULTILINE)
    if text2 == text:
        raise RuntimeError("could not point the second spec at the release-2 incoming folder")
    spec2.write_text(text2)

    with serve_directory(build_dir / "upstream") as url:
        saved = {k: os.environ.get(k) for k in ("DEMO_UPSTREAM_URL", "ISO_ROOT_PASSWORD_HASH")}
        os.environ.update(DEMO_UPSTREAM_URL=url, ISO_ROOT_PASSWORD_HASH=DEMO_ROOT_HASH)
        try:
            yield spec1, spec2
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def materialize_demo(store_root: Path, spec: Path, names: tuple[str, ...]) -> float:
    """Seconds to materialize the assets `names` of 1.0.0 (fresh Dagster instance)."""
    from dagster import DagsterInstance, materialize

    from iso_assets.assets import ALL_ASSETS
    from iso_assets.partitions import PARTITIONS_NAME
    from resources.product import ProductSpecResource
    from resources.store import ArtifactStore

    assets = [a for a in ALL_ASSETS if a.key.to_user_string() in names]
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(PARTITIONS_NAME, ["1.0.0"])
    store = ArtifactStore(root=str(store_root / "store"), work_dir=str(store_root / "work"))
    started = time.perf_counter()
    result = materialize(
        assets,
        partition_key="1.0.0",
        instance=instance,
        resources={"product": ProductSpecResource(spec_path=str(spec)), "store": store},
    )
    seconds = time.perf_counter() - started
    assert result.success
    return seconds


def bench_demo(work: Path, reps: int, names: tuple[str, ...], label: str) -> list[Row]:
    cold: list[float] = []
    noop: list[float] = []
    new_rpm: list[float] = []
    with demo_environment(work) as (spec1, spec2):
        for rep in range(reps):
            root = work / f"demo-store-{rep}"
            shutil.rmtree(root, ignore_errors=True)
            drop_writeback()
            cold.append(materialize_demo(root, spec1, names))
            noop.append(materialize_demo(root, spec1, names))
            new_rpm.append(materialize_demo(root, spec2, names))
            shutil.rmtree(root, ignore_errors=True)
    cold_s = statistics.median(cold)
    noop_s, new_s = statistics.median(noop), statistics.median(new_rpm)
    return [
        Row(f"{label}: cold build", cold_s, "s"),
        Row(
            f"{label}: no-op rebuild",
            noop_s,
            "s",
            "cold build",
            cold_s,
            "≤ 0.05x cold",
            noop_s / cold_s <= 0.05,
            "mirror re-checks upstream, downloads nothing",
        ),
        Row(
            f"{label}: rebuild after a new product RPM release",
            new_s,
            "s",
            "cold build",
            cold_s,
            "≤ 0.35x cold",
            new_s / cold_s <= 0.35,
            "repodata, rootfs, kickstart, iso, iso_checksum rebuilt",
        ),
    ]


# --- mirror vs dnf reposync -----------------------------------------------------------------


def dnf_reposync_argv(conf: Path, reposdir: Path, repo_id: str, out: Path) -> list[str]:
    return [
        "dnf",
        f"--config={conf}",
        f"--setopt=reposdir={reposdir}",
        "--disableplugin=generate_completion_cache,local",
        "--setopt=module_platform_id=platform:el9",
        "--releasever=9",
        "-q",
        "reposync",
        f"--repoid={repo_id}",
        "--download-metadata",
        "-p",
        str(out),
    ]


def dnf_config(folder: Path, url: str) -> tuple[Path, Path]:
    """A private dnf.conf (cache, logs, persistdir inside `folder`) and a reposdir."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "dnf.conf"
    conf.write_text(
        "[main]\n"
        f"cachedir={folder}/cache\npersistdir={folder}/persist\nlogdir={folder}/log\n"
        "gpgcheck=0\nmetadata_expire=0\nkeepcache=0\n"
    )
    reposdir = folder / "repos.d"
    reposdir.mkdir(exist_ok=True)
    (reposdir / "bench.repo").write_text(f"[bench]\nname=bench\nbaseurl={url}\ngpgcheck=0\n")
    return conf, reposdir


def our_sync(url: str, dest: Path, store_root: Path, *, move: bool) -> tuple[float, int]:
    """Our mirror as the mirrored_repo asset runs it: sync, then store every file."""
    from iso_assets.mirror.sync import sync_repo
    from iso_assets.spec.models import UpstreamRepo
    from resources.local_backend import LocalBackend

    store = LocalBackend(store_root)
    repo = UpstreamRepo.model_validate({"id": "bench", "baseurl": url, "allow_unsigned": True})
    shutil.rmtree(dest, ignore_errors=True)
    started = time.perf_counter()
    snapshot = sync_repo(
        repo,
        dest,
        allowed_arches=("x86_64", "noarch"),
        known_blob=store.local_copy,
        spec_dir=dest.parent,
    )
    for mirrored in snapshot.files:
        store.put_file(mirrored.local, media_type="application/x-rpm", move=move)
    store.flush()  # what write_manifest does before the manifest
    return time.perf_counter() - started, snapshot.stats.downloaded_packages


def _serve_until_stopped(root: Path, urls: multiprocessing.Queue, stop: Event) -> None:
    from iso_assets.demo.serve import serve_directory

    with serve_directory(root) as url:
        urls.put(url)
        stop.wait()


@contextmanager
def served_in_child(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 from a child process, as a remote mirror would be: a server
    thread inside the measured process would compete with our client for the GIL."""
    context = multiprocessing.get_context("fork")
    urls: multiprocessing.Queue = context.Queue()
    stop = context.Event()
    child = context.Process(target=_serve_until_stopped, args=(root, urls, stop), daemon=True)
    child.start()
    try:
        yield urls.get(timeout=30)
    finally:
        stop.set()
        child.join(timeout=10)


def bench_mirror(work: Path, reps: int, packages: int, total_bytes: int) -> list[Row]:
    repo = synthetic_repo(work / f"repo-{packages}", packages=packages, total_bytes=total_bytes)
    ours_first: list[float] = []
    ours_first_copy: list[float] = []
    ours_resync: list[float] = []
    dnf_first: list[float] = []
    dnf_resync: list[float] = []
    downloaded_on_resync: list[int] = []
    with served_in_child(repo) as url:
        for rep in range(reps):
            store = work / f"mirror-store-{rep}"
            for variant, bucket in ((False, ours_first_copy), (True, ours_first)):
                shutil.rmtree(store, ignore_errors=True)
                drop_writeback()
                seconds, _ = our_sync(url, work / "mirror-dest", store, move=variant)
                bucket.append(seconds)
            drop_writeback()
            seconds, downloaded = our_sync(url, work / "mirror-dest", store, move=True)
            ours_resync.append(seconds)
            downloaded_on_resync.append(downloaded)
            shutil.rmtree(store, ignore_errors=True)

            dnf_dir = work / f"dnf-{rep}"
            shutil.rmtree(dnf_dir, ignore_errors=True)
            conf, reposdir = dnf_config(dnf_dir, url)
            argv = dnf_reposync_argv(conf, reposdir, "bench", dnf_dir / "out")
            drop_writeback()
            dnf_first.append(timed(functools.partial(run_tool, argv, timeout=600)))
            drop_writeback()
            dnf_resync.append(timed(functools.partial(run_tool, argv, timeout=600)))
            shutil.rmtree(dnf_dir, ignore_errors=True)
    first, first_copy = statistics.median(ours_first), statistics.median(ours_first_copy)
    resync = statistics.median(ours_resync)
    peer_first, peer_resync = statistics.median(dnf_first), statistics.median(dnf_resync)
    size_mb = sum(p.stat().st_size for p in (repo / "Packages").iterdir()) / 1e6
    return [
        Row(
            f"mirror first sync, {packages} pkgs / {size_mb:.0f} MB (store by rename)",
            first,
            "s",
            "dnf reposync",
            peer_first,
            "≤ 0.67x dnf",
            first / peer_first <= 0.67,
            "verifies checksums + RPM headers, stores blobs",
        ),
        Row(
            "mirror first sync (store by copy + fsync)",
            first_copy,
            "s",
            "dnf reposync",
            peer_first,
            "—",
            None,
            "a caller without move=True (run_step moves its scratch files)",
        ),
        Row(
            "mirror resync (nothing changed)",
            resync,
            "s",
            "dnf reposync",
            peer_resync,
            "0 packages downloaded",
            max(downloaded_on_resync) == 0,
            f"packages downloaded: {max(downloaded_on_resync)}",
        ),
    ]


# --- ISO assembly ---------------------------------------------------------------------------


def bench_iso(work: Path, reps: int, repo: Path, stage2_bytes: int) -> list[Row]:
    from iso_assets.iso.xorriso import build_iso, path_list_text, xorriso_argv
    from iso_assets.process import run_tool as run

    boot = work / "demo" / "boot"
    layout = iso_layout(work / "iso-boot", boot, repo)
    layout["images/install.img"] = random_file(work / "stage2.img", stage2_bytes)
    tree = work / "iso-tree"
    if not tree.is_dir():
        # The staged tree bare xorriso reads (hard links: staging is not what is measured).
        for iso_path, source in layout.items():
            target = tree / iso_path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source.resolve(), target)
    out = work / "iso-out"
    out.mkdir(exist_ok=True)
    volume, epoch = "BENCH-ISO", 1735689600

    def ours(implant: bool) -> float:
        drop_writeback()
        return timed(
            lambda: build_iso(
                layout,
                out / "ours.iso",
                volume_id=volume,
                source_date_epoch=epoch,
                implant_md5=implant,
            )
        )

    def bare() -> float:
        drop_writeback()
        # Same xorriso options, but the tree as one directory instead of graft points.
        path_list = out / "tree-list"
        path_list.write_text(f"/={tree}\n")
        argv = xorriso_argv(
            path_list=path_list,
            out=out / "bare.iso",
            volume_id=volume,
            iso_level=2,
            source_date_epoch=epoch,
        )
        (out / "bare.iso").unlink(missing_ok=True)
        return timed(lambda: run(argv, env={"SOURCE_DATE_EPOCH": str(epoch)}, timeout=900))

    assert path_list_text(layout)
    full: list[float] = []
    plain: list[float] = []
    peer: list[float] = []
    for _ in range(reps):  # interleaved: load from other processes hits all three alike
        peer.append(bare())
        full.append(ours(True))
        plain.append(ours(False))
    iso_mb = (out / "ours.iso").stat().st_size / 1e6
    full_s, plain_s, peer_s = map(statistics.median, (full, plain, peer))
    return [
        Row(
            f"ISO assembly from graft points, {iso_mb:.0f} MB (build_iso, as the asset runs it)",
            full_s,
            "s",
            "bare xorriso",
            peer_s,
            "≤ 1.2x xorriso",
            full_s / peer_s <= 1.2,
            "+ implantisomd5, inspection, sha256 of the image",
        ),
        Row(
            "ISO assembly without implantisomd5",
            plain_s,
            "s",
            "bare xorriso",
            peer_s,
            "≤ 1.2x xorriso",
            plain_s / peer_s <= 1.2,
            "inspection + sha256 of the image",
        ),
    ]


def iso_layout(work: Path, boot: Path, repo: Path) -> dict[str, Path]:
    """A bootable layout: the demo kernel/initrd with boot configs, plus the repo's files."""
    from iso_assets.iso.boottree import make_boot_tree

    shutil.rmtree(work, ignore_errors=True)
    layout = make_boot_tree(
        work,
        volume_id="BENCH-ISO",
        title="bench",
        kernel=boot / "vmlinuz",
        initrd=boot / "initrd.img",
        boot_args=["console=ttyS0"],
        menu_timeout=3,
        source_date_epoch=1735689600,
    )
    for path in sorted(p for p in repo.rglob("*") if p.is_file() and p.name != "bench-stamp.json"):
        layout[f"bench/{path.relative_to(repo)}"] = path
    return layout


# --- hashing --------------------------------------------------------------------------------


def bench_hashing(work: Path, reps: int, size: int) -> list[Row]:
    from resources.local_backend import LocalBackend

    big = random_file(work / f"random-{size // MIB}MiB.bin", size)
    store_root = work / "hash-store"

    def openssl() -> float:
        return timed(lambda: run_tool(["openssl", "dgst", "-sha256", str(big)], timeout=600))

    def ours() -> float:
        return timed(lambda: sha256_file(big))

    def put(move: bool) -> float:
        shutil.rmtree(store_root, ignore_errors=True)
        staged = work / "to-store.bin"
        staged.unlink(missing_ok=True)
        if move:
            os.link(big, staged)  # the file the store takes by rename
        else:
            staged = big
        drop_writeback()
        backend = LocalBackend(store_root)
        started = time.perf_counter()
        backend.put_file(staged, media_type="x", move=move)
        backend.flush()  # durable, as before a manifest
        seconds = time.perf_counter() - started
        shutil.rmtree(store_root, ignore_errors=True)
        return seconds

    sha256_file(big)  # both read from the page cache
    peer: list[float] = []
    mine: list[float] = []
    moved: list[float] = []
    copied: list[float] = []
    for _ in range(reps):  # interleaved, as in bench_iso
        peer.append(openssl())
        mine.append(ours())
        moved.append(put(True))
        copied.append(put(False))
    mb = size / 1e6
    peer_rate = mb / statistics.median(peer)
    rows = []
    for name, samples, note in (
        ("sha256_file", mine, "hash only"),
        ("store put, move=True", moved, "hash, rename, syncfs: one read"),
        ("store put, copy", copied, "hash while copying, syncfs"),
    ):
        rate = mb / statistics.median(samples)
        rows.append(
            Row(
                f"hashing {size // MIB} MiB: {name}",
                rate,
                "MB/s",
                "openssl dgst -sha256",
                peer_rate,
                "≥ 0.9x openssl" if name != "store put, copy" else "—",
                rate / peer_rate >= 0.9 if name != "store put, copy" else None,
                note,
            )
        )
    return rows


# --- planning a 10,000-package sync ----------------------------------------------------------

PLAN_PROBE = """
import json, resource, sys, time
from pathlib import Path
from iso_assets.mirror.repomd import parse_primary
from iso_assets.mirror.selection import select_packages
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
packages = parse_primary(Path(sys.argv[1]))
selection = select_packages(packages, allowed_arches=("x86_64", "noarch"), keep_newest=1)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak, "baseline_kib": baseline,
                  "packages": len(packages), "kept": len(selection.kept)}))
"""


def bench_planning(work: Path, reps: int, packages: int) -> list[Row]:
    primary = synthetic_primary(work / f"primary-{packages}.xml.gz", packages=packages)
    probes = []
    for _ in range(reps):
        result = run_tool(
            [sys.executable, "-c", PLAN_PROBE, str(primary)], cwd=REPO_ROOT, timeout=300
        )
        probes.append(json.loads(result.stdout))
    seconds = statistics.median(p["seconds"] for p in probes)
    peak_mb = max(p["peak_kib"] for p in probes) / 1024
    base_mb = max(p["baseline_kib"] for p in probes) / 1024
    kept = probes[0]["kept"]
    return [
        Row(
            f"plan a {packages}-package sync: time (parse + select)",
            seconds,
            "s",
            target="< 5 s",
            ok=seconds < 5,
            note=f"{kept} packages kept",
        ),
        Row(
            f"plan a {packages}-package sync: peak RSS",
            peak_mb,
            "MB",
            target="< 500 MB",
            ok=peak_mb < 500,
            note=f"of which {base_mb:.0f} MB interpreter + imports",
        ),
    ]


# --- report ---------------------------------------------------------------------------------


def render_table(rows: list[Row]) -> str:
    lines = [
        "| measurement | ours (median) | peer | peer (median) | ratio | target | met | note |",
        "|---|---:|---|---:|---:|---|---|---|",
    ]
    for row in rows:
        peer = f"{row.peer:.2f} {row.unit}" if row.peer is not None else ""
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[row.ok]
        lines.append(
            f"| {row.name} | {row.ours:.2f} {row.unit} | {row.peer_name} | {peer} | {ratio} "
            f"| {row.target} | {met} | {row.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 repetition, smaller files")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("ISO_ASSETS_CACHE", Path.home() / ".cache/iso-assets"))
        / "bench",
        help="inputs and scratch (cached between runs; outside the checkout)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench/results.md")
    parser.add_argument(
        "--only",
        nargs="*",
        default=["demo", "demo-full", "mirror", "iso", "hashing", "planning"],
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)

    reps = args.reps or (1 if args.quick else 3)
    hash_bytes = (256 if args.quick else 1024) * MIB
    stage2_bytes = (64 if args.quick else 384) * MIB
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[Row] = []
    sections: dict[str, Callable[[], list[Row]]] = {
        "demo": lambda: bench_demo(work, reps, BUILD_ASSET_NAMES, "demo, 6 build assets"),
        # The whole factory per version, with the QEMU matrix and the scan: one repetition,
        # since each cold or changed build boots four VMs.
        "demo-full": lambda: bench_demo(
            work, 1, FULL_GRAPH_NAMES, "demo, all 8 assets (with VM test and scan)"
        ),
        "mirror": lambda: bench_mirror(work, reps, 300, 60 * MIB),
        "iso": lambda: bench_iso(
            work,
            reps,
            synthetic_repo(work / "repo-300", packages=300, total_bytes=60 * MIB),
            stage2_bytes,
        ),
        "hashing": lambda: bench_hashing(work, reps, hash_bytes),
        "planning": lambda: bench_planning(work, reps, 10_000),
    }
    if "iso" in args.only and not {"demo", "demo-full"} & set(args.only):
        # The ISO layout boots the demo kernel: make sure the demo inputs exist.
        with demo_environment(work):
            pass
    for name in args.only:
        section_started = time.monotonic()
        rows += sections[name]()
        log.info("[DONE ] %s in %.1f s", name, time.monotonic() - section_started)

    table = render_table(rows)
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, medians of {reps} "
        f"repetition(s), total {time.monotonic() - started:.0f} s.\n\n"
    )
    args.out.write_text(header + table + "\n")
    print(header + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
