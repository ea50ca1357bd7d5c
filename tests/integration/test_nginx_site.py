"""deploy/nginx/slidereel.conf in a real nginx in front of the real API and renderer: HTTP goes
to HTTPS, the progress WebSocket upgrades through it, and asset files are streamed by nginx
(Range, validators, long caching) only after the API allowed them (X-Accel-Redirect)."""

import getpass
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.client import approved_script, new_video_id, start_render
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.stack import ROOT, Stack, free_port

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs the nginx binary (apt-get install nginx-light)")

SITE = ROOT / "deploy" / "nginx" / "slidereel.conf"
ACCEL_PREFIX = "/_slidereel_assets/"


class Nginx:
    """nginx running the deploy site with only its host-specific values replaced: ports, the
    certificate, the API instances' ports and the asset folder. The site's first instance is the
    stack's API; its second is a port nobody listens on, an instance that is down."""

    def __init__(self, folder: Path, stack: Stack) -> None:
        self.folder = folder
        self.access_log = folder / "slidereel.access.log"
        self.http_port, self.https_port = free_port(), free_port()
        self.down_port = free_port()
        certificate, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-keyout",
                str(key),
                "-out",
                str(certificate),
            ],
            check=True,
            capture_output=True,
        )
        site = SITE.read_text(encoding="utf-8")
        for deployed, here in {
            "server 127.0.0.1:8000 ": f"server 127.0.0.1:{stack.port} ",
            "server 127.0.0.1:8001 ": f"server 127.0.0.1:{self.down_port} ",
            "    listen [::]:80;\n": "",
            "    listen [::]:443 ssl http2;\n": "",
            "listen 80;": f"listen 127.0.0.1:{self.http_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{self.https_port} ssl http2;",
            "/etc/letsencrypt/live/slidereel.example.com/fullchain.pem": str(certificate),
            "/etc/letsencrypt/live/slidereel.example.com/privkey.pem": str(key),
            "alias /opt/slidereel/data/assets/;": f"alias {stack.asset_dir}/;",
            "root /var/www/html;": f"root {folder};",
            "/var/log/nginx/slidereel.access.log": str(self.access_log),
        }.items():
            assert deployed in site, f"the site no longer contains {deployed!r}; update this test"
            site = site.replace(deployed, here)
        (folder / "site.conf").write_text(site, encoding="utf-8")
        temp_paths = "\n".join(
            f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # `user` matters only when nginx starts as root: its workers must read the test's private folders.
        (folder / "nginx.conf").write_text(
            f"user {getpass.getuser()};\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            f"events {{}}\nhttp {{\n    include /etc/nginx/mime.types;\n    access_log {folder / 'access.log'};\n{temp_paths}\n"
            f"    include {folder / 'site.conf'};\n}}\n",
            encoding="utf-8",
        )
        self.command = ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")]
        self.process: subprocess.Popen | None = None

    def check_syntax(self) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, "-t"], capture_output=True, text=True)

    def start(self) -> None:
        self.process = subprocess.Popen([*self.command, "-g", "daemon off;"])
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.http_port}/", timeout=1)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, (self.folder / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Nginx]]:
    """A stack that hands asset files to nginx (small frames, one worker), behind the deploy site."""
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("nginx-stack"),
        workers=1,
        extra_env={"ASSET_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX, "RENDER_RESOLUTION": "320x180"},
    )
    folder = tmp_path_factory.mktemp("nginx")
    os.chmod(folder, 0o755)
    nginx = Nginx(folder, stack)
    with stack.running():
        nginx.start()
        try:
            yield stack, nginx
        finally:
            nginx.stop()


@pytest.fixture(scope="module")
def rendered(site: tuple[Stack, Nginx]) -> dict:
    """One job rendered entirely through nginx: REST over HTTPS and progress over wss://."""
    stack, nginx = site
    video_id = new_video_id("nginx")
    headers = {"Authorization": f"Bearer {stack.token()}"}
    with httpx.Client(base_url=nginx.https_url, headers=headers, verify=False, timeout=30) as http:
        job = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        url = f"wss://127.0.0.1:{nginx.https_port}/ws/videos/{video_id}/render-progress?job_id={job['job_id']}&last_seq=0&token={stack.token()}"
        with connect(url, ssl=unverified, open_timeout=10) as socket:
            events = [json.loads(message) for message in socket]
        return {"events": events, "job": http.get(f"/api/v2/videos/{video_id}/render-jobs/{job['job_id']}").json()}


@pytest.fixture
def browser(site: tuple[Stack, Nginx]) -> Iterator[httpx.Client]:
    """No token, like a <video src>."""
    with httpx.Client(base_url=site[1].https_url, verify=False, timeout=30) as client:
        yield client


def test_the_site_passes_nginx_syntax_check(site: tuple[Stack, Nginx]) -> None:
    result = site[1].check_syntax()
    assert result.returncode == 0, result.stderr


def test_plain_http_is_redirected_to_https(site: tuple[Stack, Nginx]) -> None:
    response = httpx.get(f"http://127.0.0.1:{site[1].http_port}/api/v2/videos/v/render-jobs?limit=5")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/api/v2/videos/v/render-jobs?limit=5"


