from __future__ import annotations

from typing import Self

from pydantic import SecretStr, model_validator

from callstream_common.settings import CommonSettings


class AnalyzerSettings(CommonSettings):
    service_name: str = "analyzer"
    consumer_group: str = "analyzer"
    metrics_port: int | None = 8102
    analyzer_provider: str = "builtin"
    """``builtin`` (offline: MiniLM embeddings + rules), ``openai`` (any OpenAI-compatible
    chat endpoint), ``gemini``, or ``instant`` (benchmark mode: a fixed scorecard at once)."""
    analyzer_base_url: str | None = None
    """Defaults to the provider's public endpoint (OpenAI, Gemini)."""
    analyzer_api_key: SecretStr | None = None
    analyzer_model: str | None = None
    """Remote model name (e.g. ``gpt-4o-mini``, ``gemini-2.0-flash``); unused by builtin."""
    tracker_refresh_seconds: float = 30.0
    """How often the organisation's tracker definitions are re-read from the database."""

    @model_validator(mode="after")
    def _local_model_is_cpu_bound(self) -> Self:
        if self.analyzer_provider == "builtin":
            self.bound_by_cores()
        return self
