"""The HTTP layer: pure flow vocabulary and the sync/async transport."""
