"""callstream transcriber service."""
