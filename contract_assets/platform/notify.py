"""Alerts: logged first, then delivered by webhook and email, each alert id at most once.

The alert log (a record per alert in the project's database) is the source of truth: the
record is committed before any delivery is tried, so a broken webhook or mail server never
loses an alert, it only fails its delivery with a `DeliveryError` naming the channel and
the cause.

An alert may name its own recipients (an approval request goes to the approvers who may
decide, an outcome notice to the requester): its email goes to them, not to the
deployment's list. Their addresses are personal data: the alert log keeps them masked, and
encrypted with the data key when one is configured; the webhook gets them masked.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, SecretStr, model_validator
from sqlalchemy.engine import Connection

from contract_assets.platform.files import canonical_json
from contract_assets.platform.home import ContractHome
from contract_assets.platform.models import Email, StrictModel
from contract_assets.platform.protection import (
    DataProtection,
    masked_email,
    without_emails,
)
from contract_assets.platform.records import RecordStore, records_url

DELIVERY_TIMEOUT_SECONDS = 5.0
ALERT, SENT = "alert", "alert.sent"  # record kinds: the alert log, the ids already sent

AlertKind = Literal[
    "approval_request",
    "approval_outcome",
    "renewal",
    "sla_escalation",
    "expired",
    "run_failure",
    "quarantined",
    "inbox_not_drained",
    "revision_stuck",
]


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line (it becomes an email subject)")
    return value


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class Alert(StrictModel):
    """One thing a person should hear about; `alert_id` is the key it is de-duplicated by."""

    alert_id: Annotated[str, Field(min_length=1, max_length=300)]
    kind: AlertKind
    subject: Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_single_line)]
    body: str
    contract_id: str | None  # None only for a failure that belongs to no contract
    partition_key: str | None = None
    created_at: Annotated[AwareDatetime, AfterValidator(_in_utc)]  # naive times are refused
    # Whom the email goes to; empty: the deployment's list (CONTRACT_ASSETS_SMTP_RECIPIENTS).
    recipients: list[Email] = []
    # False: for its recipients only (an outcome told to the requester), never the webhook.
    broadcast: bool = True

    def as_json(self) -> bytes:
        """The alert as canonical JSON on one line, as logged and as posted to the webhook,
        its recipients masked."""
        data = self.model_dump(mode="json")
        data["recipients"] = [masked_email(address) for address in self.recipients]
        return _one_line(data)

    def as_log_record(self, protection: DataProtection) -> bytes:
        """The alert as the log keeps it: `as_json`, and with a data key the recipients
        encrypted beside it (`recipients_sealed`), so the log never holds an address in clear."""
        if not (self.recipients and protection.enabled):
            return self.as_json()
        data = json.loads(self.as_json())
        data["recipients_sealed"] = protection.seal(canonical_json(self.recipients)).decode("ascii")
        return _one_line(data)


def _one_line(data: dict) -> bytes:
    # U+2028/U+2029 are line breaks to str.splitlines(); escaped, the line stays one line.
    return (
        canonical_json(data)
        .replace("\u2028".encode(), b"\\u2028")
        .replace("\u2029".encode(), b"\\u2029")
    )


class LoggedAlert(Alert):
    """An alert as read back from the log: recipients masked, and sealed when a key was set."""

    recipients: list[str] = []
    recipients_sealed: str | None = None

    def open_recipients(self, protection: DataProtection) -> list[str]:
        """The recipients' addresses, from the sealed copy (needs the data key)."""
        if self.recipients_sealed is None:
            raise ValueError(f"alert '{self.alert_id}' was logged without a data key: only masked recipients")
        opened = protection.open(self.recipients_sealed.encode("ascii"), source=f"alert {self.alert_id}")
        return json.loads(opened)


def _http_url(value: str) -> str:
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class SmtpConfig(StrictModel):
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: Email
    # The deployment's list: alerts that name no recipients of their own (may be empty).
    recipients: list[Email] = []
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("smtp: give both username and password, or neither")
        return self


class NotifierConfig(StrictModel):
    store_url: str  # the project's database, where every alert is logged
    webhook_url: Annotated[str, AfterValidator(_http_url)] | None = None
    smtp: SmtpConfig | None = None

    @classmethod
    def for_home(
        cls, home: ContractHome, *, webhook_url: str | None = None, smtp: SmtpConfig | None = None
    ) -> NotifierConfig:
        """The configuration that logs to the home's database."""
        return cls(store_url=records_url(home.root), webhook_url=webhook_url, smtp=smtp)


class DeliveryError(Exception):
    """A logged alert that one or more channels could not deliver."""

    def __init__(self, alert_id: str, failures: dict[str, str]):
        self.alert_id = alert_id
        self.failures = failures  # channel ("webhook", "email") -> what went wrong
        # A refused address must not reach Dagster's logs, where this message is written.
        detail = without_emails("; ".join(f"{channel}: {reason}" for channel, reason in failures.items()))
        super().__init__(
            f"alert '{alert_id}' is in the alert log but was not delivered ({detail}); "
            "check the notifier configuration and that the service is reachable"
        )


