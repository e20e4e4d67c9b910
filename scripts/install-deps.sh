#!/usr/bin/env bash
# Install what iso-assets needs on a Debian 12 machine (root): Debian packages and the
# project venv; `--test` adds what only the tests need. Idempotent: a second run checks and
# returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# What a build needs (deploy/Dockerfile installs the same list).
APT_PACKAGES=(
  rpm createrepo-c xorriso isolinux syslinux-common grub-efi-amd64-bin grub-pc-bin grub-common
  mtools dosfstools qemu-system-x86 qemu-utils ovmf busybox-static isomd5sum cpio zstd gnupg
  kmod file
)
# What only the tests and benchmarks need: the browser for the UI test, a PostgreSQL server
# for the deployment config test, dnf as the mirroring peer in bench/.
APT_TEST_PACKAGES=(chromium postgresql dnf dnf-plugins-core)

wanted=("${APT_PACKAGES[@]}")
[[ ${1:-} == --test ]] && wanted+=("${APT_TEST_PACKAGES[@]}")

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -c constraints.txt -e '.[dev]'
  echo "$want" > "$stamp"
fi
