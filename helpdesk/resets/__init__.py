"""Temporary passwords and the backends that apply them (manual, a command, LDAP)."""
