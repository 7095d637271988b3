"""Fixtures of the ingest unit tests: the in-memory unit of work."""

from tests.unit.fakes import db, uow  # noqa: F401  (fixtures)
