"""Who is calling: JWT bearer tokens (Litestar's `litestar.security.jwt`) and ordered roles."""
