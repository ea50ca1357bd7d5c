"""The `slidereel` command: a client of the HTTP API (it never touches the database)."""