def test_progress_websocket_upgrades_through_nginx_to_the_end(rendered: dict) -> None:
    statuses = [event.get("status") for event in rendered["events"]]
    assert rendered["events"][0]["type"] == "connected"
    assert statuses[-1] == "SUCCEEDED" and rendered["job"]["status"] == "SUCCEEDED"
    assert {event["step"] for event in rendered["events"] if event["type"] == "progress"} >= {"COMPOSE_VIDEO", "PUBLISH_ASSETS"}


def test_the_access_log_holds_the_progress_websocket_without_its_token(site: tuple[Stack, Nginx], rendered: dict) -> None:
    nginx = site[1]
    path = f"/ws/videos/{rendered['job']['video_id']}/render-progress"
    # nginx writes a request's line once the request ends, which for a WebSocket is after its close.
    deadline = time.monotonic() + 10
    while path not in (log := nginx.access_log.read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert f'"GET {path} HTTP/1.1" 101 ' in log
    assert "token=" not in log and "eyJ" not in log  # no query, no JWT anywhere


def test_nginx_streams_the_published_file_with_ranges_and_long_caching(
    site: tuple[Stack, Nginx], rendered: dict, browser: httpx.Client
) -> None:
    stack, _ = site
    job = rendered["job"]
    on_disk = (stack.asset_dir / job["video_id"] / job["job_id"] / "video.mp4").read_bytes()
    path = httpx.URL(job["assets"]["video_url"]).path

    # The API itself only allows the file and names it; nginx sends it.
    direct = httpx.get(f"{stack.base_url}{path}")
    assert direct.status_code == 200 and direct.content == b""
    assert direct.headers["x-accel-redirect"] == f"{ACCEL_PREFIX}{job['video_id']}/{job['job_id']}/video.mp4"

    whole = browser.get(path)
    assert whole.status_code == 200 and whole.content == on_disk
    assert whole.headers["content-type"] == "video/mp4"
    assert "immutable" in whole.headers["cache-control"] and "max-age=31536000" in whole.headers["cache-control"]
    assert "x-accel-redirect" not in whole.headers
    assert whole.headers["server"].startswith("nginx")

    part = browser.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == on_disk[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(on_disk)}"
    assert browser.get(path, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304

    subtitles = browser.get(httpx.URL(job["assets"]["vtt_url"]).path)
    assert subtitles.status_code == 200 and subtitles.headers["content-type"] == "text/vtt; charset=utf-8"
    assert subtitles.text.startswith("WEBVTT")

    # The API's CORS answer for the console's subtitle track survives nginx's internal redirect.
    track_path = httpx.URL(job["assets"]["vtt_url"]).path
    allowed = browser.get(track_path, headers={"Origin": stack.base_url})
    assert allowed.headers.get("access-control-allow-origin") == stack.base_url
    assert "origin" in allowed.headers.get("vary", "").lower()
    assert "access-control-allow-origin" not in browser.get(track_path, headers={"Origin": "https://evil.example"}).headers


def test_files_of_jobs_that_did_not_succeed_stay_hidden_though_on_disk(site: tuple[Stack, Nginx], browser: httpx.Client) -> None:
    stack, _ = site
    unpublished = stack.asset_dir / "nginx-video" / "job-00000000-0000-0000-0000-000000000000"
    unpublished.mkdir(parents=True)
    (unpublished / "video.mp4").write_bytes(b"not yours")

    through_api = browser.get("/assets/nginx-video/job-00000000-0000-0000-0000-000000000000/video.mp4")
    assert through_api.status_code == 404 and through_api.json()["error_code"] == "ASSET_NOT_FOUND"
    internal = browser.get(f"{ACCEL_PREFIX}nginx-video/job-00000000-0000-0000-0000-000000000000/video.mp4")
    assert internal.status_code == 404 and b"not yours" not in internal.content


def test_metrics_are_not_published_and_big_bodies_are_refused_in_the_api_shape(
    site: tuple[Stack, Nginx], browser: httpx.Client
) -> None:
    assert browser.get("/metrics").status_code == 403
    too_big = browser.put(
        "/api/v2/videos/v/scripts/s", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert too_big.status_code == 413 and too_big.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_an_instance_that_is_down_is_passed_over_even_by_posts(site: tuple[Stack, Nginx]) -> None:
    """nginx passes a POST on to the next instance when it could not be sent at all (connection
    refused), and every answer comes from the API that is up, none is nginx's 502."""
    stack, nginx = site
    refused_post = f'request: "POST /api/v2/videos/nginx-down/scripts/absent/approve HTTP/1.1", upstream: "http://127.0.0.1:{nginx.down_port}/'
    headers = {"Authorization": f"Bearer {stack.token()}"}
    with httpx.Client(base_url=nginx.https_url, headers=headers, verify=False, timeout=30) as http:
        deadline = time.monotonic() + 15  # the down instance is tried again fail_timeout (5 s) after it failed
        while True:
            response = http.post("/api/v2/videos/nginx-down/scripts/absent/approve")
            assert response.status_code == 404 and response.json()["error_code"], response.text
            if refused_post in (nginx.folder / "error.log").read_text():
                return
            assert time.monotonic() < deadline, "no POST was tried on the instance that is down"
            time.sleep(0.2)
