"""The notifier resource: every alert goes to the home's log, and by configuration to a
webhook (JSON POST) and by email (SMTP); and the alert policy resource: how long a revision
may stay stuck before the people running contract_assets are told.

The webhook URL and the SMTP password are secrets: they reach the resource as `EnvVar`s,
so Dagster resolves them in the process that sends, and its UI shows only the variable
names, never the values.
"""

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from dagster import ConfigurableResource, EnvVar

from contract_assets.pipeline.stages import Stage
from contract_assets.platform.home import ContractHome
from contract_assets.platform.notify import (
    Alert,
    AlertLedger,
    DeliveryError,
    Notifier,
    NotifierConfig,
    SmtpConfig,
)
from contract_assets.platform.watch import STUCK_DEFAULT_DAYS


class AlertNotifier(ConfigurableResource):
    home: str
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str | None = None
    smtp_recipients: list[str] = []
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None

    def notifier(self) -> Notifier:
        smtp = None
        if self.smtp_host:
            smtp = SmtpConfig(
                host=self.smtp_host,
                port=self.smtp_port,
                sender=self.smtp_sender,
                recipients=self.smtp_recipients,
                starttls=self.smtp_starttls,
                username=self.smtp_username,
                password=self.smtp_password,
            )
        home = ContractHome(self.home_path())
        return Notifier(NotifierConfig.for_home(home, webhook_url=self.webhook_url, smtp=smtp))

    def home_path(self) -> Path:
        return Path(self.home)

    def ledger(self) -> AlertLedger:
        """The ids of the alerts already sent from this home."""
        return AlertLedger.for_home(ContractHome(self.home_path()))

    def send_once(self, alert: Alert) -> bool:
        """Send an alert unless one with its id was sent before; True when sent now."""
        return self.notifier().send_once(alert, self.ledger())

    def send_all(self, alerts: Iterable[Alert], warn: Callable[[str], None]) -> int:
        """Send each alert once; how many went out now. A failed delivery is passed to `warn`
        and counted (the alert is in the home's log either way)."""
        notifier, ledger = self.notifier(), self.ledger()
        sent = 0
        for alert in alerts:
            try:
                sent += notifier.send_once(alert, ledger)
            except DeliveryError as exc:
                warn(str(exc))
                sent += 1
        return sent


ENV_PREFIX = "CONTRACT_ASSETS_"
WEBHOOK_URL_ENV = f"{ENV_PREFIX}WEBHOOK_URL"
SMTP_PASSWORD_ENV = f"{ENV_PREFIX}SMTP_PASSWORD"


def secret(name: str) -> EnvVar | None:
    """The variable itself (not its value) when it is set: Dagster reads it when it sends."""
    return EnvVar(name) if os.environ.get(name) else None


def notifier_from_env(home: ContractHome) -> AlertNotifier:
    """The notifier of a deployment: webhook and SMTP from CONTRACT_ASSETS_* variables."""
    recipients = os.environ.get("CONTRACT_ASSETS_SMTP_RECIPIENTS", "")
    return AlertNotifier(
        home=str(home.root),
        webhook_url=secret(WEBHOOK_URL_ENV),
        smtp_host=os.environ.get("CONTRACT_ASSETS_SMTP_HOST") or None,
        smtp_port=int(os.environ.get("CONTRACT_ASSETS_SMTP_PORT", "25")),
        smtp_sender=os.environ.get("CONTRACT_ASSETS_SMTP_SENDER") or None,
        smtp_recipients=[r.strip() for r in recipients.split(",") if r.strip()],
        smtp_starttls=os.environ.get("CONTRACT_ASSETS_SMTP_STARTTLS", "") == "1",
        smtp_username=os.environ.get("CONTRACT_ASSETS_SMTP_USERNAME") or None,
        smtp_password=secret(SMTP_PASSWORD_ENV),
    )


class AlertPolicy(ConfigurableResource):
    """How many days a revision may stay `blocked` or `ready_for_signature` before the people
    running contract_assets are told (once per stay)."""

    blocked_days: int = STUCK_DEFAULT_DAYS[Stage.BLOCKED]
    ready_for_signature_days: int = STUCK_DEFAULT_DAYS[Stage.READY_FOR_SIGNATURE]

    def limit_days(self, stage: Stage) -> int:
        return self.blocked_days if stage is Stage.BLOCKED else self.ready_for_signature_days


STUCK_DAYS_ENV = {
    Stage.BLOCKED: f"{ENV_PREFIX}ALERT_BLOCKED_DAYS",
    Stage.READY_FOR_SIGNATURE: f"{ENV_PREFIX}ALERT_READY_FOR_SIGNATURE_DAYS",
}


def alert_policy_from_env() -> AlertPolicy:
    """The limits of a deployment: CONTRACT_ASSETS_ALERT_*_DAYS, whole days of at least 1."""
    days = {}
    for stage, name in STUCK_DAYS_ENV.items():
        text = os.environ.get(name, "").strip()
        if not text:
            days[stage] = STUCK_DEFAULT_DAYS[stage]
            continue
        if not text.isascii() or not text.isdigit() or int(text) < 1:
            raise ValueError(f"{name}: must be a whole number of days, 1 or more; got {text[:40]!r}")
        days[stage] = int(text)
    return AlertPolicy(
        blocked_days=days[Stage.BLOCKED], ready_for_signature_days=days[Stage.READY_FOR_SIGNATURE]
    )
