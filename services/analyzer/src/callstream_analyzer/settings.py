from __future__ import annotations

from callstream_common.settings import CommonSettings
from pydantic import SecretStr


class AnalyzerSettings(CommonSettings):
    service_name: str = "analyzer"
    consumer_group: str = "analyzer"
    analyzer_provider: str = "builtin"
    """``builtin`` (offline: MiniLM embeddings + rules), ``openai`` (any OpenAI-compatible
    chat endpoint) or ``gemini``."""
    analyzer_base_url: str = "https://api.openai.com/v1"
    analyzer_api_key: SecretStr | None = None
    analyzer_model: str = "gpt-4o-mini"
