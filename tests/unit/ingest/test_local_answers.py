"""The read cache's answers in memory: kept by key, gone when a scope they were computed
from is bumped, never stored from a read that a bump overtook, bounded in bytes and age."""

from __future__ import annotations

from callstream_ingest.cache.local import LocalAnswers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_until_a_scope_it_depends_on_is_bumped() -> None:
    answers = LocalAnswers()
    since = answers.generation
    assert answers.put("team-a:list", b"A", ["team:a", "org"], since)
    assert answers.put("team-b:list", b"B", ["team:b", "org"], since)
    assert answers.get("team-a:list") == b"A"

    answers.bumped(["team:a"])

    assert answers.get("team-a:list") is None
    assert answers.get("team-b:list") == b"B", "another scope's answer stays"
    answers.bumped(["org"])
    assert len(answers) == 0
    assert answers.summary()["bytes"] == 0


def test_a_read_overtaken_by_a_bump_is_not_stored() -> None:
    """Read at version 1, bump to 2 applied, then the store: it must be refused, or the
    version-1 answer would stay with nothing left to remove it."""
    answers = LocalAnswers()
    since = answers.generation
    answers.bumped(["conv:1"])
    assert not answers.put("detail:1", b"old", ["conv:1"], since)
    assert answers.get("detail:1") is None
    assert answers.summary()["refused"] == 1
    assert answers.put("detail:1", b"new", ["conv:1"], answers.generation)
    assert answers.get("detail:1") == b"new"


def test_clearing_forgets_everything_and_refuses_older_reads() -> None:
    answers = LocalAnswers()
    since = answers.generation
    answers.put("k", b"x", ["s"], since)
    answers.clear()
    assert answers.get("k") is None
    assert not answers.put("k", b"x", ["s"], since)


def test_the_least_recently_used_answers_leave_first_beyond_the_byte_budget() -> None:
    answers = LocalAnswers(max_bytes=10)
    g = answers.generation
    answers.put("a", b"aaaa", ["s:a"], g)
    answers.put("b", b"bbbb", ["s:b"], g)
    assert answers.get("a") == b"aaaa"  # "b" is now the least recently used
    answers.put("c", b"cccc", ["s:c"], g)
    assert answers.get("b") is None
    assert answers.get("a") == b"aaaa" and answers.get("c") == b"cccc"
    assert answers.summary()["bytes"] == 8
    assert not answers.put("huge", b"x" * 11, ["s"], g), "larger than the whole budget"
    answers.bumped(["s:b"])  # its index entry went with it: nothing to remove, no error
    assert len(answers) == 2


def test_an_answer_older_than_the_max_age_is_not_served() -> None:
    clock = Clock()
    answers = LocalAnswers(max_age_seconds=300, clock=clock)
    answers.put("k", b"x", ["s"], answers.generation)
    clock.now = 299
    assert answers.get("k") == b"x"
    clock.now = 301
    assert answers.get("k") is None
    assert len(answers) == 0


def test_replacing_an_answer_keeps_the_byte_count_and_index_right() -> None:
    answers = LocalAnswers()
    g = answers.generation
    answers.put("k", b"first", ["s:1"], g)
    answers.put("k", b"second!", ["s:2"], g)
    assert answers.summary()["bytes"] == len(b"second!")
    answers.bumped(["s:1"])
    assert answers.get("k") == b"second!", "the old scopes no longer point at it"
    answers.bumped(["s:2"])
    assert answers.get("k") is None


def test_a_zero_budget_keeps_nothing() -> None:
    answers = LocalAnswers(max_bytes=0)
    assert not answers.enabled
    assert not answers.put("k", b"x", ["s"], answers.generation)
