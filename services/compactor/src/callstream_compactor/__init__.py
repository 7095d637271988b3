"""callstream compactor service."""
