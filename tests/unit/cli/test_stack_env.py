"""Endpoints and the environment handed to services (``callstream stack env``)."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from typer.testing import CliRunner

from callstream_cli.main import app
from callstream_cli.stack.endpoints import StackEndpoints, export_lines
from callstream_cli.stack.settings import StackSettings

SERVICE_VARS = {
    "CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS",
    "CALLSTREAM_DATABASE_URL",
    "CALLSTREAM_S3_ENDPOINT",
    "CALLSTREAM_S3_ACCESS_KEY",
    "CALLSTREAM_S3_SECRET_KEY",
    "CALLSTREAM_S3_BUCKET",
    "CALLSTREAM_S3_SECURE",
    "CALLSTREAM_REDIS_URL",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
    "CALLSTREAM_ZIPKIN_UI_URL",
}


def test_service_env_for_the_dev_ports() -> None:
    env = StackEndpoints.from_settings(StackSettings()).service_env()
    assert set(env) == SERVICE_VARS
    assert env["CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert env["CALLSTREAM_DATABASE_URL"] == (
        "postgresql+asyncpg://callstream:callstream@127.0.0.1:15432/callstream"
    )
    assert env["CALLSTREAM_S3_ENDPOINT"] == "127.0.0.1:18333"
    assert env["CALLSTREAM_S3_SECURE"] == "false"
    assert env["CALLSTREAM_S3_BUCKET"] == "callstream"
    assert env["CALLSTREAM_REDIS_URL"] == "redis://127.0.0.1:16379/0"
    assert env["OTEL_TRACES_EXPORTER"] == "zipkin"
    assert env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == "http://127.0.0.1:19411/api/v2/spans"
    assert env["CALLSTREAM_ZIPKIN_UI_URL"] == "http://127.0.0.1:19411/zipkin/"


def test_database_url_quotes_special_characters() -> None:
    s = StackSettings(postgres_password="p@ss:w/rd#1", postgres_port=25432)
    url = StackEndpoints.from_settings(s).database_url.get_secret_value()
    assert url == "postgresql+asyncpg://callstream:p%40ss%3Aw%2Frd%231@127.0.0.1:25432/callstream"


def test_endpoints_hide_secrets_in_repr() -> None:
    endpoints = StackEndpoints.from_settings(StackSettings(s3_secret_key="s3-hush"))
    assert "s3-hush" not in repr(endpoints)
    assert "callstream:callstream@" not in repr(endpoints)


def test_export_lines_survive_the_shell() -> None:
    env = {"A": "plain", "B": "with space & $dollar 'quote'"}
    text = export_lines(env)
    assert text.splitlines()[0] == "export A=plain"
    out = subprocess.run(
        ["bash", "-c", f'{text}\nprintf "%s|%s" "$A" "$B"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "plain|with space & $dollar 'quote'"


def test_cli_env_follows_stack_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSTREAM_STACK_KAFKA_PORT", "29092")
    monkeypatch.setenv("CALLSTREAM_STACK_S3_SECRET_KEY", "sec ret")
    result = CliRunner().invoke(app, ["stack", "env"])
    assert result.exit_code == 0, result.output
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in result.output.splitlines()
    )
    assert set(exported) == SERVICE_VARS
    assert exported["CALLSTREAM_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29092"
    assert exported["CALLSTREAM_S3_SECRET_KEY"] == "sec ret"
