"""Intake: the request format and its rules, revision keys, the inbox folder."""
