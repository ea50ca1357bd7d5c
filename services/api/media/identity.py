"""A media's id, derived from the uploaded bytes: the same upload is always the same media."""

import hashlib


def identity_of(upload: bytes) -> tuple[str, str]:
    """(hex SHA-256 of the upload, its media_id: `med-` + the first 32 hex digits)."""
    digest = hashlib.sha256(upload).hexdigest()
    return digest, f"med-{digest[:32]}"
