"""What is cached, for how long, under which key, and what a change invalidates.

Pure. Entries are *versioned*: each one depends on the current version of some scopes (a
conversation, an opportunity, a rep, a team, everything, the organisation) and carries
the versions it was computed at; a lookup reads those versions and the entry in one
round trip and takes the entry only if they are still the same. A change bumps versions
(one ``INCR`` each), so every entry that could show the change stops matching at once —
no key scan, no delete — and is overwritten or simply expires by its TTL.

A rep, team, opportunity or everything-scope has one version per *facet* of its calls:
which calls it holds (membership: upload, delete, reassignment), their status, and their
results (scores, qualification, transcript text). An entry depends only on the facets it
reads, so a status change does not drop an unfiltered newest-first page of ids whose
calls and order it cannot change (the page shows the new status through the item
summaries, each versioned by its conversation: see :mod:`callstream_ingest.cache.lists`).
The caller's scope is part of every key, so one scope never reads another's answer.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from callstream_common.reads.filters import ConversationQuery, Sort
from callstream_common.reads.scope import Scope, ScopeKind

PREFIX = "cs:rc"


class Layer(StrEnum):
    DETAILS = "details"
    LISTS = "lists"
    AGGREGATES = "aggregates"
    ITEMS = "items"
    """A conversation's list item, shared by every page that shows it."""


class Facet(StrEnum):
    """What about a scope's calls changed: each has its own version per scope."""

    MEMBERSHIP = "m"
    STATUS = "s"
    RESULTS = "r"


ALL_FACETS = frozenset(Facet)


