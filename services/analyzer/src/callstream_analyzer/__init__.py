"""callstream analyzer service."""
