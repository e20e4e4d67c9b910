"""The scan stage: offline Trivy over the installed rootfs (vulnerabilities with an air-gapped
DB, secrets, package listing, CycloneDX SBOM), the ISO's unpacked contents reported apart,
and the release policy (severities that fail, allow-list with reason and expiry)."""
