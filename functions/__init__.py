"""Event-driven Lambda functions."""
