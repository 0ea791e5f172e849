"""Audit: the hash-chained, signed trail of every action."""
