"""Legal terms (CONTRACT 12, Ley 1755 de 2015): business days, the due date
of a ticket, and the steps the daemon runs for them (correction reminder,
tacit withdrawal, staff digest)."""
