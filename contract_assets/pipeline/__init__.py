"""Pipeline: the stages a revision goes through and what decides them."""
