"""p1guard integration for django (being written)."""
