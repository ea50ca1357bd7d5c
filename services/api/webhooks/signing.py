"""Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
with the key given as `whsec_` + base64."""

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from libs.tokens import load_or_create_secret

SECRET_PREFIX = "whsec_"
SECRET_FILE = "webhook_secret"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def load_or_create_webhook_secret(configured: str | None, data_dir: Path) -> bytes:
    """The signing key: WEBHOOK_SECRET, or one generated once into the data dir (mode 0600)."""
    return secret_key(load_or_create_secret(configured, data_dir, SECRET_FILE, generate_secret))


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_…` secret; raises ValueError for anything else."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret must look like {SECRET_PREFIX}<base64>")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
