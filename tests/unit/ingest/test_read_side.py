"""Pure rules of the read side: filters and cursors, cache keys and invalidation scopes,
the circuit breaker, byte ranges, the deal picture and performance statistics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from callstream_common.contracts import MeddicDimension
from callstream_common.org import ORG_VERSION_KEY
from callstream_common.reads.conversations import (
    TRACKER_SQL,
    ConversationItem,
    ConversationPage,
    filter_sql,
)
from callstream_common.reads.deals import CallSnapshot, DimensionSnapshot, deal_picture
from callstream_common.reads.filters import (
    ConversationQuery,
    CursorError,
    HitRole,
    Sort,
    decode_cursor,
    encode_cursor,
)
from callstream_common.reads.performance import PerfBucket, compare_reps, summarise
from callstream_common.reads.scope import Scope, ScopeKind
from callstream_ingest.cache import lists
from callstream_ingest.cache.invalidation import RecentCommits, notification_scopes
from callstream_ingest.cache.policy import (
    ORG,
    TRACKERS,
    CacheRequest,
    Entry,
    Facet,
    Layer,
    changed_scopes,
    current,
    list_scopes,
    page_facets,
    page_scopes,
    stamped,
    version_key,
)
from callstream_ingest.cache.store import BreakerState, CircuitBreaker, Outcome
from callstream_ingest.read.common import composed_outcome
from callstream_ingest.read.ranges import UnsatisfiableRange, parse_range

ADMIN = Scope.of("admin", None, None)
MANAGER = Scope.of("manager", "rep-m", "team-east")
USER = Scope.of("user", "rep-a", None)


def test_a_cursor_round_trips_and_is_bound_to_its_query_and_scope() -> None:
    q = ConversationQuery(status="completed")  # type: ignore[arg-type]
    fp = q.fingerprint(USER.key)
    at = datetime(2026, 5, 1, tzinfo=UTC)
    ident = uuid.uuid4()
    token = encode_cursor(fp, Sort.NEWEST, at, ident)
    assert decode_cursor(token, fp, Sort.NEWEST) == (at, ident)
    with pytest.raises(CursorError, match="another query"):
        decode_cursor(token, ConversationQuery().fingerprint(USER.key), Sort.NEWEST)
    with pytest.raises(CursorError, match="another query"):
        decode_cursor(token, q.fingerprint(ADMIN.key), Sort.NEWEST)
    with pytest.raises(CursorError, match="another query"):
        decode_cursor(token, fp, Sort.SCORE)
    for bad in ("", "%%%", "bm90LWpzb24", encode_cursor(fp, Sort.SCORE, "x", ident)):
        with pytest.raises(CursorError):
            decode_cursor(bad, fp, Sort.SCORE)


def test_a_filter_the_scope_already_applies_is_dropped() -> None:
    """A user asking for their own rep's calls asks the same as asking for all they see: one
    cache entry and one cursor binding for both spellings."""
    own = ConversationQuery(rep_id="rep-a").within(USER)
    assert own == ConversationQuery()
    assert own.fingerprint(USER.key) == ConversationQuery().fingerprint(USER.key)
    other = ConversationQuery(rep_id="rep-b")
    assert other.within(USER) == other, "another rep stays: the scope check answers 404"
    manager = Scope.of("manager", "rep-m", "team-east")
    mine = ConversationQuery(rep_id="rep-m")
    assert mine.within(manager) == mine, "a manager's own rep is a narrower filter"
    assert ConversationQuery(rep_id="rep-a").within(Scope.everything()).rep_id == "rep-a"


def test_the_page_and_limit_do_not_change_the_fingerprint() -> None:
    a = ConversationQuery(limit=10)
    b = ConversationQuery(limit=50, cursor="abc")
    assert a.fingerprint("all") == b.fingerprint("all")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"min_score": 4, "max_score": 2}, "max_score"),
        ({"from": "2026-05-02T00:00:00", "to": "2026-05-01T00:00:00"}, "to"),
        ({"limit": 101}, "limit"),
        ({"q": "x" * 201}, "q"),
        ({"status": "done"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"tracker": "x" * 81}, "tracker"),
        ({"tracker": "pricing", "speaker_role": "caller"}, "speaker_role"),
        ({"speaker_role": "prospect"}, "speaker_role"),
    ],
)
def test_a_bad_query_names_its_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        ConversationQuery.model_validate(data)
    assert field in [str(e["loc"][0]) for e in err.value.errors()]


def test_cache_keys_carry_scope_and_inputs_and_entries_their_versions() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    a = CacheRequest(Entry.CONVERSATION, USER, (f"conv:{one}",))
    b = CacheRequest(Entry.CONVERSATION, USER, (f"conv:{two}",))
    c = CacheRequest(Entry.CONVERSATION, ADMIN, (f"conv:{one}",))
    assert len({a.key(1), b.key(1), c.key(1), a.key(2)}) == 4
    assert a.version_keys()[-1] == version_key(ORG) == ORG_VERSION_KEY
    stored = stamped([3, 0], b"body")
    assert current(stored, [3, 0]) == b"body"
    assert current(stored, [4, 0]) is None, "a bump since it was computed: a miss"
    assert current(stored, [3]) is None and current(None, [3, 0]) is None


def test_ttls_and_layers_follow_the_policy() -> None:
    assert Entry.CONVERSATION.ttl_seconds == 24 * 3600
    assert Entry.OPPORTUNITY.ttl_seconds == 1800
    assert Entry.CONVERSATIONS.ttl_seconds == 3600
    assert Entry.OPPORTUNITIES.ttl_seconds == 600
    assert Entry.DASHBOARD.ttl_seconds == 300
    assert Entry.PERFORMANCE.ttl_seconds == 3600
    assert {e.layer for e in Entry} == set(Layer)


def test_a_list_depends_on_its_narrowest_filter_and_a_change_reaches_every_scope() -> None:
    opp = uuid.uuid4()
    every = ["#m", "#s", "#r"]
    assert list_scopes(ADMIN, rep_id="rep-a", opportunity_id=opp) == [
        f"opp:{opp}{f}" for f in every
    ]
    assert list_scopes(ADMIN, rep_id="rep-a") == [f"rep:rep-a{f}" for f in every]
    assert list_scopes(ADMIN) == [f"all{f}" for f in every]
    assert list_scopes(MANAGER) == [
        f"{s}{f}" for s in ("rep:rep-m", "team:team-east") for f in every
    ]
    assert list_scopes(USER) == [f"rep:rep-a{f}" for f in every]
    conv = uuid.uuid4()
    changed = set(changed_scopes(conv, "rep-a", "team-east", opp))
    assert changed == {f"conv:{conv}"} | {
        f"{s}{f}" for s in ("all", "rep:rep-a", "team:team-east", f"opp:{opp}") for f in every
    }
    for scope in (ADMIN, USER, Scope.of("manager", None, "team-east")):
        assert set(list_scopes(scope)) & changed
    # Filtered by a tracker, a list also moves on when a tracker is created or deleted.
    assert list_scopes(USER, tracker="pricing")[-1] == TRACKERS
    assert page_scopes(USER, ConversationQuery(tracker="pricing"))[-1] == TRACKERS


def test_a_page_of_ids_depends_only_on_the_facets_its_filters_and_sort_read() -> None:
    newest = ConversationQuery()
    assert page_facets(newest) == {Facet.MEMBERSHIP}
    assert page_facets(ConversationQuery(status="completed")) == {  # type: ignore[arg-type]
        Facet.MEMBERSHIP,
        Facet.STATUS,
    }
    for query in (
        ConversationQuery(sort=Sort.SCORE),
        ConversationQuery(min_score=3.5),
        ConversationQuery(qualification_status="Strong"),  # type: ignore[arg-type]
        ConversationQuery(q="pricing"),
        ConversationQuery(tracker="pricing"),
    ):
        assert page_facets(query) == {Facet.MEMBERSHIP, Facet.RESULTS}, query
    conv = uuid.uuid4()
    status_change = set(changed_scopes(conv, "rep-a", "team-east", None, frozenset({Facet.STATUS})))
    upload = set(changed_scopes(conv, "rep-a", "team-east", None, frozenset({Facet.MEMBERSHIP})))
    for scope in (ADMIN, USER, MANAGER):
        assert not set(page_scopes(scope, newest)) & status_change, scope
        status_page = page_scopes(scope, ConversationQuery(status="completed"))  # type: ignore[arg-type]
        assert set(status_page) & status_change, scope
        assert set(page_scopes(scope, newest)) & upload, scope
    assert f"conv:{conv}" in status_change, "the item and the detail always move on"
    assert page_scopes(USER, ConversationQuery(rep_id="rep-b")) == ["rep:rep-b#m"]


def test_a_composed_page_is_byte_for_byte_the_computed_one() -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    items = [
        ConversationItem(
            id=uuid.uuid4(),
            title=f"call {n} \u00e9",
            company_name=None if n else "Acme",
            opportunity_id=None,
            opportunity_name="deal",
            rep_id="rep-a",
            status="completed",
            overall_score=3.25 if n else None,
            qualification_status="Strong",
            duration_seconds=61.5,
            created_at=at,
            completed_at=None,
        )
        for n in range(3)
    ]
    for cursor in (None, 'abc"d'):
        page = ConversationPage(items=items, next_cursor=cursor, limit=3)
        ids = lists.read_ids(lists.ids_of(page))
        bodies = {str(i.id): lists.item_body(i) for i in items}
        assert lists.compose(ids, bodies) == page.model_dump_json().encode()
        assert json.loads(lists.compose(ids, {})) == {
            "items": [],
            "next_cursor": cursor,
            "limit": 3,
        }


def test_a_commit_notification_bumps_the_facets_that_changed_and_the_scopes_left() -> None:
    conv, opp = uuid.uuid4(), uuid.uuid4()
    payload = {"id": str(conv), "rep_id": "rep-a", "team_id": "team-east", "at": 10.0}
    status = notification_scopes(json.dumps(payload | {"facets": ["s"]}))
    assert status is not None and status.facets == {Facet.STATUS} and status.at == 10.0
    assert set(status.scopes) == {f"conv:{conv}", "all#s", "rep:rep-a#s", "team:team-east#s"}
    moved = notification_scopes(
        json.dumps(
            payload
            | {
                "facets": ["m"],
                "old_rep_id": "rep-c",
                "old_team_id": "team-west",
                "old_opportunity_id": str(opp),
            }
        )
    )
    assert moved is not None
    assert {"rep:rep-c#m", "team:team-west#m", f"opp:{opp}#m", "rep:rep-a#m"} <= set(moved.scopes)
    older = notification_scopes(json.dumps(payload))
    assert older is not None and older.facets == set(Facet), "no facets named: all of them"
    assert notification_scopes("not json") is None


def test_an_event_the_commit_feed_already_invalidated_bumps_nothing_again() -> None:
    commits = RecentCommits(max_entries=2)
    both = frozenset({Facet.STATUS, Facet.RESULTS})
    commits.saw("c1", frozenset({Facet.STATUS}), 10.0)
    assert not commits.covers("c1", both, 9.5), "results not invalidated yet"
    commits.saw("c1", frozenset({Facet.RESULTS}), 10.1)
    assert commits.covers("c1", both, 9.5)
    assert not commits.covers("c1", both, 10.05), "a change after the commit seen"
    assert not commits.covers("c1", both, None)
    commits.saw("c2", both, 1.0)
    commits.saw("c3", both, 1.0)
    assert not commits.covers("c1", both, 9.5), "forgotten: an extra bump, never a missed one"


def test_the_tracker_filter_is_one_containment_test_bound_into_the_cursor() -> None:
    plain = ConversationQuery(tracker="pricing")
    said = ConversationQuery(tracker="pricing", speaker_role=HitRole.PROSPECT)
    where, params = filter_sql(said)
    assert where == [TRACKER_SQL]
    assert json.loads(params["tracker_hit"]) == [{"tracker": "pricing", "role": "prospect"}]
    assert json.loads(filter_sql(plain)[1]["tracker_hit"]) == [{"tracker": "pricing"}]
    fingerprints = {q.fingerprint("all") for q in (ConversationQuery(), plain, said)}
    assert len(fingerprints) == 3, "a cursor of one tracker filter is foreign to another"


def test_scopes_see_only_their_own() -> None:
    assert USER.kind == ScopeKind.REP and USER.sees("rep-a", "x") and not USER.sees("rep-b", "x")
    assert MANAGER.sees("rep-b", "team-east") and MANAGER.sees("rep-m", None)
    assert not MANAGER.sees("rep-c", "team-west") and not MANAGER.sees_team("team-west")
    assert ADMIN.sees("anyone", None) and ADMIN.sees_team("team-west")


def test_the_breaker_opens_after_failures_and_probes_once_after_the_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_seconds=2, clock=lambda: now[0])
    opened = []
    for _ in range(3):
        assert breaker.allow()
        opened.append(breaker.failed())
    assert opened == [False, False, True], "the third failure opens it"
    assert breaker.state == BreakerState.OPEN and not breaker.allow()
    now[0] = 2.5
    assert breaker.allow() and not breaker.allow(), "one probe at a time"
    assert breaker.failed() is False, "a failed probe keeps it open, it does not open it"
    assert breaker.state == BreakerState.OPEN
    now[0] = 5.0
    assert breaker.allow()
    assert breaker.succeeded() is True
    assert breaker.state == BreakerState.CLOSED and breaker.succeeded() is False


def test_byte_ranges() -> None:
    assert parse_range(None, 100) is None
    r = parse_range("bytes=10-19", 100)
    assert r is not None and (r.start, r.end, r.length) == (10, 19, 10)
    assert r.content_range(100) == "bytes 10-19/100"
    tail = parse_range("bytes=-10", 100)
    assert tail is not None and (tail.start, tail.end) == (90, 99)
    open_end = parse_range("bytes=95-", 100)
    assert open_end is not None and (open_end.start, open_end.end) == (95, 99)
    clipped = parse_range("bytes=95-500", 100)
    assert clipped is not None and clipped.end == 99
    assert parse_range("bytes=0-1,5-6", 100) is None
    assert parse_range("items=0-1", 100) is None
    assert parse_range("bytes=abc", 100) is None
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=100-", 100)


def call(n: int, scores: dict[MeddicDimension, int], overall: float, **kw: object) -> CallSnapshot:
    return CallSnapshot(
        conversation_id=uuid.UUID(int=n),
        created_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n),
        status="completed",
        overall_score=overall,
        qualification_status="Medium",
        dimensions=[
            DimensionSnapshot(
                dimension=d,
                score=s,
                evidence=[{"quote": f"call {n} {d.value}"}],
                gaps=[f"gap {d.value} {n}"],
            )
            for d, s in scores.items()
        ],
        **kw,  # type: ignore[arg-type]
    )


def test_the_deal_picture_takes_best_and_latest_with_their_sources() -> None:
    low = {d: 2 for d in MeddicDimension}
    high = low | {MeddicDimension.METRICS: 5, MeddicDimension.CHAMPION: 4}
    calls = [call(1, high, 3.0), call(2, low, 2.2, pricing_discussed=True)]
    picture = deal_picture(list(reversed(calls)))
    metrics = next(p for p in picture.dimensions if p.dimension == MeddicDimension.METRICS)
    assert metrics.best is not None and metrics.best.score == 5
    assert metrics.best.conversation_id == uuid.UUID(int=1)
    assert metrics.latest is not None and metrics.latest.conversation_id == uuid.UUID(int=2)
    assert metrics.open_gaps == [], "covered once, no open gaps"
    pain = next(p for p in picture.dimensions if p.dimension == MeddicDimension.IDENTIFY_PAIN)
    assert pain.open_gaps == ["gap identify_pain 2"]
    assert [t.overall_score for t in picture.trend] == [3.0, 2.2]
    codes = {w.code for w in picture.warnings}
    assert {"no_economic_buyer", "decision_process_unknown", "score_falling"} <= codes
    assert "champion_unconfirmed" not in codes and "pricing_never_discussed" not in codes


def test_one_call_is_too_early_for_absence_warnings() -> None:
    picture = deal_picture([call(1, {d: 1 for d in MeddicDimension}, 1.0)])
    assert picture.warnings == []
    assert deal_picture([]).calls_analysed == 0


def test_performance_weights_by_analysed_calls() -> None:
    week1, week2 = date(2026, 1, 5), date(2026, 1, 12)
    buckets = [
        PerfBucket(
            rep_id="a",
            week=week1,
            calls=3,
            analysed=3,
            average_overall=4.0,
            average_by_dimension={"metrics": 5.0, "champion": 2.0},
            qualification={"Strong": 3},
        ),
        PerfBucket(
            rep_id="b",
            week=week2,
            calls=2,
            analysed=1,
            average_overall=2.0,
            average_by_dimension={"metrics": 1.0, "champion": 4.0},
            qualification={"Weak": 1},
        ),
    ]
    perf = summarise(buckets)
    assert perf.calls == 5 and perf.analysed == 4
    assert perf.average_overall == 3.5
    assert perf.average_by_dimension["metrics"] == 4.0
    assert perf.strongest_dimension == "metrics" and perf.weakest_dimension == "champion"
    assert perf.qualification_mix == {"Strong": 3, "Weak": 1}
    assert [w.week for w in perf.trend] == [week1, week2]
    assert [r.rep_id for r in compare_reps(buckets)] == ["a", "b"]
    assert summarise([]).average_overall is None


def test_a_composed_list_is_a_hit_only_if_the_page_and_every_item_were() -> None:
    assert composed_outcome(Outcome.HIT, Outcome.HIT) == Outcome.HIT
    assert composed_outcome(Outcome.HIT, Outcome.MISS) == Outcome.PARTIAL
    assert composed_outcome(Outcome.MISS, Outcome.HIT) == Outcome.MISS
    assert composed_outcome(Outcome.HIT, Outcome.ERROR) == Outcome.ERROR
    assert composed_outcome(Outcome.MISS, Outcome.BYPASS) == Outcome.BYPASS
