"""The version of p1guard, in one place (read by the package metadata and the CLI)."""

__version__ = "0.1.0"
