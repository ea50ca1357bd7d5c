"""The slidereel HTTP and WebSocket API (Litestar)."""
