"""Render progress for clients: stored events fanned out over WebSockets (SPEC §3)."""
