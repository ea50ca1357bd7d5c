"""Webhooks (SPEC §4): terminal job events go into an outbox in the transaction that ends the
job, and a delivery loop POSTs them, signed the Standard Webhooks way, until a 2xx or 24 h."""
