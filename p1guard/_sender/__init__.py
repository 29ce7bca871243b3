"""Sender constraints: DPoP proofs, client certificates, binding rules."""
