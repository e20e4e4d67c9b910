"""Dagster sensors: new product RPMs and upstream repo changes start builds."""
