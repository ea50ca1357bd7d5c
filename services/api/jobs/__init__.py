"""Render jobs: creation, listing, cancel, and every state transition of DESIGN §4."""
