"""Every bus message survives the wire unchanged, and the decoders reject what they must."""

import json

import msgspec
import pytest

from libs.contracts.bus import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Disconnect,
    Heartbeat,
    Incompatible,
    JobFinished,
    Outcome,
    OutputSpec,
    Progress,
    ProtocolMismatch,
    Ready,
    Render,
    RenderedAssets,
    RenderRefused,
    RunningJob,
    ScenePreviewRequest,
    ScenePreviewVideo,
    api_command_codec,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Script
from tests.stack import FIXTURES

SCRIPT = msgspec.convert(json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8")), Script)
RUNNING = RunningJob(job_id="job-1", attempt=2)
EVENT = Progress(job_id="job-1", video_id="v", attempt=1, seq=7, step=Step.COMPOSE_VIDEO, progress=55, ts=1.5)

TO_API = [
    Ready(worker_id="host-1-w0", engines=["espeak"], running_job=RUNNING, renders_received=4),
    Ready(worker_id="host-1-w1"),
    Heartbeat(running_job=RUNNING, renders_received=3),
    Heartbeat(),
    JobFinished(
        job_id="job-1", attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=12.5, sizes={"video.mp4": 10})
    ),
    JobFinished(
        job_id="job-1", attempt=3, outcome=Outcome.FAILED, error_code=ErrorCode.TTS_FAILED, error_message="boom", retryable=True
    ),
    JobFinished(job_id="job-1", attempt=1, outcome=Outcome.CANCELED),
    JobFinished(job_id="job-1", attempt=2, outcome=Outcome.SUCCEEDED, final_progress=[EVENT]),
    RenderRefused(job_id="job-2", attempt=1, reason="busy with job-1 attempt 2", running_job=RUNNING),
    Disconnect(),
    ScenePreviewVideo(request_id="r1", video=b"\x00\x00\x00\x18ftypmp42", voice_used="espeak#ko"),
    ScenePreviewVideo(request_id="r2", error_code=ErrorCode.RENDER_FAILED, error_message="the picture is gone"),
]
TO_RENDERER = [
    Render(job_id="job-1", video_id="v", attempt=1, script=SCRIPT, output=OutputSpec(storage_key="v/job-1", fps=30)),
    Cancel(job_id="job-1"),
    Cancel(job_id="job-1", attempt=2),
    Ack(job_id="job-1", attempt=1),
    Heartbeat(),
    Incompatible(reason="protocol 1 is not 2"),
    ScenePreviewRequest(request_id="r1", video_id="v", script=SCRIPT, output=OutputSpec(storage_key=""), deadline_sec=60),
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
    assert codec.decode(codec.encode(EVENT)) == EVENT


def test_a_command_meant_for_the_renderer_is_rejected_by_the_api_decoder():
    with pytest.raises(msgspec.ValidationError):
        api_command_codec().decode(renderer_codec().encode(Cancel(job_id="job-1")))


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xff\x00garbage",
        msgspec.msgpack.encode({"type": "nope", "protocol_version": PROTOCOL_VERSION}),
        msgspec.msgpack.encode(["heartbeat", PROTOCOL_VERSION]),
    ],
)
def test_garbage_frames_raise_decode_errors(frame):
    with pytest.raises(msgspec.DecodeError):
        api_command_codec().decode(frame)


def test_unknown_fields_from_a_newer_peer_are_skipped():
    newer = msgspec.msgpack.encode({"type": "heartbeat", "protocol_version": PROTOCOL_VERSION, "running_job": None, "load": 0.5})
    assert api_command_codec().decode(newer) == Heartbeat()


@pytest.mark.parametrize("codec", [api_command_codec, renderer_codec, progress_codec], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "frame",
    [
        renderer_codec().encode(Heartbeat(protocol_version=99)),
        msgspec.msgpack.encode({"type": "a_message_of_the_future", "protocol_version": 99, "field": [1, 2]}),
        msgspec.msgpack.encode({"type": "heartbeat"}),  # no version at all reads as protocol 1
    ],
    ids=["known_type", "unknown_type", "no_version"],
)
def test_a_message_of_another_version_is_a_protocol_mismatch_not_garbage(codec, frame):
    with pytest.raises(ProtocolMismatch) as mismatch:
        codec().decode(frame)
    assert not isinstance(mismatch.value, msgspec.DecodeError), "callers must be able to tell the two apart"
    assert mismatch.value.version in (99, 1)


def test_the_brokers_incompatible_answer_carries_its_version_to_a_worker_of_another_one():
    frame = api_command_codec().encode(Incompatible(reason="speak 4", protocol_version=4))
    with pytest.raises(ProtocolMismatch) as mismatch:
        renderer_codec().decode(frame)
    assert (mismatch.value.message_type, mismatch.value.version) == ("incompatible", 4)
