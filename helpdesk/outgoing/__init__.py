"""The emails: rendered from templates, written to the outbox with the state change, delivered."""
