"""Asset `iso`: the hybrid BIOS+UEFI installer ISO, assembled straight from the store."""

from pathlib import Path

from dagster import AssetExecutionContext, MaterializeResult, asset

from iso_assets.artifacts import BlobRef, Manifest
from iso_assets.assets.checks import ISO_CHECKS, iso_gates, specs_for
from iso_assets.assets.inputs import tool_versions
from iso_assets.assets.kickstart import KS_FILE, ROOTFS_ON_MEDIA, media_repo_ids
from iso_assets.assets.repodata import FACTS_FILE
from iso_assets.assets.rootfs import TARBALL
from iso_assets.assets.step import StepContext, StepOutput, run_step, upstream_manifest
from iso_assets.assets.tree import under
from iso_assets.errors import IsoBuildError
from iso_assets.iso.boottree import make_boot_tree
from iso_assets.iso.media_treeinfo import render_media_treeinfo
from iso_assets.iso.xorriso import build_iso
from iso_assets.mirror.treeinfo import InstallerTree, parse_treeinfo
from iso_assets.partitions import product_version_partitions
from iso_assets.spec.models import ProductSpec
from resources.product import ProductSpecResource
from resources.store import ArtifactStore

CODE_VERSION = "1"
ISO_MEDIA_TYPE = "application/x-iso9660-image"
KERNEL, INITRD, STAGE2 = "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "images/install.img"
EFIBOOT = "images/efiboot.img"
MEDIA_FILES = "media-files.txt"


def iso_file_name(spec: ProductSpec, version: str) -> str:
    return f"{spec.name}-{version}-{spec.arch}.iso"


def installer_tree(
    spec: ProductSpec, mirror: Manifest, store: ArtifactStore
) -> tuple[InstallerTree, dict[str, BlobRef]]:
    """The mirrored installer tree (.treeinfo parsed) and its files, relative to its repo."""
    repo_id = next(repo.id for repo in spec.upstream if repo.installer_tree)
    files = under(mirror.files, repo_id)
    if ".treeinfo" not in files:
        raise IsoBuildError(
            f"mirrored repo {repo_id!r} has no .treeinfo; set installer_tree: true only on the "
            f"repo whose baseurl holds the installer tree (.treeinfo, images/)"
        )
    tree = parse_treeinfo(
        store.blob_path(files[".treeinfo"]).read_text(), source=f"{repo_id}/.treeinfo"
    )
    for needed in (tree.kernel, tree.initrd, tree.stage2):
        if needed is None or needed not in files:
            raise IsoBuildError(
                f"{repo_id}/.treeinfo names {needed!r} but the mirror holds no such file; "
                f"check the upstream installer tree"
            )
    return tree, files


def assemble_iso(step: StepContext) -> StepOutput:
    spec, store, version = step.spec, step.store, step.version
    mirror = upstream_manifest(store, spec, version, "mirrored_repo")
    media = upstream_manifest(store, spec, version, "repodata")
    rootfs = upstream_manifest(store, spec, version, "rootfs")
    ks = upstream_manifest(store, spec, version, "kickstart")
    tree, tree_files = installer_tree(spec, mirror, store)
    volume_id = spec.volume_id_for(version)

    layout: dict[str, Path] = make_boot_tree(
        step.work_dir / "boot",
        volume_id=volume_id,
        title=f"Install {spec.name} {version}",
        kernel=store.blob_path(tree_files[tree.kernel]),
        initrd=store.blob_path(tree_files[tree.initrd]),
        boot_args=spec.iso.boot_args,
        menu_timeout=spec.iso.menu_timeout,
        source_date_epoch=spec.source_date_epoch,
        efiboot_size_mib=spec.iso.efiboot_size_mib,
    )
    assert tree.stage2 is not None
    layout[STAGE2] = store.blob_path(tree_files[tree.stage2])
    layout[KS_FILE] = store.blob_path(ks.files[KS_FILE])
    layout[ROOTFS_ON_MEDIA] = store.blob_path(rootfs.files[TARBALL])
    for path, ref in media.files.items():
        if path != FACTS_FILE:
            layout[path] = store.blob_path(ref)

    treeinfo = step.work_dir / ".treeinfo"
    treeinfo.write_text(
        render_media_treeinfo(
            product=spec.name,
            version=version,
            arch=spec.arch,
            timestamp=spec.source_date_epoch,
            kernel=KERNEL,
            initrd=INITRD,
            stage2=STAGE2,
            efiboot=EFIBOOT,
            repo_ids=media_repo_ids(spec),
            checksums={STAGE2: tree_files[tree.stage2]},
        )
    )
    layout[".treeinfo"] = treeinfo

    files_list = step.work_dir / MEDIA_FILES
    files_list.write_text("".join(f"{path}\n" for path in sorted(layout)))
    name = iso_file_name(spec, version)
    result = build_iso(
        layout,
        step.work_dir / name,
        volume_id=volume_id,
        source_date_epoch=spec.source_date_epoch,
        iso_level=spec.iso.iso_level,
    )
    output = StepOutput(
        files={name: result.path, MEDIA_FILES: files_list},
        media_types={name: ISO_MEDIA_TYPE, MEDIA_FILES: "text/plain"},
    )
    output.metadata.update(
        {
            "iso_name": name,
            "volume_id": volume_id,
            "iso_level": result.iso_level,
            "iso_level_reason": result.iso_level_reason,
            "implanted_md5": result.implanted_md5,
            "warnings": result.warnings,
            "files_on_media": len(layout),
            "installer": f"{tree.release_name} {tree.release_version}",
        }
    )
    return output


def describe(manifest: Manifest) -> dict[str, object]:
    name = manifest.metadata["iso_name"]
    ref = manifest.files[name]
    return {
        "iso_name": name,
        "iso_sha256": ref.sha256,
        "iso_bytes": ref.size,
        "iso_mib": round(ref.size / 2**20, 1),
        "volume_id": manifest.metadata["volume_id"],
        "iso_level": manifest.metadata["iso_level"],
        "implanted_md5": manifest.metadata["implanted_md5"],
    }


@asset(
    partitions_def=product_version_partitions,
    deps=["mirrored_repo", "repodata", "rootfs", "kickstart"],
    code_version=CODE_VERSION,
    group_name="build",
    description="Hybrid BIOS+UEFI installer ISO (CD and USB), bit-for-bit reproducible.",
    check_specs=specs_for("iso", ISO_CHECKS),
)
def iso(
    context: AssetExecutionContext, product: ProductSpecResource, store: ArtifactStore
) -> MaterializeResult:
    spec = product.load()
    version = context.partition_key
    upstream = {
        name: upstream_manifest(store, spec, version, name).output_digest
        for name in ("mirrored_repo", "repodata", "rootfs", "kickstart")
    }
    inputs = {
        **upstream,
        "iso": spec.section_dump("iso"),
        "volume_id": spec.volume_id_for(version),
        "source_date_epoch": spec.source_date_epoch,
        "tools": tool_versions("xorriso", "grub-mkimage", "mkfs.fat", "implantisomd5"),
    }
    return run_step(
        context,
        store=store,
        spec=spec,
        asset="iso",
        code_version=CODE_VERSION,
        inputs=inputs,
        build=assemble_iso,
        describe=describe,
        checks=iso_gates(store, iso_name=iso_file_name(spec, version), files_list=MEDIA_FILES),
    )
