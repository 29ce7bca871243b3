"""The p1guard command: demo, discover, verify, token."""
