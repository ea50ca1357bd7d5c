"""A real S3 API server for tests: moto's server mode (from PyPI, in memory), on a free port.

moto answers ranges, multipart uploads and conditional puts like S3 but checks no signature
(research/scale.md §5), so signing is tested by our own code, not through it."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.stack import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "slidereel-test", "AWS_SECRET_ACCESS_KEY": "slidereel-test-secret", "AWS_REGION": "us-east-1"}


@dataclass
class S3Server:
    host: str
    port: int
    refuse_credentials: bool = False
    """Turn moto's authentication on: every request is then signed with keys it does not know (403)."""
    process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Starts it (again, empty: moto keeps everything in memory) and waits until it answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **CREDENTIALS, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if self.refuse_credentials else {})},
        )
        give_up_at = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "the S3 server exited at start-up"
            try:
                urllib.request.urlopen(f"{self.endpoint_url}/", timeout=5).close()
                return
            except urllib.error.HTTPError:
                return  # it answered (403 when it checks credentials)
            except OSError:
                assert time.monotonic() < give_up_at, f"the S3 server at {self.endpoint_url} never answered"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def create_bucket(self, bucket: str) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/{bucket}", method="PUT"), timeout=30).close()

    def env(self, store_url: str) -> dict[str, str]:
        """What a process needs to use the store at `store_url` (s3://bucket/prefix) on this server."""
        return {"ASSET_STORE": store_url, "S3_ENDPOINT_URL": self.endpoint_url, **CREDENTIALS}


@contextmanager
def running_s3_server(
    host: str = "127.0.0.1", port: int | None = None, *, refuse_credentials: bool = False
) -> Iterator[S3Server]:
    server = S3Server(host=host, port=port or free_port(), refuse_credentials=refuse_credentials)
    try:
        server.start()
        yield server
    finally:
        server.stop()
