"""Metrics and tracing adapters (optional dependencies, loaded on use)."""
