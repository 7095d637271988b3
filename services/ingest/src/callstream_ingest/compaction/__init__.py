"""Compaction: the Parquet archive's datasets and runs, triggers and Parquet uploads."""
