"""Who is calling: the API's side of `libs.tokens`, checking bearer tokens (Litestar's
`litestar.security.jwt`) and guarding routes by role."""
