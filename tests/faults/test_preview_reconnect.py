"""A preview survives its worker's new connection.

A worker re-creates its command socket after a liveness period without a word from the broker.
Right after a takeover that can come just after the new broker adopted it on the old one, so a
preview sent there was lost with it and the caller waited out the whole preview timeout (seen in
the PostgreSQL takeover test of CI: the new dispatcher listed the voices, and the preview right
after answered an error instead of audio). The broker asks again on the worker's new connection."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from libs.contracts.bus import PreviewAudio, PreviewRequest, Ready, VoiceInfo
from tests.client import wait_until
from tests.faults.fake_renderer import bus_sockets, zmq_context
from tests.faults.scripted_peer import COMMANDS, next_reply

PEER = "preview-w0"
VOICE = VoiceInfo(voice="espeak#ko", engine="espeak", language="ko", name="Korean", kind="formant", sample_rate=22050)
SPOKEN = b"RIFF-the-peer-spoke-this"


def say_ready(dealer) -> None:
    dealer.send(COMMANDS.encode(Ready(worker_id=PEER, engines=["espeak"], incarnation="process-1", voices=[VOICE])))


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
def test_a_preview_asked_on_a_connection_its_worker_replaced_is_asked_again_on_the_new_one(fault_stack):
    with zmq_context() as context, fault_stack.client(timeout=30) as http, ThreadPoolExecutor(1) as caller:
        first, _ = bus_sockets(context, fault_stack, f"{PEER}/first")
        say_ready(first)
        wait_until(lambda: http.get("/api/v2/voices").json()["voices"], "the peer's voices listed")
        answered = caller.submit(
            http.post, "/api/v2/voices/preview", json={"voice": VOICE.voice, "language": "ko", "text": "안녕하세요."}
        )
        asked = next_reply(first, PreviewRequest)

        first.close(linger=0)  # the same process's new socket, as after a silence
        second, _ = bus_sockets(context, fault_stack, f"{PEER}/second")
        say_ready(second)
        asked_again = next_reply(second, PreviewRequest)
        assert asked_again.request_id == asked.request_id
        second.send(COMMANDS.encode(PreviewAudio(request_id=asked.request_id, audio=SPOKEN, voice_used=VOICE.voice)))

        response = answered.result(timeout=60)
    assert (response.status_code, response.headers["content-type"]) == (200, "audio/wav"), response.text
    assert response.content == SPOKEN
