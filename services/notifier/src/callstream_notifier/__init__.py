"""callstream notifier service."""
