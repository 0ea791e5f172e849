"""The clock resource: what time it is for the work that compares ages and dates (the
approval SLA, approval requests, renewal reminders, alerts about stuck work and failed runs).

A deployment uses the system clock. A test that needs a later day gives its own `Clock` (a
subclass whose `now()` is ahead) in the resources, as any resource is replaced: nothing
patches a module.
"""

from datetime import UTC, datetime

from dagster import ConfigurableResource


class Clock(ConfigurableResource):
    """The system clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
