"""Free-mail providers: a domain that many unrelated people share.

On an entity's own domain, the domain says who wrote; on gmail.com or
hotmail.com it says nothing (anyone can open ``alcaldia.x@hotmail.com``).
Threading uses this to trust a shared domain only for the exact address.
"""

from __future__ import annotations

FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "hotmail.com", "hotmail.es", "outlook.com", "outlook.es", "live.com",
    "live.com.co", "msn.com", "yahoo.com", "yahoo.es", "yahoo.com.co", "ymail.com", "icloud.com", "me.com",
    "aol.com", "protonmail.com", "proton.me", "gmx.com", "gmx.es", "mail.com", "zoho.com", "yandex.com",
})


def is_free_mail(domain: str) -> bool:
    return domain.strip().lower().rstrip(".") in FREE_MAIL_DOMAINS
