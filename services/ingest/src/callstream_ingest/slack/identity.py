"""Who a Slack user is in callstream.

A link made by an admin (``callstream slack link`` or ``POST /v1/slack/users``) matches the
Slack user id, or else the e-mail Slack reports for the user (``users.info``, scope
``users:read.email``); failing both, a rep whose e-mail is that address is that rep's user.
Anyone else is unmapped and is told how to get access: nothing of theirs is processed.
"""

from __future__ import annotations

import logging
import uuid

from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select

from callstream_common.db.models import Rep, Role
from callstream_common.db.slack_models import SlackUserLink
from callstream_ingest.auth import Principal
from callstream_ingest.slack.web import SlackWeb
from callstream_ingest.state import IngestState

log = logging.getLogger(__name__)

UNMAPPED_TEXT = (
    ":lock: Your Slack account is not linked to a callstream user yet. Ask a callstream "
    "admin to run `callstream slack link --slack-user {user} --role user --rep <your rep id>` "
    "(or to link your e-mail address)."
)


def _namespace(slack_user: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"slack-user:{slack_user}")


async def principal_for(st: IngestState, web: SlackWeb, slack_user: str) -> Principal | None:
    """The callstream principal of ``slack_user``, or None when unmapped."""
    async with st.sessions() as session:
        link = (
            await session.execute(
                select(SlackUserLink).where(SlackUserLink.slack_user_id == slack_user)  # type: ignore[arg-type]
            )
        ).scalar_one_or_none()
    email = None
    if link is None and web.configured:
        try:
            email = await web.user_email(slack_user)
        except SlackApiError as exc:
            log.info("users.info for %s failed: %s", slack_user, exc.response.get("error"))
    if link is None and email:
        async with st.sessions() as session:
            link = (
                await session.execute(
                    select(SlackUserLink).where(func.lower(SlackUserLink.email) == email)
                )
            ).scalar_one_or_none()
            if link is None:
                rep = (
                    await session.execute(select(Rep).where(func.lower(Rep.email) == email))
                ).scalar_one_or_none()
                if rep is not None:
                    return Principal(
                        _namespace(slack_user),
                        f"slack:{slack_user}",
                        Role.USER,
                        rep.id,
                        rep.team_id,
                    )
    if link is None:
        return None
    return Principal(link.id, f"slack:{slack_user}", Role(link.role), link.rep_id, link.team_id)
