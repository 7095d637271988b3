"""What a credential may reach beyond reading one conversation (:func:`auth.can_see`):
for whom it may upload. (Which conversations the reads and operators' views show is
:class:`callstream_common.reads.scope.Scope`, applied in SQL by the query functions.)

One rule everywhere: a user reaches their own rep, a manager their team's reps (and their
own rep), an admin everything. Out of scope is answered like not found (404) on reads.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.db.models import Rep, Role
from callstream_ingest.auth import Principal
from callstream_ingest.errors import ApiError


async def ensure_may_upload_for(session: AsyncSession, who: Principal, rep_id: str) -> None:
    """Users upload their own calls, managers their team's reps' (which must exist)."""
    if who.role == Role.ADMIN or rep_id == who.rep_id:
        return
    if who.role == Role.USER:
        raise ApiError(403, "forbidden", "a user may upload only their own calls")
    rep = await session.get(Rep, rep_id)
    if rep is None or who.team_id is None or rep.team_id != who.team_id:
        raise ApiError(403, "forbidden", "a manager may upload only for reps of their team")
