"""The heartbeat both ends of the render bus keep (DESIGN §3): the API's broker and every
renderer worker judge each other by it, so it is defined once, here."""

HEARTBEAT_INTERVAL_SEC = 1.0
"""Each side sends a heartbeat this often, from a timer independent of rendering."""
HEARTBEAT_LIVENESS = 3
"""A peer silent for this many heartbeat intervals is dead."""
