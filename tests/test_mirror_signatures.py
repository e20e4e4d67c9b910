"""Signature policy: private keyring, unsigned / unknown key / bad digest, real signed el9 RPMs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iso_assets.errors import SignatureError
from iso_assets.mirror.signatures import (
    Keyring,
    checksig_argv,
    classify_checksig,
    import_key_argv,
    parse_checksig_output,
    verify_signatures,
)
from iso_assets.mirror.sync import sync_repo
from iso_assets.process import run_tool
from iso_assets.spec.models import UpstreamRepo
from tests.test_mirror_sync import ALLOWED, build_package, createrepo, no_blobs, serve_counting

EL9_SIGNER = "6c431928ef743b4c"  # the key that signed the el9-bzip2-signed fixture

# `rpmkeys --checksig -v` output measured on rpm 4.18 for the three failure kinds.
CHECKSIG_OUTPUT = """\
/m/signed.rpm:
    Header V4 RSA/SHA512 Signature, key ID 2d5738e1: OK
    Header SHA256 digest: OK
    Payload SHA256 digest: OK
/m/unsigned.rpm:
    Header RSA signature: NOTFOUND
    Header SHA256 digest: OK
    RSA signature: NOTFOUND
/m/foreign.rpm:
    Header V4 RSA/SHA256 Signature, key ID ef743b4c: NOKEY
    Header SHA256 digest: OK
/m/tampered.rpm:
    Header V4 RSA/SHA512 Signature, key ID 2d5738e1: OK
    Payload SHA256 digest: BAD (Expected d311 != f9a6)
