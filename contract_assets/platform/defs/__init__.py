"""Platform on Dagster: the resources (defined once), the IO manager, the run launcher, code versions, console runs, health and alerts."""
