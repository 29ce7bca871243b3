"""p1guard integration for fastapi (being written)."""
