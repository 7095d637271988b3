from __future__ import annotations

from pydantic import SecretStr

from callstream_common.settings import CommonSettings


class NotifierSettings(CommonSettings):
    service_name: str = "notifier"
    consumer_group: str = "notifier"
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    slack_webhook_url: SecretStr | None = None
    slack_api_base_url: str = "https://slack.com/api"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    console_base_url: str | None = None
    """Where the buttons point; defaults to ``public_base_url`` (the ingest API)."""
