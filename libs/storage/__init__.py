"""Where rendered files live: the local folder by default, an S3 object store with
`ASSET_STORE=s3://bucket/prefix` (DESIGN §8). Both the API and the renderer open it here."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from libs.environment import env, optional_env
from libs.storage.base import MEDIA_FILE, AssetStore, StorageError, StoredFile, StoredFileMissing, job_key, media_key

__all__ = [
    "MEDIA_FILE",
    "AssetStore",
    "StorageError",
    "StoreSettings",
    "StoredFile",
    "StoredFileMissing",
    "job_key",
    "media_key",
    "open_asset_store",
    "store_of",
]


def open_asset_store(
    store_url: str,
    asset_dir: Path,
    *,
    endpoint_url: str | None = None,
    timeout_sec: float = 30,
    observe: Callable[[str, str], None] | None = None,
) -> AssetStore:
    """The store `store_url` names ("" for the local folder `asset_dir`). With S3, `asset_dir`
    holds only the renderer's staging folders. Raises ValueError for a URL it cannot use."""
    # Each backend is imported only when used: the settings below are read by the CLI too.
    if not store_url:
        from libs.storage.local import LocalFolderStore

        return LocalFolderStore(asset_dir)
    url = urlsplit(store_url)
    if url.scheme != "s3" or not url.netloc or url.query or url.fragment:
        raise ValueError(f"ASSET_STORE must be empty (the local folder) or s3://bucket/prefix, not {store_url!r}")
    from libs.storage.s3 import S3AssetStore

    return S3AssetStore(
        url.netloc,
        url.path.strip("/"),
        endpoint_url=endpoint_url,
        scratch_dir=asset_dir,
        timeout_sec=timeout_sec,
        observe=observe,
    )


@dataclass(frozen=True, kw_only=True)
class StoreSettings:
    """The settings that name the store, the same on the API and the renderers: both of their
    settings classes extend this one."""

    asset_dir: Path = field(default_factory=lambda: Path(env("ASSET_DIR", "./data/assets")))
    """The local store's folder; with an object store, only a renderer's staging folders."""
    asset_store: str = field(default_factory=lambda: env("ASSET_STORE", ""))
    """"" for the local folder ASSET_DIR, or s3://bucket/prefix."""
    s3_endpoint_url: str | None = field(default_factory=lambda: optional_env("S3_ENDPOINT_URL"))
    s3_timeout_sec: float = field(default_factory=lambda: float(env("S3_TIMEOUT_SEC", "30")))
    """An S3 operation that takes longer fails (STORAGE_FAILED for a render, which is retried; 503 for a request)."""


def store_of(settings: StoreSettings, observe: Callable[[str, str], None] | None = None) -> AssetStore:
    """open_asset_store with what `settings` say (ASSET_STORE, ASSET_DIR, S3_*)."""
    return open_asset_store(
        settings.asset_store,
        settings.asset_dir,
        endpoint_url=settings.s3_endpoint_url,
        timeout_sec=settings.s3_timeout_sec,
        observe=observe,
    )
