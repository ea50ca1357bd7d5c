"""One provider's HTTP client for this process: retries inside a deadline, the circuit
breaker and the request rate cap, shared by every job the process renders."""

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from libs.redaction import redact
from services.renderer.tts.base import ProviderError, SynthesisCanceled, UsageCounter
from services.renderer.tts.cloud.circuit import Admission, CircuitBreaker
from services.renderer.tts.cloud.limits import CloudLimits
from services.renderer.tts.cloud.retry import backoff_seconds, retry_after_seconds
from services.renderer.tts.cloud.throttle import RequestRate

log = logging.getLogger(__name__)

USER_AGENT = "slidereel"
_BODY_CHARS = 200
_CANCEL_POLL_SEC = 0.1
_SHORTEST_TRY_SEC = 0.5


@dataclass(frozen=True)
class _Fault:
    error: ProviderError
    retry_after: float | None = None
    """Seconds the provider asked us to wait (Retry-After)."""


class CloudTransport:
    def __init__(
        self,
        provider: str,
        limits: CloudLimits,
        *,
        secret: str | None,
        credential_hint: str,
        refuses_key: Callable[[httpx.Response], bool] | None = None,
    ) -> None:
        """`credential_hint` names the settings an operator fixes when the provider refuses the
        key (e.g. AZURE_SPEECH_KEY); `secret` is scrubbed from every provider answer quoted;
        `refuses_key` spots a refused key the provider answers with another status than 401/403."""
        self.provider = provider
        self.limits = limits
        self.circuit = CircuitBreaker(limits.circuit_failures, limits.circuit_open_sec)
        self._rate = RequestRate(limits.requests_per_second)
        self._secret = secret
        self._credential_hint = credential_hint
        self._refuses_key = refuses_key
        self._client = httpx.Client(headers={"User-Agent": USER_AGENT}, follow_redirects=False)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
        characters: int = 0,
        deadline: float,
        cancel: threading.Event,
        usage: UsageCounter | None = None,
    ) -> httpx.Response:
        """The provider's successful answer. Faults the provider may get over (429, 5xx, resets,
        timeouts) are retried until `deadline` (monotonic); others raise at once. Raises
        ProviderError, or SynthesisCanceled as soon as `cancel` is set between tries."""
        tries = 0
        while True:
            admission = self._admit(deadline, cancel, usage)
            try:
                self._wait_for_rate_slot(cancel)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._out_of_time()
                if usage is not None:
                    usage.request(characters)
                tries += 1
                answer = self._try_once(method, url, headers, content, timeout=min(self.limits.request_timeout_sec, remaining))
            except BaseException:
                if admission is Admission.TRIAL:
                    self.circuit.release_trial()
                raise
            if isinstance(answer, httpx.Response):
                self.circuit.record_success(admission)
                return answer
            failure = answer.error
            if usage is not None:
                usage.error(failure.kind)
            if not failure.retryable:
                if admission is Admission.TRIAL:
                    self.circuit.release_trial()
                raise failure
            delay = answer.retry_after if answer.retry_after is not None else backoff_seconds(tries - 1)
            if admission is Admission.TRIAL or time.monotonic() + delay + self._shortest_try() >= deadline:
                self.circuit.record_failure(admission, str(failure))
                asked = f"; it asked for {answer.retry_after:.0f} s more" if answer.retry_after is not None else ""
                gave_up = f"{failure} (gave up after {tries} {'try' if tries == 1 else 'tries'}{asked})"
                raise ProviderError(gave_up, kind=failure.kind, retryable=True)
            log.info("%s; trying again in %.1f s", failure, delay)
            if cancel.wait(delay):
                raise SynthesisCanceled

    def _admit(self, deadline: float, cancel: threading.Event, usage: UsageCounter | None) -> Admission:
        while (admission := self.circuit.admit()) is Admission.AWAIT_TRIAL:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._out_of_time()
            if cancel.is_set():
                raise SynthesisCanceled
            self.circuit.await_trial(min(remaining, _CANCEL_POLL_SEC))
        if admission is Admission.REFUSED:
            if usage is not None:
                usage.error("circuit_open")
            raise ProviderError(
                f"{self.provider}: failing fast for {self.circuit.reopens_in():.0f} s more after "
                f"{self.limits.circuit_failures} failed requests in a row (TTS_CIRCUIT_FAILURES, TTS_CIRCUIT_OPEN_SEC); "
                f"the last one: {self.circuit.last_failure}",
                kind="circuit_open",
                retryable=True,
            )
        return admission

    def _shortest_try(self) -> float:
        """A retry left less time than this would only time out: give up instead."""
        return min(_SHORTEST_TRY_SEC, self.limits.request_timeout_sec)

    def _out_of_time(self) -> ProviderError:
        return ProviderError(f"{self.provider}: no time left for a request within this attempt", kind="timeout", retryable=True)

    def _wait_for_rate_slot(self, cancel: threading.Event) -> None:
        wait = self._rate.reserve()
        if cancel.is_set() or (wait > 0 and cancel.wait(wait)):
            raise SynthesisCanceled

    def _try_once(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None, *, timeout: float
    ) -> httpx.Response | _Fault:
        try:
            request = self._client.build_request(method, url, headers=headers, content=content, timeout=timeout)
            response = self._client.send(request)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            message = f"{self.provider}: {url} is not a URL it can send to (check the endpoint setting): {error}"
            return _Fault(ProviderError(message, kind="bad_request", retryable=False))
        except httpx.TimeoutException:
            message = f"{self.provider}: no answer from {url} within {timeout:.1f} s"
            return _Fault(ProviderError(message, kind="timeout", retryable=True))
        except httpx.TransportError as error:
            message = f"{self.provider}: {url}: {type(error).__name__}: {error}"
            return _Fault(ProviderError(message, kind="connection", retryable=True))
        if response.is_success:
            return response
        return _Fault(self._failure(response), retry_after_seconds(response.headers.get("Retry-After")))

    def _failure(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        request = response.request
        answer = f"{self.provider}: {request.method} {request.url} answered HTTP {status}: {self._quote(response)}"
        if status in (401, 403) or (self._refuses_key is not None and self._refuses_key(response)):
            return ProviderError(f"{answer}; check {self._credential_hint}", kind="auth", retryable=False)
        if status == 429:
            return ProviderError(answer, kind="rate_limited", retryable=True)
        if status == 408:
            return ProviderError(answer, kind="timeout", retryable=True)
        if status >= 500:
            return ProviderError(answer, kind="server_error", retryable=True)
        return ProviderError(answer, kind="bad_request", retryable=False)

    def _quote(self, response: httpx.Response) -> str:
        """The start of the provider's answer, safe to show: one line, short, the key masked."""
        body = re.sub(r"\s+", " ", response.text).strip()
        if self._secret:
            body = body.replace(self._secret, "***")
        body = redact(body)
        if len(body) > _BODY_CHARS:
            body = body[:_BODY_CHARS] + "…"
        return body or "(empty body)"
