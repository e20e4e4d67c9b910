"""The team deployment's files: dagster.yaml loads (against a throwaway Postgres), bad keys fail,
docker-compose.yaml and the Dockerfile agree with it. No Docker engine is used."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.errors import DagsterInvalidConfigError

from iso_assets.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
POSTGRES_ENV = {
    "DAGSTER_POSTGRES_HOST": "127.0.0.1",
    "DAGSTER_POSTGRES_DB": "dagster",
    "DAGSTER_POSTGRES_USER": "dagster",
    "DAGSTER_POSTGRES_PASSWORD": "test-only",
}
SERVICES = {"postgres", "s3", "s3-init", "code", "webserver", "daemon"}


def instance_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "dagster-home"
    folder.mkdir(exist_ok=True)
    (folder / "dagster.yaml").write_text(text)
    return folder


@pytest.fixture
def postgres_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**POSTGRES_ENV, "DAGSTER_POSTGRES_PORT": "1"}.items():
        monkeypatch.setenv(key, value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def find_postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth); yields its port."""
    bindir = find_postgres_bin()
    assert bindir is not None, "PostgreSQL (initdb) is missing: apt-get install postgresql"
    # Owned by `postgres` when we are root (initdb refuses root); outside pytest's 0700 tmp.
    data_root = Path(tempfile.mkdtemp(prefix="iso-assets-pg-", dir="/tmp"))
    data_root.chmod(0o755)
    data = data_root / "data"
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(data_root, "postgres")
    port = free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "dagster",
         "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data_root / "log"),
         "-o", f"-p {port} -k {data_root} -c listen_addresses=127.0.0.1 -F", "start"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        subprocess.run(
            [*as_user, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
             "dagster", "dagster"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for key, value in {**POSTGRES_ENV, "DAGSTER_POSTGRES_PORT": str(port)}.items():
            monkeypatch.setenv(key, value)
        yield port
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(data_root, ignore_errors=True)


def test_deploy_instance_loads_with_postgres_and_docker_launcher(
    postgres: int, tmp_path: Path
) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_docker import DockerRunLauncher
    from dagster_postgres import PostgresRunStorage

    folder = instance_dir(tmp_path, (DEPLOY / "dagster.yaml").read_text())
    instance = DagsterInstance.from_config(str(folder))
    try:
        assert isinstance(instance.run_launcher, DockerRunLauncher)
        assert instance.run_launcher.networks == ["iso_assets_network"]
        assert instance.run_launcher.container_kwargs["user"] == "0:0"
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert isinstance(instance.run_storage, PostgresRunStorage)
        # The storage really works: a partition written and read back through Postgres.
        instance.add_dynamic_partitions("product_version", ["1.0.0"])
        assert instance.get_dynamic_partitions("product_version") == ["1.0.0"]
        assert instance.get_runs() == []
    finally:
        instance.dispose()


def test_unknown_top_level_key_fails_before_connecting(postgres_env: None, tmp_path: Path) -> None:
    text = (DEPLOY / "dagster.yaml").read_text() + "\nrun_launchr: {}\n"
    with pytest.raises(DagsterInvalidConfigError, match="run_launchr"):
        DagsterInstance.from_config(str(instance_dir(tmp_path, text)))


@pytest.mark.parametrize(
    ("old", "new", "section"),
    [
        ("    network: iso_assets_network", "    netwrk: iso_assets_network", "run_launcher"),
        ("max_concurrent_runs: 2", "max_concurrent_runs: two", "run_coordinator"),
    ],
)
def test_bad_key_in_a_section_fails_clearly(
    postgres: int, tmp_path: Path, old: str, new: str, section: str
) -> None:
    """Launcher and coordinator configs are checked when first used, not at load: touch them."""
    text = (DEPLOY / "dagster.yaml").read_text()
    assert old in text
    instance = DagsterInstance.from_config(str(instance_dir(tmp_path, text.replace(old, new))))
    try:
        with pytest.raises(DagsterInvalidConfigError, match=new.split(":")[0].strip()):
            getattr(instance, section)
    finally:
        instance.dispose()


def load_compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def test_compose_names_the_services_and_matches_dagster_yaml() -> None:
    compose = load_compose()
    assert set(compose["services"]) == SERVICES
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    launcher = instance["run_launcher"]["config"]

    assert compose["networks"]["iso_assets_network"]["name"] == launcher["network"]
    for mount in launcher["container_kwargs"]["volumes"]:
        volume = mount.split(":")[0]
        assert compose["volumes"][volume]["name"] == volume, volume
    # DockerRunLauncher copies env_vars from the daemon's environment into each run.
    daemon_env = compose["services"]["daemon"]["environment"]
    assert set(launcher["env_vars"]) <= set(daemon_env)
    assert (
        compose["services"]["code"]["environment"]["DAGSTER_CURRENT_IMAGE"]
        == (compose["services"]["code"]["image"])
    )
    for name in ("webserver", "daemon"):
        assert compose["services"][name]["depends_on"]["postgres"]["condition"] == (
            "service_healthy"
        )
    assert compose["services"]["webserver"]["ports"] == ["127.0.0.1:3000:3000"]


def test_compose_keeps_secrets_out_of_the_file() -> None:
    text = (DEPLOY / "docker-compose.yaml").read_text()
    env = load_compose()["services"]["daemon"]["environment"]
    for key in ("DAGSTER_POSTGRES_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?.+\}", env[key]), key
    assert "change-me" not in text


def dockerfile_stages(text: str) -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current = ""
    for line in text.replace("\\\n", " ").splitlines():
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line)
        if match:
            current = match.group(2)
            stages[current] = [line]
        elif current:
            stages[current].append(line)
    return stages


def test_dockerfile_is_pinned_multistage_non_root_with_healthchecks() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = dockerfile_stages(text)
    assert set(stages) == {"builder", "dagster", "code"}
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base)
    for name in ("dagster", "code"):
        body = "\n".join(stages[name])
        assert "USER iso" in body and "HEALTHCHECK" in body, name

    # The code image installs the same Debian tools as scripts/install-deps.sh.
    script = (REPO_ROOT / "scripts/install-deps.sh").read_text()
    listed = re.search(r"APT_PACKAGES=\(([^)]*)\)", script).group(1).split()  # type: ignore[union-attr]
    installed = " ".join(stages["code"])
    missing = [pkg for pkg in listed if f" {pkg} " not in f" {installed} "]
    assert missing == [], f"deploy/Dockerfile lacks {missing} from scripts/install-deps.sh"


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".iso-assets", "build", "deploy/.env"):
        assert entry in ignored, entry


def test_deploy_workspace_points_at_the_code_service() -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    [entry] = workspace["load_from"]
    assert entry["grpc_server"] == {"host": "code", "port": 4000, "location_name": "iso_assets"}
    code = load_compose()["services"]["code"]
    assert code["build"]["target"] == "code"
