"""The notifier resource: every alert goes to the home's log, and by configuration to a
webhook (JSON POST) and by email (SMTP)."""

import os
from pathlib import Path

from dagster import ConfigurableResource

from contract_assets.domain.home import ContractHome
from contract_assets.domain.notify import Alert, AlertLedger, Notifier, NotifierConfig, SmtpConfig


class AlertNotifier(ConfigurableResource):
    home: str
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str | None = None
    smtp_recipients: list[str] = []
    smtp_starttls: bool = False

    def notifier(self) -> Notifier:
        smtp = None
        if self.smtp_host:
            smtp = SmtpConfig(
                host=self.smtp_host,
                port=self.smtp_port,
                sender=self.smtp_sender,
                recipients=self.smtp_recipients,
                starttls=self.smtp_starttls,
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


def notifier_from_env(home: ContractHome) -> AlertNotifier:
    """The notifier of a deployment: webhook and SMTP from CONTRACT_ASSETS_* variables."""
    recipients = os.environ.get("CONTRACT_ASSETS_SMTP_RECIPIENTS", "")
    return AlertNotifier(
        home=str(home.root),
        webhook_url=os.environ.get("CONTRACT_ASSETS_WEBHOOK_URL") or None,
        smtp_host=os.environ.get("CONTRACT_ASSETS_SMTP_HOST") or None,
        smtp_port=int(os.environ.get("CONTRACT_ASSETS_SMTP_PORT", "25")),
        smtp_sender=os.environ.get("CONTRACT_ASSETS_SMTP_SENDER") or None,
        smtp_recipients=[r.strip() for r in recipients.split(",") if r.strip()],
        smtp_starttls=os.environ.get("CONTRACT_ASSETS_SMTP_STARTTLS", "") == "1",
    )
