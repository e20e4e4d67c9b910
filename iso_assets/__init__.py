"""iso-assets: a product release turned into a bootable, tested, scanned installer ISO."""

__version__ = "0.1.0"
