"""Ops: the dead-letter queue and job status for operators."""
