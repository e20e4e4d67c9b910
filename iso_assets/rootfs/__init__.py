"""The rootfs stage: base tarball + rendered product overlay + RPMs installed with rpm,
written as a reproducible tarball with its rpm database at /var/lib/rpm."""
