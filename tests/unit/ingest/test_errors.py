from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from callstream_ingest.errors import is_dependency_outage


def _wrapped(inner: BaseException) -> RuntimeError:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("while saving") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError("db down"),
        TimeoutError(),
        OperationalError("SELECT 1", {}, ConnectionRefusedError()),
        _wrapped(ConnectionResetError("reset by peer")),
    ],
)
def test_outages_are_recognised_through_wrapping(exc: BaseException) -> None:
    assert is_dependency_outage(exc)


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("x"), _wrapped(TypeError("bug"))])
def test_bugs_are_not_outages(exc: BaseException) -> None:
    assert not is_dependency_outage(exc)
