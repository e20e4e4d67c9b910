"""The ISO stage: volume label policy, boot configs, the EFI boot image, the xorriso build
and the post-build inspection of the finished image."""
