"""Upload: a recording in, a conversation row and its ``CallUploaded`` event out."""
