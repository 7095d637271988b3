"""Whose data a caller may read: everything (admin), a team's (manager), one rep's (user).

The scope is also part of every cache key, so an answer computed for one scope is never
served to another."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ScopeKind(StrEnum):
    ALL = "all"
    TEAM = "team"
    REP = "rep"


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    team_id: str | None = None
    rep_id: str | None = None
    """For a manager, their own rep (a manager may also carry calls of their own)."""

    @classmethod
    def everything(cls) -> Scope:
        return cls(ScopeKind.ALL)

    @classmethod
    def of(cls, role: str, rep_id: str | None, team_id: str | None) -> Scope:
        if role == "admin":
            return cls(ScopeKind.ALL)
        if role == "manager":
            return cls(ScopeKind.TEAM, team_id=team_id, rep_id=rep_id)
        return cls(ScopeKind.REP, rep_id=rep_id)

    @property
    def key(self) -> str:
        """A stable text naming the scope, for cache keys and cursor binding."""
        if self.kind == ScopeKind.ALL:
            return "all"
        if self.kind == ScopeKind.TEAM:
            return f"team:{self.team_id or '-'}:rep:{self.rep_id or '-'}"
        return f"rep:{self.rep_id or '-'}"

    def sees(self, rep_id: str, rep_team_id: str | None) -> bool:
        """Whether a call (or deal) of ``rep_id`` in ``rep_team_id`` is inside this scope."""
        if self.kind == ScopeKind.ALL:
            return True
        if self.rep_id is not None and rep_id == self.rep_id:
            return True
        return (
            self.kind == ScopeKind.TEAM and self.team_id is not None and rep_team_id == self.team_id
        )

    def sees_team(self, team_id: str) -> bool:
        return self.kind == ScopeKind.ALL or (
            self.kind == ScopeKind.TEAM and self.team_id == team_id
        )
