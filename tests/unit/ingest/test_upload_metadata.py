"""The upload's metadata: which values a form gives, and what each kind of bad
``participants`` value or bad name or title gets (422 ``invalid_metadata`` naming the
field)."""

from __future__ import annotations

import uuid

import pytest

from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.errors import ApiError
from callstream_ingest.upload.metadata import displayable, form_data, parse_metadata

ADMIN = Principal(uuid.uuid4(), "admin", Role.ADMIN, rep_id=None, team_id=None)
BASE = {"opportunity_name": ["Acme renewal"], "rep_id": ["rep-a"]}


def test_participants_are_every_value_of_the_field_and_other_fields_their_last() -> None:
    fields = BASE | {"participants": ["Ann Lee", " ", "Bo Ström", ""], "title": ["a", "b"]}
    assert form_data(fields) == {
        "opportunity_name": "Acme renewal",
        "rep_id": "rep-a",
        "participants": ["Ann Lee", "Bo Ström"],
        "title": "b",
    }


def test_participants_are_trimmed_and_each_named_once() -> None:
    meta = parse_metadata(
        BASE | {"participants": ["  Ann Lee ", "ann lee", "Smith, John", "李小龍"]}, ADMIN
    )
    assert meta.participants == ["Ann Lee", "Smith, John", "李小龍"]
    assert parse_metadata(BASE, ADMIN).participants == []


@pytest.mark.parametrize(
    ("names", "field"),
    [
        ([f"Person {i}" for i in range(21)], "participants"),
        (["x" * 121], "participants.0"),
        (["Ann", "Bo\nDrop table"], "participants.1"),
        (["Ann\x00"], "participants.0"),
        (["Bell\x07"], "participants.0"),
        (["C1\x85control"], "participants.0"),
        (["evil\u202egnp.exe"], "participants.0"),
        (["line\u2028separator"], "participants.0"),
    ],
)
def test_bad_participants_are_a_422_naming_the_field(names: list[str], field: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_metadata(BASE | {"participants": names}, ADMIN)
    error = info.value
    assert (error.status, error.code) == (422, "invalid_metadata")
    assert field in [p["field"] for p in (error.details or {})["problems"]]
    assert "participants" in error.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("opportunity_name", "Acme\x00renewal"),
        ("opportunity_name", "Acme\x1brenewal"),
        ("opportunity_name", "\u200b\u200b"),
        ("opportunity_name", "evil\u202egnp.exe"),
        ("company_name", "Acme\u2028Corp"),
        ("company_name", "\u2060"),
        ("title", "Call\x85one"),
        ("rep_id", "rep\x07a"),
    ],
)
def test_text_with_control_characters_or_nothing_to_show_is_a_422_naming_the_field(
    field: str, value: str
) -> None:
    """The names and the title are shown on every page and in Slack (a deal named only
    with zero-width characters was a link without text) and go into Whisper's prompt."""
    with pytest.raises(ApiError) as info:
        parse_metadata(BASE | {field: [value]}, ADMIN)
    error = info.value
    assert (error.status, error.code) == (422, "invalid_metadata")
    assert [p["field"] for p in (error.details or {})["problems"]] == [field]


def test_names_in_any_script_with_punctuation_are_accepted() -> None:
    meta = parse_metadata(
        BASE
        | {
            "opportunity_name": ["Ström & Søn — renewal (Q3)"],
            "company_name": ["李小龍 Ltd."],
            "title": ["Call #2: pricing"],
        },
        ADMIN,
    )
    assert (meta.opportunity_name, meta.company_name, meta.title) == (
        "Ström & Søn — renewal (Q3)",
        "李小龍 Ltd.",
        "Call #2: pricing",
    )


def test_twenty_names_of_120_characters_are_accepted() -> None:
    names = [f"{i:02d}" + "n" * 118 for i in range(20)]
    assert parse_metadata(BASE | {"participants": names}, ADMIN).participants == names


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("Discovery call.mp3", "Discovery call.mp3"),
        ("Acme\x1b[31m renewal\u202e", "Acme[31m renewal"),
        ("  Q3\u2028pricing  ", "Q3pricing"),
        ("\u200b\u2060", "fallback"),
        ("\x00\x07", "fallback"),
        ("", "fallback"),
        ("x" * 400, "x" * 300),
    ],
)
def test_a_title_from_elsewhere_loses_what_would_not_show_or_falls_back(
    title: str, shown: str
) -> None:
    """A recording shared in Slack is named after its file's title: the call is kept, and
    its name carries only what displays (what an upload's form would have refused)."""
    assert displayable(title, "fallback") == shown
    if shown != "fallback":
        parse_metadata(BASE | {"opportunity_name": [shown], "title": [shown]}, ADMIN)