"""


@dataclass(frozen=True)
class Signer:
    gnupghome: Path
    uid: str
    public_key: Path

    def sign(self, rpm: Path) -> None:
        run_tool(
            [
                "rpmsign",
                "--addsign",
                "--define",
                f"_gpg_name {self.uid}",
                "--define",
                "__gpg /usr/bin/gpg",
                str(rpm),
            ],
            env={"GNUPGHOME": str(self.gnupghome)},
        )


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signer]:
    """A throwaway passphrase-less signing key in a private GNUPGHOME."""
    work = tmp_path_factory.mktemp("gpg")
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    uid = "iso-assets test signer <signer@example.invalid>"
    run_tool(
        [
            *("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""),
            *("--quick-gen-key", uid, "rsa2048", "sign", "never"),
        ],
        env=env,
    )
    public = work / "RPM-GPG-KEY-test"
    public.write_bytes(run_tool(["gpg", "--armor", "--export", uid], env=env).stdout)
    yield Signer(home, uid, public)
    run_tool(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


def test_checksig_requires_signature_level_and_private_db() -> None:
    argv = checksig_argv(Path("/tmp/db"), [Path("/m/a.rpm")])
    assert argv[:3] == ["rpmkeys", "--dbpath", "/tmp/db"]
    assert argv[argv.index("--define") + 1] == "_pkgverify_level signature"
    assert argv[-1] == "/m/a.rpm"
    assert import_key_argv(Path("/tmp/db"), Path("/k")) == [
        "rpmkeys",
        "--dbpath",
        "/tmp/db",
        "--import",
        "/k",
    ]


def test_checksig_output_is_classified_per_package() -> None:
    blocks = parse_checksig_output(CHECKSIG_OUTPUT)
    statuses = {path: classify_checksig(lines) for path, lines in blocks.items()}
    assert statuses["/m/signed.rpm"].status == "ok"
    assert statuses["/m/unsigned.rpm"].status == "unsigned"
    assert statuses["/m/foreign.rpm"].status == "unknown-key"
    assert statuses["/m/foreign.rpm"].key_id == "ef743b4c"
    assert statuses["/m/tampered.rpm"].status == "bad"


def test_signed_package_passes_and_unsigned_fails(
    tmp_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    repo = tmp_path / "www" / "vendor"
    signed = build_package("signedtool", "1.0", repo, tmp_path)
    unsigned = build_package("tool", "1.0", repo, tmp_path)
    signer.sign(signed)
    createrepo(repo)
    spec_dir = tmp_path / "product"
    spec_dir.mkdir()
    shutil.copy2(signer.public_key, spec_dir / "RPM-GPG-KEY-test")
    # A relative key path resolves against the folder of product.yaml.
    spec = UpstreamRepo(id="vendor", baseurl=repo.as_uri(), gpg_keys=[Path("RPM-GPG-KEY-test")])

    with pytest.raises(SignatureError) as err:
        sync_repo(
            spec,
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=spec_dir,
            label="vendor/9.4",
        )
    message = str(err.value)
    assert (
        f"mirror vendor/9.4: {unsigned.name} is not signed (policy: keys [RPM-GPG-KEY-test ("
        in (message)
    )
    assert "package not published" in message
    assert signed.name not in message
    assert not (tmp_path / "mirror" / unsigned.name).exists()  # rejected: removed
    assert (tmp_path / "mirror" / signed.name).exists()

    unsigned.unlink()
    createrepo(repo)
    snapshot = sync_repo(
        spec, tmp_path / "mirror", allowed_arches=ALLOWED, known_blob=no_blobs, spec_dir=spec_dir
    )
    assert [f.path for f in snapshot.files if f.kind == "package"] == [signed.name]
    assert snapshot.signature_policy.startswith("keys [RPM-GPG-KEY-test (")


def test_source_rpms_follow_the_same_rule(tmp_path: Path, signer: Signer) -> None:
    spec = tmp_path / "srcpkg.spec"
    spec.write_text(
        "Name: srcpkg\nVersion: 1.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
        "%description\ns\n%files\n"
    )
    repo = tmp_path / "www" / "source"
    run_tool(["rpmbuild", "-bs", "--quiet", "--define", f"_topdir {tmp_path}", str(spec)])
    repo.mkdir(parents=True)
    shutil.copy2(tmp_path / "SRPMS" / "srcpkg-1.0-1.src.rpm", repo)
    createrepo(repo)
    with pytest.raises(SignatureError, match="srcpkg-1.0-1.src.rpm is not signed"):
        sync_repo(
            UpstreamRepo(id="source", baseurl=repo.as_uri(), gpg_keys=[signer.public_key]),
            tmp_path / "mirror",
            allowed_arches=(*ALLOWED, "src"),
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )


def test_altered_signed_package_is_bad(tmp_path: Path, signer: Signer) -> None:
    package = build_package("tool", "1.0", tmp_path / "rpms", tmp_path)
    signer.sign(package)
    data = bytearray(package.read_bytes())
    data[-10] ^= 0xFF
    package.write_bytes(bytes(data))
    with Keyring([signer.public_key], repo_label="t") as keyring:
        check = keyring.check([package])[package]
    assert check.status == "bad"
    assert "BAD" in check.detail[0]


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="gpg key file .*RPM-GPG-KEY-nope does not exist"):
        verify_signatures(
            {"a.rpm": tmp_path / "a.rpm"},
            repo_label="vendor",
            keys=[tmp_path / "RPM-GPG-KEY-nope"],
            allow_unsigned=False,
        )


def test_real_el9_repo_with_allow_unsigned_mirrors_and_verifies_checksums(
    shared_dir: Path, tmp_path: Path
) -> None:
    fixture = shared_dir / "fixtures" / "upstream"
    with serve_counting(fixture) as (url, _):
        snapshot = sync_repo(
            UpstreamRepo(id="baseos", baseurl=f"{url}/el9-bzip2-signed", allow_unsigned=True),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    packages = [f for f in snapshot.files if f.kind == "package"]
    assert len(packages) == 7
    for mirrored in packages:  # verified on arrival; the bytes are the fixture's
        assert (
            mirrored.local.read_bytes()
            == (fixture / "el9-bzip2-signed" / mirrored.path).read_bytes()
        )
    assert snapshot.revision == "1708177320"
    assert snapshot.signature_policy == "allow_unsigned (signatures not checked)"
    assert len([f for f in snapshot.files if f.kind == "metadata"]) == 7  # 6 records + repomd


def test_real_el9_repo_signed_by_a_key_not_in_the_policy(
    shared_dir: Path, tmp_path: Path, signer: Signer
) -> None:
    with (
        serve_counting(shared_dir / "fixtures" / "upstream") as (url, _),
        pytest.raises(SignatureError) as err,
    ):
        sync_repo(
            UpstreamRepo(
                id="baseos", baseurl=f"{url}/el9-bzip2-signed", gpg_keys=[signer.public_key]
            ),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
        )
    message = str(err.value)
    assert (
        f"bzip2-1.0.8-18.el9.x86_64.rpm is signed by key {EL9_SIGNER}, which is not among "
        "the repo's keys" in message
    )
    assert message.count("package not published") == 7
    assert not list((tmp_path / "mirror").glob("*.rpm"))


def test_case_repo04_unsigned_package_is_rejected(
    shared_dir: Path, tmp_path: Path, signer: Signer
) -> None:
    case = shared_dir / "cases" / "repo04-gpg-not-checked"
    run_tool(["bash", str(case / "make_unsigned.sh")], cwd=tmp_path)
    key = tmp_path / "RPM-GPG-KEY-vendor"
    shutil.copy2(signer.public_key, key)
    with pytest.raises(SignatureError) as err:
        sync_repo(
            UpstreamRepo(
                id="vendor-tools", baseurl=(tmp_path / "upstream").as_uri(), gpg_keys=[key]
            ),
            tmp_path / "mirror",
            allowed_arches=ALLOWED,
            known_blob=no_blobs,
            spec_dir=tmp_path,
            label="vendor-tools/9.4",
        )
    assert (
        "mirror vendor-tools/9.4: tool-1.0-1.noarch.rpm is not signed "
        "(policy: keys [RPM-GPG-KEY-vendor (" in str(err.value)
    )
    assert "package not published" in str(err.value)
