"""What is cached, for how long, under which key, and what a change invalidates.

Pure. Keys are *versioned*: each entry's key embeds the current version of every scope it
depends on (a conversation, an opportunity, a rep, a team, everything, the organisation).
A change bumps those versions (one ``INCR`` each), so every entry that could show the
change becomes unreachable at once — no key scan, no delete — and simply expires by its TTL.
The caller's scope is part of every key, so one scope never reads another's answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from callstream_common.reads.scope import Scope, ScopeKind

PREFIX = "cs:rc"


class Layer(StrEnum):
    DETAILS = "details"
    LISTS = "lists"
    AGGREGATES = "aggregates"


class Entry(StrEnum):
    """A kind of cached answer, with its layer and its time to live."""

    CONVERSATION = "conversation"
    OPPORTUNITY = "opportunity"
    CONVERSATIONS = "conversations"
    OPPORTUNITIES = "opportunities"
    DASHBOARD = "dashboard"
    PERFORMANCE = "performance"

    @property
    def layer(self) -> Layer:
        return ENTRY_LAYER[self]

    @property
    def ttl_seconds(self) -> int:
        return ENTRY_TTL[self]


ENTRY_LAYER = {
    Entry.CONVERSATION: Layer.DETAILS,
    Entry.OPPORTUNITY: Layer.DETAILS,
    Entry.CONVERSATIONS: Layer.LISTS,
    Entry.OPPORTUNITIES: Layer.LISTS,
    Entry.DASHBOARD: Layer.AGGREGATES,
    Entry.PERFORMANCE: Layer.AGGREGATES,
}
ENTRY_TTL = {
    Entry.CONVERSATION: 24 * 3600,
    Entry.OPPORTUNITY: 30 * 60,
    Entry.CONVERSATIONS: 3600,
    Entry.OPPORTUNITIES: 10 * 60,
    Entry.DASHBOARD: 5 * 60,
    Entry.PERFORMANCE: 3600,
}

ORG = "org"
"""Bumped when reps, teams or credentials change: who sees what may have changed."""
EVERYTHING = "all"
TRACKERS = "trackers"
"""Bumped when a tracker is created, replaced or deleted: a list filtered by a tracker
depends on it (a name unknown a moment ago may now be one, and the other way round)."""


def conversation_scope(conversation_id: uuid.UUID | str) -> str:
    return f"conv:{conversation_id}"


def opportunity_scope(opportunity_id: uuid.UUID | str) -> str:
    return f"opp:{opportunity_id}"


def rep_scope(rep_id: str) -> str:
    return f"rep:{rep_id}"


def team_scope(team_id: str) -> str:
    return f"team:{team_id}"


def version_key(scope: str) -> str:
    return f"{PREFIX}:v:{scope}"


def caller_scopes(scope: Scope) -> list[str]:
    """The version scopes a caller-wide answer (dashboard, unfiltered list) depends on."""
    if scope.kind == ScopeKind.ALL:
        return [EVERYTHING]
    out = [rep_scope(scope.rep_id)] if scope.rep_id else []
    if scope.kind == ScopeKind.TEAM and scope.team_id:
        out.append(team_scope(scope.team_id))
    return out


def list_scopes(
    scope: Scope,
    rep_id: str | None = None,
    team_id: str | None = None,
    opportunity_id: uuid.UUID | None = None,
    tracker: str | None = None,
) -> list[str]:
    """A list depends only on its narrowest filter: a change elsewhere cannot alter it
    (and, filtered by a tracker, on the trackers' definitions too)."""
    trackers = [TRACKERS] if tracker is not None else []
    if opportunity_id is not None:
        return [opportunity_scope(opportunity_id), *trackers]
    if rep_id is not None:
        return [rep_scope(rep_id), *trackers]
    if team_id is not None:
        return [team_scope(team_id), *trackers]
    return [*caller_scopes(scope), *trackers]


def changed_scopes(
    conversation_id: uuid.UUID | str,
    rep_id: str | None,
    team_id: str | None,
    opportunity_id: uuid.UUID | str | None,
) -> list[str]:
    """Every version scope a change of one conversation can show up in."""
    out = [conversation_scope(conversation_id), EVERYTHING]
    if rep_id:
        out.append(rep_scope(rep_id))
    if team_id:
        out.append(team_scope(team_id))
    if opportunity_id:
        out.append(opportunity_scope(opportunity_id))
    return out


@dataclass(frozen=True)
class CacheRequest:
    """One cacheable read: what it is, for whom, which versions it depends on, its inputs."""

    entry: Entry
    scope: Scope
    depends_on: tuple[str, ...]
    params: Any = None

    def version_keys(self) -> list[str]:
        return [version_key(s) for s in (*self.depends_on, ORG)]

    def key(self, epoch: int, versions: list[int]) -> str:
        raw = json.dumps(
            [self.depends_on, self.params], sort_keys=True, default=str, separators=(",", ":")
        )
        digest = hashlib.sha256(raw.encode()).hexdigest()[:24]
        stamp = ".".join(str(v) for v in versions)
        return f"{PREFIX}:{epoch}:{self.entry.value}:{self.scope.key}:{stamp}:{digest}"
