"""Read: what the API shows of a conversation (status, transcript, scorecard)."""
