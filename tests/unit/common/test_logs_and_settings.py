from __future__ import annotations

import json
import logging

import pytest

from callstream_common.logs import redact, setup_logging
from callstream_common.settings import CommonSettings


def test_redact_masks_tokens_passwords_and_url_credentials() -> None:
    text = (
        "Authorization: Bearer cs_abcdefghijklmnop postgresql://u:hunter2@db/x "
        "api_key=sk-123456 slack xoxb-1234-5678-abcdef"
    )
    cleaned = redact(text)
    for secret in ("cs_abcdefghijklmnop", "hunter2", "sk-123456", "1234-5678-abcdef"):
        assert secret not in cleaned
    assert "Bearer ***" in cleaned


def test_settings_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSTREAM_S3_SECRET_KEY", "very-secret-value")
    monkeypatch.setenv("CALLSTREAM_DATABASE_URL", "postgresql+asyncpg://u:pw-secret@h/db")
    settings = CommonSettings()
    assert settings.s3_secret_key.get_secret_value() == "very-secret-value"
    dumped = repr(settings) + str(settings.model_dump())
    assert "very-secret-value" not in dumped and "pw-secret" not in dumped


def test_json_logs_carry_trace_ids_and_no_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    setup_logging("svc", "INFO", json_output=True)
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("x").info("calling with Bearer cs_supersecrettoken123")
        trace_id = format(span.get_span_context().trace_id, "032x")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["trace_id"] == trace_id and record["service"] == "svc"
    assert "supersecrettoken" not in line
