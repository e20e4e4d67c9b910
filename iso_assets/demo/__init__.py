"""The demo product: a local upstream repo, product RPMs and a boot tree, built offline."""
