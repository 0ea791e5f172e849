"""Register: every revision in one table, its report and renewal dates."""