class AlertLedger:
    """The ids of alerts already sent, in the project's database: an id is added once, in
    the same transaction as the alert's log record, so no alert is sent twice or lost."""

    def __init__(self, store_url: str):
        self.store = RecordStore(store_url)

    @classmethod
    def for_home(cls, home: ContractHome) -> AlertLedger:
        return cls(records_url(home.root))

    def sent_ids(self) -> frozenset[str]:
        return frozenset(record.name for record in self.store.list(SENT))

    def __contains__(self, alert_id: object) -> bool:
        return isinstance(alert_id, str) and self.store.get(SENT, "", alert_id) is not None

    def skip(self, alert_ids: Iterable[str]) -> int:
        """Claim ids as if sent, logging and delivering nothing (for news that predates the
        alerts that would tell it); returns how many were new."""
        with self.store.transaction() as connection:
            return sum(self.store.add(SENT, "", alert_id, b"", connection=connection) for alert_id in alert_ids)


class Notifier:
    def __init__(self, config: NotifierConfig, protection: DataProtection | None = None):
        self.config = config
        self.store = RecordStore(config.store_url)
        self.protection = protection if protection is not None else DataProtection.from_env()

    def send(self, alert: Alert) -> bool:
        """Log the alert, then deliver it by every configured channel.

        Returns True when the alert is logged and every configured channel took it. Every
        channel is tried even if one fails; then `DeliveryError` lists the failures (the
        log record is written either way).
        """
        self.log(alert)
        self._deliver(alert)
        return True

    def send_once(self, alert: Alert, ledger: AlertLedger) -> bool:
        """Send an alert id at most once ever: False (and nothing logged) when already sent.

        The id and the log record are added in one transaction, before delivery: a failed
        delivery raises `DeliveryError` and is not retried (the log keeps the alert), and a
        crash at any point leaves the alert either logged and claimed, or neither.
        """
        with ledger.store.transaction() as connection:
            if not ledger.store.add(SENT, "", alert.alert_id, b"", connection=connection):
                return False
            if ledger.store.url == self.store.url:
                self.log(alert, connection=connection)
        if ledger.store.url != self.store.url:
            self.log(alert)
        self._deliver(alert)
        return True

    def log(self, alert: Alert, *, connection: Connection | None = None) -> None:
        """Add the alert to the alert log (every send is a record, duplicates included)."""
        name = f"{alert.created_at.isoformat()}-{uuid.uuid4().hex[:12]}"
        self.store.add(ALERT, alert.kind, name, alert.as_log_record(self.protection), connection=connection)

    def logged(self) -> list[LoggedAlert]:
        """Every alert logged, oldest first (recipients as the log keeps them)."""
        return [LoggedAlert.model_validate_json(record.body) for record in self.store.list(ALERT)]

    def _deliver(self, alert: Alert) -> None:
        failures: dict[str, str] = {}
        if self.config.webhook_url is not None and alert.broadcast:
            url = self.config.webhook_url
            try:
                post_webhook(url, alert)
            except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeouts: OSError
                # The URL is a secret (it often carries a token): never in a log line.
                failures["webhook"] = _reason(exc).replace(url, "$CONTRACT_ASSETS_WEBHOOK_URL")
        if self.config.smtp is not None and (alert.recipients or self.config.smtp.recipients):
            try:
                send_email(self.config.smtp, alert)
            except (OSError, smtplib.SMTPException) as exc:
                failures["email"] = _reason(exc)
        if failures:
            raise DeliveryError(alert.alert_id, failures)


def post_webhook(url: str, alert: Alert) -> None:
    """POST the alert as JSON; any answer other than 2xx raises."""
    request = urllib.request.Request(
        url,
        data=alert.as_json(),
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(
                url, response.status, response.reason, response.headers, None
            )


def email_message(smtp: SmtpConfig, alert: Alert) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = smtp.sender
    message["To"] = ", ".join(alert.recipients or smtp.recipients)
    message["Date"] = format_datetime(alert.created_at)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2])
    message["X-Contract-Assets-Alert-Id"] = alert.alert_id
    facts = [f"alert: {alert.alert_id}", f"kind: {alert.kind}"]
    if alert.contract_id:
        facts.append(f"contract: {alert.contract_id}")
    if alert.partition_key:
        facts.append(f"revision: {alert.partition_key}")
    message.set_content(alert.body.rstrip("\n") + "\n\n--\n" + "\n".join(facts) + "\n")
    return message


def send_email(smtp: SmtpConfig, alert: Alert) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=DELIVERY_TIMEOUT_SECONDS) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username is not None and smtp.password is not None:
            client.login(smtp.username, smtp.password.get_secret_value())
        refused = client.send_message(email_message(smtp, alert))
        if refused:  # some recipients accepted, these not: still a failed delivery
            raise smtplib.SMTPRecipientsRefused(refused)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
