"""p1guard integration for flask (being written)."""
