from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from callstream_common import topics
from callstream_common.settings import CommonSettings


def chunk_topic_partitions() -> int:
    """Partitions the chunk topic is created with (``callstream stack up``/``init-remote``)."""
    specs = {t.name: t.partitions for t in topics.all_topics()}
    return specs[topics.TRANSCRIPTION_CHUNK_REQUESTED]


class TranscriberSettings(CommonSettings):
    service_name: str = "transcriber"
    consumer_group: str = "transcriber"
    metrics_port: int | None = 8101
    transcriber_provider: str = "builtin"
    """``builtin`` (local Whisper tiny.en), ``openai`` (any OpenAI-compatible
    /audio/transcriptions: Groq, OpenAI, a local server) or ``instant`` (benchmark mode:
    no speech recognition, a fixed transcript at once)."""
    transcriber_base_url: str = "https://api.groq.com/openai/v1"
    transcriber_api_key: SecretStr | None = None
    transcriber_model: str | None = None
    """Remote model name, e.g. ``whisper-large-v3-turbo`` on Groq; builtin: tiny.en."""
    transcriber_beam_size: int = 1
    transcriber_chunk_seconds: float = 300.0
    """Long calls are decoded in chunks of this length: peak memory follows the chunk,
    not the call (a 2-hour call peaks at about 1 GB with 300 s, model included)."""
    transcriber_chunk_threshold_seconds: float = Field(default=900.0, ge=0)
    """A call longer than this (15 min) is split at pauses into chunks of
    ``transcriber_chunk_seconds`` that every transcriber instance of the group takes from
    the chunk topic, so its time to transcript falls with the number of instances; shorter
    calls are transcribed whole by the instance that took them. 0: never split."""
    transcriber_chunk_partitions: int = Field(default_factory=chunk_topic_partitions, ge=1)
    """Partitions of ``transcription.chunk.requested`` (chunk i goes to partition i mod
    this): at most the topic's partition count, at least the number of instances."""
    transcriber_cpu_threads: int = 2
    work_dir: str | None = None

    @model_validator(mode="after")
    def _local_model_is_cpu_bound(self) -> Self:
        if self.transcriber_provider == "builtin":
            self.bound_by_cores(self.transcriber_cpu_threads)
        return self
