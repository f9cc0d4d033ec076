"""FilesTable stream -> analytics counters; daily schedule -> rollup and retention."""
