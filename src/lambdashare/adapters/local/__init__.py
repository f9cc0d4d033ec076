"""Local adapters: the embedded default, real and durable (SQLite in WAL mode, fsynced files)."""
