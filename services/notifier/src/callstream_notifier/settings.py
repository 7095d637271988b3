from __future__ import annotations

from pydantic import SecretStr

from callstream_common.settings import CommonSettings


class NotifierSettings(CommonSettings):
    service_name: str = "notifier"
    consumer_group: str = "notifier"
    metrics_port: int | None = 8103
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    slack_webhook_url: SecretStr | None = None
    slack_api_base_url: str = "https://slack.com/api"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    dlq_consumer_group: str = "dlq-recorder"
    dlq_alert_threshold: int = 10
    """Alert when more than this many dead letters arrive within ``dlq_alert_window``."""
    dlq_alert_window_seconds: float = 60.0
    dlq_alert_cooldown_seconds: float = 300.0
    alert_rules_refresh_seconds: float = 5.0
    """How long the enabled alert rules read from the database serve every call before
    they are read again (0: read them for every call)."""
    console_base_url: str | None = None
    """Where the buttons point; defaults to ``public_base_url`` (the ingest API)."""
