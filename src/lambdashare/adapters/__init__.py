"""Implementations of the ports: `aws` (boto3) and `local` (SQLite + a data directory)."""
