"""The `slidereel` command: an operator's client of the HTTP API. It never touches the
database; it only reads the installation's token-signing key to mint tokens."""
