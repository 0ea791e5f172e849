"""Drafting: the clause library and the assembly of a draft from a request."""
