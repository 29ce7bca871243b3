"""The adapter kit behind the p1guard.web façade."""
