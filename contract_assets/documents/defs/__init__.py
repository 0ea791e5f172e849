"""Documents on Dagster: the review copy, documents, package, redline and executed copy, their checks and the executed-copy sensor."""
