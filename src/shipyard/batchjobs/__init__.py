"""Batch scoring jobs: a CSV or JSONL file scored row by row through the governed invoke path."""
