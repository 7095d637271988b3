"""The organisation's trackers in PostgreSQL: written by ingest's admin API, read by the
analyzer before it looks for hits. Contracts in, contracts out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from callstream_common.contracts import TrackerDefinition, TrackerKind
from callstream_common.db.models import TrackerRow


class StoredTracker(TrackerDefinition):
    """A tracker as stored: its definition and its id, which stays the same when the
    definition is replaced (the conversations list may be filtered by either)."""

    id: uuid.UUID


def _definition(row: TrackerRow) -> StoredTracker:
    return StoredTracker(
        id=row.id,
        name=row.name,
        kind=TrackerKind(row.kind),
        phrases=row.phrases,
        threshold=row.threshold,
    )


async def list_trackers(session: AsyncSession) -> list[StoredTracker]:
    rows = (await session.execute(select(TrackerRow).order_by(col(TrackerRow.name)))).scalars()
    return [_definition(r) for r in rows]


async def get_tracker(session: AsyncSession, name: str) -> StoredTracker | None:
    row = (
        await session.execute(select(TrackerRow).where(col(TrackerRow.name) == name))
    ).scalar_one_or_none()
    return None if row is None else _definition(row)


async def tracker_by_reference(session: AsyncSession, reference: str) -> StoredTracker | None:
    """The tracker named ``reference``, else the one whose id it is (a name wins, so a
    tracker named like another's id is still found by its name)."""
    found = await get_tracker(session, reference)
    if found is not None:
        return found
    try:
        tracker_id = uuid.UUID(reference)
    except ValueError:
        return None
    row = await session.get(TrackerRow, tracker_id)
    return None if row is None else _definition(row)


async def put_tracker(session: AsyncSession, tracker: TrackerDefinition) -> bool:
    """Create or replace the tracker of that name; True if it was created."""
    table = TrackerRow.__table__  # type: ignore[attr-defined]
    values = {
        "kind": tracker.kind.value,
        "phrases": list(tracker.phrases),
        "threshold": tracker.threshold,
        "updated_at": datetime.now(UTC),
    }
    existed = await get_tracker(session, tracker.name) is not None
    await session.execute(
        insert(table)
        .values(id=uuid.uuid4(), name=tracker.name, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values)
    )
    return not existed


async def delete_tracker(session: AsyncSession, name: str) -> bool:
    """True if a tracker of that name existed."""
    result = await session.execute(delete(TrackerRow).where(col(TrackerRow.name) == name))
    return bool(getattr(result, "rowcount", 0))
