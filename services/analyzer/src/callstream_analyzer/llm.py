"""MEDDIC analysis by a remote LLM: any OpenAI-compatible chat endpoint, or Google Gemini.

Both adapters share one flow, so they fail the same way:

1. The prompt carries the scoring rubric, the transcript with timestamps, and the JSON schema
   of ``MeddicAnalysis`` (without the fields we fill in ourselves: provider, model,
   agent_outputs); the provider is asked for JSON output natively (``response_format`` /
   ``responseMimeType``), which makes valid JSON likely but not certain.
2. The reply is parsed and validated by pydantic. If it is not valid, the model gets ONE
   repair turn with the validation errors; if that fails too, ``RetryableProviderError``
   (the next delivery of the event may get a better sample).
3. Each HTTP call retries inside the call (tenacity): 429 honouring ``Retry-After`` (capped),
   408/5xx, timeouts and connection errors, with exponential backoff; when attempts run out,
   ``RetryableProviderError``. 400/401/403/404 and other 4xx raise ``PermanentProviderError``
   at once: sending the same request again cannot help.
4. The overall score and status are recomputed from the six scores with the same weights and
   ``StatusPolicy`` as the built-in analyzer, so alerts mean the same thing whichever provider
   ran; the model's own figures are kept in ``agent_outputs``.

Keys are ``SecretStr``, sent only in headers (``Authorization: Bearer`` / ``x-goog-api-key``,
never the ``?key=`` query parameter, which would end up in access logs and in httpx's
exception messages), and scrubbed from any error text we build from a provider's reply.
"""

from __future__ import annotations

import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr, ValidationError
from tenacity import RetryCallState

from callstream_analyzer.errors import PermanentProviderError, RetryableProviderError
from callstream_analyzer.meddic import DEFAULT_WEIGHTS, StatusPolicy, fmt_ts, weighted_overall
from callstream_common.contracts import MeddicAnalysis, MeddicDimension, Transcript
from callstream_common.outbound_http import (
    InCallRetry,
    is_retryable_status,
    parse_retry_after,
    retrying,
)

log = logging.getLogger(__name__)

_OWN_FIELDS = ("provider", "model", "agent_outputs")


def response_schema() -> dict[str, Any]:
    """The JSON schema the model must follow: ``MeddicAnalysis`` minus the fields we set."""
    schema = MeddicAnalysis.model_json_schema()
    for name in _OWN_FIELDS:
        schema["properties"].pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    schema["required"] = sorted(
        set(schema.get("required", []))
        | {"dimensions", "overall_score", "qualification_status", "key_findings", "next_steps"}
        | {"risks"}
    )
    return schema


SYSTEM_PROMPT = """You are a sales-qualification analyst. Score a recorded sales call with MEDDIC.

For each of the six dimensions (metrics, economic_buyer, decision_criteria, decision_process,
identify_pain, champion) give exactly one assessment:
- score 1-5: 1 = not discussed; 2 = touched on but vague, unresolved, or only raised by the
  rep; 3 = the prospect spoke to it; 4 = specific (numbers, names, dates) on at least two
  aspects; 5 = complete and confirmed (e.g. the economic buyer is named, their authority is
  stated and the rep has access to them).
- Only statements by the prospect's side count as evidence. A question asked by the sales rep
  is never evidence on its own.
- evidence: verbatim quotes from the transcript, each with the start and end seconds and the
  speaker of the line it comes from (copy them from the [start-end] prefix).
- gaps: what is missing; recommendations: specific questions or actions for the rep.
- rationale: one or two sentences explaining the score from the evidence.
Then: overall_score = weighted mean of the six scores (identify_pain and economic_buyer weigh
1.25, decision_criteria 0.75, the others 1.0); qualification_status is "Strong" (>= 4.0 and no
dimension at 1), "Medium" (>= 3.0), "Weak" (>= 2.0), or "At Risk" (< 2.0 or two or more
dimensions at 1); key_findings (short sentences), next_steps (action + priority high, medium
or low) and risks (description + severity high, medium or low).

Reply with a single JSON object only, no prose and no code fences, valid against this JSON
schema:
"""


