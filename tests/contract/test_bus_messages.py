"""Every bus message survives the wire unchanged, and the decoders reject what they must."""

import json

import msgspec
import pytest

from libs.contracts.bus import (
    PROTOCOL_VERSION, Ack, Cancel, Disconnect, Heartbeat, JobFinished, Outcome, OutputSpec, Progress, Ready,
    Render, RenderedAssets, RunningJob, api_command_codec, progress_codec, renderer_codec,
)
from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Script
from tests.stack import FIXTURES

SCRIPT = msgspec.convert(json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8")), Script)
RUNNING = RunningJob(job_id="job-1", attempt=2)

TO_API = [
    Ready(worker_id="host-1-w0", engines=["espeak"], running_job=RUNNING),
    Ready(worker_id="host-1-w1"),
    Heartbeat(running_job=RUNNING),
    Heartbeat(),
    JobFinished(job_id="job-1", attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=12.5, sizes={"video.mp4": 10})),
    JobFinished(job_id="job-1", attempt=3, outcome=Outcome.FAILED, error_code=ErrorCode.TTS_FAILED, error_message="boom", retryable=True),
    JobFinished(job_id="job-1", attempt=1, outcome=Outcome.CANCELED),
    Disconnect(),
]
TO_RENDERER = [
    Render(job_id="job-1", video_id="v", attempt=1, script=SCRIPT, output=OutputSpec(storage_key="v/job-1", fps=30)),
    Cancel(job_id="job-1"),
    Ack(job_id="job-1", attempt=1),
    Heartbeat(),
]


@pytest.mark.parametrize("message", TO_API, ids=lambda m: type(m).__name__)
def test_renderer_to_api_round_trips(message):
    codec = api_command_codec()
    decoded = codec.decode(codec.encode(message))
    assert decoded == message and type(decoded) is type(message)
    assert decoded.protocol_version == PROTOCOL_VERSION


@pytest.mark.parametrize("message", TO_RENDERER, ids=lambda m: type(m).__name__)
def test_api_to_renderer_round_trips(message):
    codec = renderer_codec()
    assert codec.decode(codec.encode(message)) == message


def test_progress_round_trips():
    codec = progress_codec()
    event = Progress(job_id="job-1", video_id="v", attempt=1, seq=7, step=Step.COMPOSE_VIDEO, progress=55, ts=1.5)
    assert codec.decode(codec.encode(event)) == event


def test_a_command_meant_for_the_renderer_is_rejected_by_the_api_decoder():
    with pytest.raises(msgspec.ValidationError):
        api_command_codec().decode(renderer_codec().encode(Cancel(job_id="job-1")))


@pytest.mark.parametrize("frame", [b"", b"\xff\x00garbage", msgspec.msgpack.encode({"type": "nope"})])
def test_garbage_frames_raise_decode_errors(frame):
    with pytest.raises(msgspec.DecodeError):
        api_command_codec().decode(frame)


def test_unknown_fields_from_a_newer_peer_are_skipped():
    newer = msgspec.msgpack.encode({"type": "heartbeat", "protocol_version": 1, "running_job": None, "load": 0.5})
    assert api_command_codec().decode(newer) == Heartbeat()
