"""Metric rollups: per-minute buckets of recorded calls, compacted into hours and days."""
