"""Register on Dagster: the register assets, their job, sensor and schedules, renewal reminders."""
