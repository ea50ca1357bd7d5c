"""Credentials are masked out of log text, the rest of the line is kept, and both log formats
write only masked lines."""

import json
import logging

from libs.logs import JsonFormatter, TextFormatter
from libs.redaction import redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0cyJ9.c2lnbmF0dXJlLXBhcnQ"


def test_credential_query_parameters_are_masked_and_the_other_parameters_kept():
    assert (
        redact(f"/ws/videos/v/render-progress?job_id=job-1&token={JWT}&last_seq=3")
        == "/ws/videos/v/render-progress?job_id=job-1&token=***&last_seq=3"
    )
    assert redact("/ws/videos/v/render-progress?ticket=Zx9_-abc") == "/ws/videos/v/render-progress?ticket=***"
    assert (
        redact("/assets/v/job-1/video.mp4?expires=1796300000&sig=9f86d08188")
        == "/assets/v/job-1/video.mp4?expires=1796300000&sig=***"
    )
    assert (
        redact("POST https://texttospeech.googleapis.com/v1/text:synthesize?key=AIzaSyA-b_c9&alt=json")
        == "POST https://texttospeech.googleapis.com/v1/text:synthesize?key=***&alt=json"
    )


def test_jwts_anywhere_and_url_passwords_are_masked():
    assert redact(f"authorization: Bearer {JWT}") == "authorization: Bearer ***"
    assert (
        redact("webhook to https://hook:s3cret@hooks.example.com/x failed")
        == "webhook to https://hook:***@hooks.example.com/x failed"
    )


def test_text_without_credentials_is_left_alone():
    for text in (
        "/ws/videos/v/render-progress?job_id=job-1&last_seq=0",
        "?mytoken=x&signal=1",
        "?monkey=1&keys=2",
        "tcp://127.0.0.1:5555",
        "http://127.0.0.1:8000/assets/v/j/video.mp4",
        "token budget of 3",
    ):
        assert redact(text) == text


def websocket_handshake() -> logging.LogRecord:
    """uvicorn's line for an accepted progress WebSocket, as it logs it."""
    return logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/ws/videos/v/render-progress?job_id=job-1&token={JWT}"),
        None,
    )


def test_both_formats_mask_the_token_of_a_websocket_handshake():
    as_json = JsonFormatter().format(websocket_handshake())
    assert (
        json.loads(as_json)["message"]
        == '127.0.0.1:5000 - "WebSocket /ws/videos/v/render-progress?job_id=job-1&token=***" [accepted]'
    )
    as_text = TextFormatter().format(websocket_handshake())
    assert as_text.endswith(
        'uvicorn         127.0.0.1:5000 - "WebSocket /ws/videos/v/render-progress?job_id=job-1&token=***" [accepted]'
    )
    assert JWT.split(".")[2] not in as_json + as_text
