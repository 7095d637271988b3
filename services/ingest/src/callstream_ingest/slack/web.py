"""Ingest's side of Slack's Web API, through slack-sdk: files.info, users.info, thread
replies, ephemeral messages and ``response_url`` answers — plus the ``url_private``
download, which the SDK does not stream, as an aiohttp stream with the bot token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from callstream_ingest.settings import IngestSettings

log = logging.getLogger(__name__)
CHUNK_BYTES = 256 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)


def _retries() -> list[Any]:
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


class SlackWeb:
    """The bot's Web API client; ``None`` methods when no bot token is configured."""

    def __init__(self, settings: IngestSettings) -> None:
        token = settings.slack_bot_token
        self._token = token.get_secret_value() if token is not None else None
        self.client = AsyncWebClient(
            token=self._token,
            base_url=settings.slack_api_base_url.rstrip("/") + "/",
            timeout=10,
            retry_handlers=_retries(),
        )

    @property
    def configured(self) -> bool:
        return self._token is not None

    async def file_info(self, file_id: str) -> dict[str, Any]:
        data = (await self.client.files_info(file=file_id)).data
        assert isinstance(data, dict)
        return dict(data["file"])

    async def user_email(self, user_id: str) -> str | None:
        data = (await self.client.users_info(user=user_id)).data
        assert isinstance(data, dict)
        email = (data.get("user") or {}).get("profile", {}).get("email")
        return str(email).lower() if email else None

    async def reply(self, channel: str, thread_ts: str, text: str) -> None:
        await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        await self.client.chat_postEphemeral(channel=channel, user=user, text=text)

    async def download(self, url: str) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive (``url_private`` wants the bot token)."""
        headers = {"Authorization": f"Bearer {self._token}"}
        async with (
            aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status != 200:
                raise DownloadError(response.status)
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                yield chunk


async def respond(response_url: str, body: dict[str, Any]) -> None:
    """Answer a command or an interaction later through its ``response_url``."""
    hook = AsyncWebhookClient(response_url, timeout=10, retry_handlers=_retries())
    result = await hook.send_dict(body)
    if result.status_code != 200:
        log.warning("slack response_url answered %s", result.status_code)


class DownloadError(Exception):
    """Slack did not hand out the file (HTTP status)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"file download answered HTTP {status}")
        self.status = status
