"""Fixtures of the core tests (helpers live in jwt_support.py)."""

from jwt_support import ec_key, jwks_doc, mint, rsa_key

__all__ = ["ec_key", "jwks_doc", "mint", "rsa_key"]