class Entry(StrEnum):
    """A kind of cached answer, with its layer and its time to live."""

    CONVERSATION = "conversation"
    OPPORTUNITY = "opportunity"
    CONVERSATIONS = "conversations"
    OPPORTUNITIES = "opportunities"
    DASHBOARD = "dashboard"
    PERFORMANCE = "performance"
    ITEM = "item"

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
    Entry.ITEM: Layer.ITEMS,
}
ENTRY_TTL = {
    Entry.CONVERSATION: 24 * 3600,
    Entry.OPPORTUNITY: 30 * 60,
    Entry.CONVERSATIONS: 3600,
    Entry.OPPORTUNITIES: 10 * 60,
    Entry.DASHBOARD: 5 * 60,
    Entry.PERFORMANCE: 3600,
    Entry.ITEM: 24 * 3600,
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


def faceted(scopes: list[str], facets: frozenset[Facet] = ALL_FACETS) -> list[str]:
    """The facet versions ``facets`` of each scope (a conversation has one version: any
    change of it is a change of everything it shows)."""
    out: list[str] = []
    for s in scopes:
        if s.startswith("conv:"):
            out.append(s)
        else:
            out += [f"{s}#{f.value}" for f in Facet if f in facets]
    return out


def caller_scopes(scope: Scope) -> list[str]:
    """The scopes a caller-wide answer (dashboard, unfiltered list) is made of."""
    if scope.kind == ScopeKind.ALL:
        return [EVERYTHING]
    out = [rep_scope(scope.rep_id)] if scope.rep_id else []
    if scope.kind == ScopeKind.TEAM and scope.team_id:
        out.append(team_scope(scope.team_id))
    return out


def narrowest_scopes(
    scope: Scope,
    rep_id: str | None = None,
    team_id: str | None = None,
    opportunity_id: uuid.UUID | None = None,
) -> list[str]:
    """A list depends only on its narrowest filter: a change elsewhere cannot alter it."""
    if opportunity_id is not None:
        return [opportunity_scope(opportunity_id)]
    if rep_id is not None:
        return [rep_scope(rep_id)]
    if team_id is not None:
        return [team_scope(team_id)]
    return caller_scopes(scope)


def list_scopes(
    scope: Scope,
    rep_id: str | None = None,
    team_id: str | None = None,
    opportunity_id: uuid.UUID | None = None,
    tracker: str | None = None,
) -> list[str]:
    """Every facet of the narrowest scope (and, filtered by a tracker, the trackers'
    definitions): what a list that shows its calls' status and results depends on."""
    trackers = [TRACKERS] if tracker is not None else []
    return [*faceted(narrowest_scopes(scope, rep_id, team_id, opportunity_id)), *trackers]


def page_facets(query: ConversationQuery) -> frozenset[Facet]:
    """The facets that decide which calls a conversations page holds and in which order.

    Membership always; status only if the page is filtered by status; results if it is
    filtered or sorted by score or qualification, searched (transcript text) or filtered
    by a tracker hit. Dates, rep, team and opportunity never change after upload except
    by a reassignment, which is a membership change."""
    facets = {Facet.MEMBERSHIP}
    if query.status is not None:
        facets.add(Facet.STATUS)
    if (
        query.sort == Sort.SCORE
        or query.qualification_status is not None
        or query.min_score is not None
        or query.max_score is not None
        or query.q is not None
        or query.tracker is not None
    ):
        facets.add(Facet.RESULTS)
    return frozenset(facets)


def page_scopes(scope: Scope, query: ConversationQuery) -> list[str]:
    """What a page of conversation ids depends on: the facets it reads of its narrowest
    scope (and the trackers' definitions when filtered by one)."""
    narrowest = narrowest_scopes(scope, query.rep_id, query.team_id, query.opportunity_id)
    trackers = [TRACKERS] if query.tracker is not None else []
    return [*faceted(narrowest, page_facets(query)), *trackers]


def changed_scopes(
    conversation_id: uuid.UUID | str,
    rep_id: str | None,
    team_id: str | None,
    opportunity_id: uuid.UUID | str | None,
    facets: frozenset[Facet] = ALL_FACETS,
) -> list[str]:
    """Every version a change of ``facets`` of one conversation can show up in."""
    scopes = [EVERYTHING]
    if rep_id:
        scopes.append(rep_scope(rep_id))
    if team_id:
        scopes.append(team_scope(team_id))
    if opportunity_id:
        scopes.append(opportunity_scope(opportunity_id))
    return [conversation_scope(conversation_id), *faceted(scopes, facets)]


def stamp(versions: list[int]) -> bytes:
    """The versions an entry was computed at, as stored in front of it."""
    return ".".join(str(v) for v in versions).encode()


def versions_of(raw: list[bytes | None]) -> list[int]:
    return [int(v or 0) for v in raw]


def stamped(versions: list[int], body: bytes) -> bytes:
    """An entry as stored: the versions it was computed at, a newline, the entry."""
    return stamp(versions) + b"\n" + body


def current(raw: bytes | None, versions: list[int]) -> bytes | None:
    """The entry of a stored value if it was computed at ``versions``; None if there is
    none or a change has bumped one of them since (a miss)."""
    if raw is None:
        return None
    found, _, body = raw.partition(b"\n")
    return body if found == stamp(versions) else None


@dataclass(frozen=True)
class CacheRequest:
    """One cacheable read: what it is, for whom, which versions it depends on, its inputs."""

    entry: Entry
    scope: Scope
    depends_on: tuple[str, ...]
    params: Any = None

    def version_keys(self) -> list[str]:
        return [version_key(s) for s in (*self.depends_on, ORG)]

    def key(self, epoch: int) -> str:
        """Where the entry lives: the epoch, the kind, the caller's scope and a digest of
        its inputs (the versions are stored with the entry, not in the key, so a lookup
        reads them and the entry in one round trip)."""
        raw = json.dumps(
            [self.depends_on, self.params], sort_keys=True, default=str, separators=(",", ":")
        )
        digest = hashlib.sha256(raw.encode()).hexdigest()[:24]
        return f"{PREFIX}:{epoch}:{self.entry.value}:{self.scope.key}:{digest}"


def item_key(epoch: int, conversation_id: str) -> str:
    """A conversation's list item, shared by every page (of any scope) that lists it: the
    page, keyed by the caller's scope, decides what is shown; the item is the same row."""
    return f"{PREFIX}:{epoch}:{Entry.ITEM.value}:{conversation_id}"
