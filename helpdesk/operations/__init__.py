"""Running it: health checks, statistics, metrics, logs, systemd, backup and retention."""
