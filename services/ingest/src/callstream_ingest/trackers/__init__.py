"""Trackers: the organisation's keyword and smart trackers (admin API)."""