def format_transcript(transcript: Transcript, max_chars: int) -> tuple[str, bool]:
    """One line per segment, ``[start-end] speaker: text``; cut at ``max_chars``."""
    lines = []
    for seg in transcript.segments:
        text = " ".join(seg.text.split())
        if text:
            who = seg.speaker or "Speaker"
            lines.append(f"[{seg.start:.1f}-{seg.end:.1f}] {who}: {text}")
    body = "\n".join(lines)
    if len(body) <= max_chars:
        return body, False
    cut = body[:max_chars].rsplit("\n", 1)[0]
    return cut + "\n[transcript truncated]", True


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


class _Transient(Exception):
    """An HTTP attempt failed in a way that another attempt may fix."""

    def __init__(self, reason: str, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _InvalidOutput(Exception):
    """The model replied, but not with a valid analysis; ``errors`` go into the repair turn."""

    def __init__(self, errors: str, raw: str) -> None:
        super().__init__(errors)
        self.errors = errors
        self.raw = raw


def _strip_fences(text: str) -> str:
    m = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", text, re.S)
    return m.group(1) if m else text.strip()


class ChatAnalyzer(ABC):
    """The provider-independent part: prompt, validation, repair, retries, error mapping."""

    provider: str = "llm"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | str | None,
        model: str,
        timeout: float = 120.0,
        max_attempts: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        temperature: float = 0.0,
        max_transcript_chars: int = 300_000,
        status_policy: StatusPolicy | None = None,
        weights: Mapping[MeddicDimension, float] = DEFAULT_WEIGHTS,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``client`` is for tests and connection sharing; ``sleep`` lets tests observe the
        backoff without waiting. ``max_attempts`` counts HTTP attempts per request."""
        if not model:
            raise ValueError(f"{self.provider}: a model name is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        self._retry = InCallRetry(
            attempts=max_attempts,
            base_delay=backoff_base,
            max_delay=backoff_max,
            max_retry_after=max_retry_after,
            wait_out_long_retry_after=True,
        )
        self._temperature = temperature
        self._max_chars = max_transcript_chars
        self._policy = status_policy or StatusPolicy()
        self._weights = weights
        self._sleep = sleep
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    # ----------------------------------------------------------------- provider hooks

    @abstractmethod
    def _request(self, messages: list[Message]) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and JSON body of one completion request."""

    @abstractmethod
    def _reply_text(self, data: dict[str, Any]) -> str:
        """The model's text from a response body; PermanentProviderError if it was refused."""

    def _retry_after_from_body(self, response: httpx.Response) -> float | None:
        return None

    # ----------------------------------------------------------------- flow

    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        body, truncated = format_transcript(transcript, self._max_chars)
        system = SYSTEM_PROMPT + json.dumps(response_schema(), separators=(",", ":"))
        messages = [
            Message("system", system),
            Message(
                "user",
                f"Transcript (language {transcript.language}, "
                f"{fmt_ts(transcript.duration_seconds)} long). Each line is "
                f"[start-end seconds] speaker: text.\n\n{body}",
            ),
        ]
        raw = self._complete(messages)
        try:
            return self._validated(raw, transcript, repaired=False, truncated=truncated)
        except _InvalidOutput as first:
            log.warning(
                "analysis provider returned invalid output, asking for a repair",
                extra={"provider": self.provider, "model": self.model},
            )
            messages += [
                Message("assistant", first.raw[:20_000]),
                Message(
                    "user",
                    "Your reply is not valid against the schema:\n"
                    f"{first.errors}\n"
                    "Reply again with only the corrected JSON object.",
                ),
            ]
            raw = self._complete(messages)
            try:
                return self._validated(raw, transcript, repaired=True, truncated=truncated)
            except _InvalidOutput as second:
                raise RetryableProviderError(
                    f"{self.provider}: invalid analysis after one repair attempt: "
                    f"{second.errors[:500]}",
                    provider=self.provider,
                ) from None

    def _validated(
        self, raw: str, transcript: Transcript, *, repaired: bool, truncated: bool
    ) -> MeddicAnalysis:
        try:
            data = json.loads(_strip_fences(raw))
        except json.JSONDecodeError as e:
            raise _InvalidOutput(f"not JSON: {e}", raw) from None
        if not isinstance(data, dict):
            raise _InvalidOutput("the reply must be a JSON object", raw)
        own = {k: data.pop(k) for k in _OWN_FIELDS if k in data}
        try:
            parsed = MeddicAnalysis.model_validate({**data, "provider": self.provider})
        except ValidationError as e:
            lines = [
                f"- {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
                for err in e.errors(include_url=False)[:30]
            ]
            raise _InvalidOutput("\n".join(lines), raw) from None
        scores = {d.dimension: d.score for d in parsed.dimensions}
        overall = min(max(weighted_overall(scores, self._weights), 1.0), 5.0)
        return parsed.model_copy(
            update={
                "overall_score": overall,
                "qualification_status": self._policy.status(overall, scores.values()),
                "provider": self.provider,
                "model": self.model,
                "agent_outputs": {
                    "llm_overall_score": parsed.overall_score,
                    "llm_qualification_status": parsed.qualification_status.value,
                    "repaired": repaired,
                    "transcript_truncated": truncated,
                    "ignored_fields": sorted(own),
                    "segments": len(transcript.segments),
                },
            }
        )

    def _complete(self, messages: list[Message]) -> str:
        url, headers, body = self._request(messages)
        data = self._post(url, headers, body)
        try:
            return self._reply_text(data)
        except (KeyError, IndexError, TypeError):
            return ""  # an unexpected shape is treated like an invalid reply: repair, then retry

    # ----------------------------------------------------------------- HTTP

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "analysis provider call failed, retrying",
            extra={
                "provider": self.provider,
                "attempt": state.attempt_number,
                "reason": getattr(exc, "reason", type(exc).__name__),
                "sleep_seconds": round(state.upcoming_sleep, 2),
            },
        )

    def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        loop = retrying(self._retry, (_Transient,), self._before_sleep, sleep=self._sleep)
        try:
            for attempt in loop:
                with attempt:
                    return self._post_once(url, headers, body)
        except _Transient as e:
            raise RetryableProviderError(
                f"{self.provider}: {e.reason} after {self._retry.attempts} attempt(s)",
                provider=self.provider,
                status_code=e.status,
                retry_after=e.retry_after,
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _post_once(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(url, headers=headers, json=body)
        except httpx.TimeoutException as e:
            raise _Transient(f"timeout ({type(e).__name__})", None) from None
        except httpx.TransportError as e:
            raise _Transient(f"connection error ({type(e).__name__})", None) from None
        status = response.status_code
        if is_retryable_status(status):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is None and status == 429:
                retry_after = self._retry_after_from_body(response)
            raise _Transient(f"HTTP {status}", status, retry_after)
        if status >= 400:
            raise PermanentProviderError(
                f"{self.provider}: HTTP {status}: {self._error_detail(response)}",
                provider=self.provider,
                status_code=status,
            )
        try:
            data = response.json()
        except ValueError:
            raise _Transient("response body is not JSON", status) from None
        if not isinstance(data, dict):
            raise _Transient("response body is not a JSON object", status)
        return data

    def _error_detail(self, response: httpx.Response) -> str:
        """The provider's own error message, short and with the key scrubbed out."""
        try:
            err = response.json().get("error", {})
            text = err.get("message") if isinstance(err, dict) else str(err)
        except (ValueError, AttributeError):
            text = response.text
        return self._scrub(str(text or response.reason_phrase)[:300])

    def _scrub(self, text: str) -> str:
        key = self._api_key.get_secret_value()
        return text.replace(key, "***") if key else text


class OpenAIChatAnalyzer(ChatAnalyzer):
    """``POST {base_url}/chat/completions`` of OpenAI or any compatible server (Groq, vLLM,
    Ollama, LM Studio, ...). ``base_url`` includes the version, e.g.
    ``https://api.openai.com/v1``. ``response_format="json_schema"`` sends the schema as a
    (non-strict) structured-output schema too, for servers that support it."""

    provider = "openai"

    def __init__(self, *, response_format: str = "json_object", **kwargs: Any) -> None:
        if response_format not in {"json_object", "json_schema"}:
            raise ValueError("response_format must be 'json_object' or 'json_schema'")
        self._response_format = response_format
        super().__init__(**kwargs)

    def _request(self, messages: list[Message]) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        key = self._api_key.get_secret_value()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        fmt: dict[str, Any] = {"type": "json_object"}
        if self._response_format == "json_schema":
            fmt = {
                "type": "json_schema",
                "json_schema": {
                    "name": "meddic_analysis",
                    "schema": response_schema(),
                    "strict": False,
                },
            }
        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": self._temperature,
            "response_format": fmt,
        }
        return f"{self.base_url}/chat/completions", headers, body

    def _reply_text(self, data: dict[str, Any]) -> str:
        message = data["choices"][0]["message"]
        return str(message.get("content") or "")


class GeminiAnalyzer(ChatAnalyzer):
    """``POST {base_url}/v1beta/models/{model}:generateContent`` of the Gemini API, key in
    the ``x-goog-api-key`` header, JSON output via ``generationConfig.responseMimeType``."""

    provider = "gemini"

    _BLOCKED = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"})

    def _request(self, messages: list[Message]) -> tuple[str, dict[str, str], dict[str, Any]]:
        model = self.model.removeprefix("models/")
        headers = {"Content-Type": "application/json"}
        key = self._api_key.get_secret_value()
        if key:
            headers["x-goog-api-key"] = key
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in messages
            if m.role != "system"
        ]
        body = {
            "systemInstruction": {"parts": [{"text": system}]},
            "contents": contents,
            "generationConfig": {
                "responseMimeType": "application/json",
                "temperature": self._temperature,
            },
        }
        return f"{self.base_url}/v1beta/models/{model}:generateContent", headers, body

    def _reply_text(self, data: dict[str, Any]) -> str:
        candidates = data.get("candidates") or []
        if not candidates:
            reason = (data.get("promptFeedback") or {}).get("blockReason")
            if reason:
                raise PermanentProviderError(
                    f"gemini: prompt blocked ({reason})", provider=self.provider
                )
            return ""
        first = candidates[0]
        if first.get("finishReason") in self._BLOCKED:
            raise PermanentProviderError(
                f"gemini: response blocked ({first['finishReason']})", provider=self.provider
            )
        parts = (first.get("content") or {}).get("parts") or []
        return "".join(str(p.get("text", "")) for p in parts if not p.get("thought"))

    def _retry_after_from_body(self, response: httpx.Response) -> float | None:
        """Gemini states the wait in ``error.details[].retryDelay`` ("30s") of a 429."""
        try:
            details = response.json()["error"]["details"]
        except (ValueError, KeyError, TypeError):
            return None
        for item in details if isinstance(details, list) else []:
            delay = item.get("retryDelay") if isinstance(item, dict) else None
            m = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(delay or ""))
            if m:
                return float(m.group(1))
        return None


__all__ = [
    "SYSTEM_PROMPT",
    "ChatAnalyzer",
    "GeminiAnalyzer",
    "Message",
    "OpenAIChatAnalyzer",
    "format_transcript",
    "response_schema",
]
