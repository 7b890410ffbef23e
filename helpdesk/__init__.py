"""helpdesk: an email-driven helpdesk for public-sector password resets."""

__version__ = "0.1.0"
