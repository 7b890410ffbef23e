"""helpdesk web: the reset-link and self-service pages (CONTRACT §10)."""
