"""Prometheus metrics of ingest: HTTP, uploads, outbox backlog and the /metrics route."""
