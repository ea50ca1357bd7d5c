"""Abuse limits and browser-facing hardening: write rate limit, WebSocket cap, CORS, security headers."""
