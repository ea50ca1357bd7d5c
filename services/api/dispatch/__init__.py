"""The API side of the bus: a load-balancing broker with heartbeats (DESIGN §3)."""
