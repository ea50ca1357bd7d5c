"""Prometheus metrics (`GET /metrics`): the instruments and the scrape endpoint."""
