"""On-media repositories: createrepo_c output, comps and modules, consistency checks."""
