"""Where rendered files live: the local folder by default, an S3 object store with
`ASSET_STORE=s3://bucket/prefix` (DESIGN §8). Both the API and the renderer open it here."""

from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from libs.storage.base import MEDIA_FILE, AssetStore, StorageError, StoredFile, StoredFileMissing, job_key, media_key
from libs.storage.local import LocalFolderStore

__all__ = ["MEDIA_FILE", "AssetStore", "StorageError", "StoredFile", "StoredFileMissing", "job_key", "media_key", "open_asset_store", "store_of"]


def open_asset_store(store_url: str, asset_dir: Path, *, endpoint_url: str | None = None, timeout_sec: float = 30,
                     observe=None) -> AssetStore:
    """The store `store_url` names ("" for the local folder `asset_dir`). With S3, `asset_dir`
    holds only the renderer's staging folders. Raises ValueError for a URL it cannot use."""
    if not store_url:
        return LocalFolderStore(asset_dir)
    url = urlsplit(store_url)
    if url.scheme != "s3" or not url.netloc or url.query or url.fragment:
        raise ValueError(f"ASSET_STORE must be empty (the local folder) or s3://bucket/prefix, not {store_url!r}")
    # Imported only when used: the local default does not load the S3 client.
    from libs.storage.s3 import S3AssetStore

    return S3AssetStore(url.netloc, url.path.strip("/"), endpoint_url=endpoint_url, scratch_dir=asset_dir,
                        timeout_sec=timeout_sec, observe=observe)


class StoreSettings(Protocol):
    """The settings of the API and of the renderer that name the store (ASSET_STORE, S3_*)."""

    asset_store: str
    asset_dir: Path
    s3_endpoint_url: str | None
    s3_timeout_sec: float


def store_of(settings: StoreSettings, observe=None) -> AssetStore:
    return open_asset_store(settings.asset_store, settings.asset_dir, endpoint_url=settings.s3_endpoint_url,
                            timeout_sec=settings.s3_timeout_sec, observe=observe)
