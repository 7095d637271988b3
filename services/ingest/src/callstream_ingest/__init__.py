"""callstream ingest service."""
