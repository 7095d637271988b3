"""Pick the analyzer from configuration: "builtin" (offline), "openai" or "gemini".

The built-in analyzer needs no settings; the remote ones take base URL, key and model, with
the public endpoints as defaults so that setting only a key works. Loading the embedding model
happens here, once, so a bad model file fails at start-up rather than on the first call.
"""

from __future__ import annotations

from pydantic import SecretStr

from callstream_analyzer.llm import GeminiAnalyzer, OpenAIChatAnalyzer
from callstream_analyzer.meddic import Analyzer, AnalyzerConfig, BuiltinMeddicAnalyzer, Embedder

PROVIDERS = ("builtin", "openai", "gemini")
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com",
}
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "gemini": "gemini-2.5-flash"}


def build_analyzer(
    provider: str = "builtin",
    base_url: str | None = None,
    api_key: SecretStr | str | None = None,
    model: str | None = None,
    *,
    timeout: float = 120.0,
    max_attempts: int = 4,
    max_retry_after: float = 60.0,
    openai_response_format: str = "json_object",
    embedder: Embedder | None = None,
    config: AnalyzerConfig | None = None,
) -> Analyzer:
    """An analyzer for ``provider``. ``embedder`` and ``config`` apply to "builtin" only
    (default: the process-wide MiniLM embedder); the other arguments to the remote ones."""
    name = provider.strip().lower()
    if name == "builtin":
        if embedder is None:
            from callstream_analyzer.embeddings import default_embedder

            embedder = default_embedder()
        return BuiltinMeddicAnalyzer(embedder, config)
    if name not in PROVIDERS:
        raise ValueError(f"unknown analysis provider {provider!r}; expected one of {PROVIDERS}")
    base = base_url or DEFAULT_BASE_URLS[name]
    chosen = model or DEFAULT_MODELS[name]
    if name == "openai":
        return OpenAIChatAnalyzer(
            response_format=openai_response_format,
            base_url=base,
            api_key=api_key,
            model=chosen,
            timeout=timeout,
            max_attempts=max_attempts,
            max_retry_after=max_retry_after,
        )
    return GeminiAnalyzer(
        base_url=base,
        api_key=api_key,
        model=chosen,
        timeout=timeout,
        max_attempts=max_attempts,
        max_retry_after=max_retry_after,
    )
