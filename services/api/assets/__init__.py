"""Serving published job files (SPEC §2 Assets)."""
