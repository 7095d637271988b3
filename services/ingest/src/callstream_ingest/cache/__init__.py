"""The read cache: Redis in front of the read API, invalidated by the pipeline's changes."""
