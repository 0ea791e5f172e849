"""Alerts (PRODUCT.md section 7): always a log line, webhook and email by loopback, once per id."""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from contract_assets.platform.home import ContractHome
from contract_assets.platform.records import RecordStore, records_url
from contract_assets.platform.notify import (
    ALERT,
    Alert,
    AlertLedger,
    DeliveryError,
    Notifier,
    NotifierConfig,
    SmtpConfig,
)

CREATED = datetime(2029, 9, 20, 9, 0, tzinfo=UTC)


def make_alert(alert_id: str = "renewal:blue-fjord-msa:2029-10-03", **changes) -> Alert:
    fields = {
        "alert_id": alert_id,
        "kind": "renewal",
        "subject": "Renewal notice due 2029-10-03: blue-fjord-msa (Blue Fjord AS)",
        "body": "Contract blue-fjord-msa renews automatically on 2029-11-02.\n\nDecide.\n",
        "contract_id": "blue-fjord-msa",
        "partition_key": "blue-fjord-msa.r2",
        "created_at": CREATED,
    }
    return Alert(**{**fields, **changes})


def records_at(directory: Path) -> str:
    """A project database of its own in `directory` (created with its folders)."""
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'records.db'}"


def log_lines(store_url: str) -> list[str]:
    """The alert log as the JSON lines the webhook receives, oldest first."""
    return [record.body.decode() for record in RecordStore(store_url).list(ALERT)]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator:
    """Run a loopback server in a thread for the duration of the block."""
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- a webhook receiver on loopback --------------------------------------------------------


@dataclass
class Webhook:
    url: str
    status: int = 204
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.received.append((self.path, dict(self.headers), body))
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:  # keep the test output clean
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/contracts"
        yield hook


# --- a minimal SMTP sink on loopback -------------------------------------------------------


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.mails: list[ReceivedMail] = []
        self.logins: list[tuple[str, str]] = []  # (username, password) of each AUTH PLAIN
        super().__init__(("127.0.0.1", 0), SmtpSession)

    @property
    def port(self) -> int:
        return self.server_address[1]


class SmtpSession(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    server: SmtpSink

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 sink.test ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            verb = line[:4].decode().upper()
            argument = line[5:].decode().strip()
            if verb in ("EHLO", "HELO"):
                self.reply("250-sink.test")
                self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":  # AUTH PLAIN base64(authzid NUL user NUL password)
                _, user, password = base64.b64decode(argument.split()[1]).decode().split("\0")
                self.server.logins.append((user, password))
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender, recipients = argument.partition(":")[2].strip("<> "), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(argument.partition(":")[2].strip("<> "))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                message = message_from_bytes(bytes(data), policy=policy.default)
                self.server.mails.append(ReceivedMail(sender, recipients, message))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with serving(SmtpSink()) as sink:
        yield sink


def smtp_config(port: int) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        sender="contracts@orbital.example",
        recipients=["legal@orbital.example", "ops@orbital.example"],
    )


# --- the log -------------------------------------------------------------------------------


def test_send_logs_one_record_per_alert(tmp_path):
    log = records_at(tmp_path / "deep" / "alerts")
    notifier = Notifier(NotifierConfig(store_url=log))
    first = make_alert()
    # Line breaks inside the text must not split the alert's line.
    second = make_alert("sla:blue-fjord-msa.r2", kind="sla_escalation", body="a\nb\r\nc\u2028d")

    assert notifier.send(first) is True
    assert notifier.send(second) is True

    lines = log_lines(log)
    assert len(lines) == 2
    assert [Alert.model_validate_json(line) for line in lines] == [first, second]
    assert json.loads(lines[0])["created_at"] == "2029-09-20T09:00:00Z"


def test_sending_the_same_alert_twice_with_send_logs_it_twice(tmp_path):
    log = records_at(tmp_path)
    notifier = Notifier(NotifierConfig(store_url=log))
    notifier.send(make_alert())
    notifier.send(make_alert())
    assert len(log_lines(log)) == 2


def test_config_for_home_logs_in_the_homes_database(tmp_path):
    home = ContractHome(tmp_path / "home")
    Notifier(NotifierConfig.for_home(home)).send_once(make_alert(), AlertLedger.for_home(home))
    assert len(log_lines(records_url(home.root))) == 1
    assert "renewal:blue-fjord-msa:2029-10-03" in AlertLedger.for_home(home)


# --- webhook -------------------------------------------------------------------------------


def test_webhook_receives_the_alert_as_json(tmp_path, webhook):
    log = records_at(tmp_path)
    alert = make_alert(subject="Renewal notice due: zoë-ångström (株式会社)")
    Notifier(NotifierConfig(store_url=log, webhook_url=webhook.url)).send(alert)

    [(path, headers, body)] = webhook.received
    assert path == "/hooks/contracts"
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == alert.model_dump(mode="json")
    assert len(log_lines(log)) == 1


@pytest.mark.parametrize("status", [404, 500])
def test_failing_webhook_keeps_the_log_line_and_raises(tmp_path, webhook, status):
    webhook.status = status
    log = records_at(tmp_path)
    notifier = Notifier(NotifierConfig(store_url=log, webhook_url=webhook.url))

    with pytest.raises(DeliveryError) as info:
        notifier.send(make_alert())

    assert info.value.alert_id == "renewal:blue-fjord-msa:2029-10-03"
    assert set(info.value.failures) == {"webhook"}
    assert str(status) in info.value.failures["webhook"]
    assert "alert log" in str(info.value)
    assert Alert.model_validate_json(log_lines(log)[0]) == make_alert()


def test_unreachable_webhook_keeps_the_log_line_and_raises(tmp_path):
    log = records_at(tmp_path)
    url = f"http://127.0.0.1:{closed_port()}/hook"
    with pytest.raises(DeliveryError, match="webhook"):
        Notifier(NotifierConfig(store_url=log, webhook_url=url)).send(make_alert())
    assert len(log_lines(log)) == 1


@pytest.mark.parametrize("url", ["ftp://example.test/hook", "not a url", "http://"])
def test_webhook_url_must_be_http(tmp_path, url):
    with pytest.raises(ValidationError, match="webhook_url"):
        NotifierConfig(store_url=records_at(tmp_path), webhook_url=url)


# --- email ---------------------------------------------------------------------------------


def test_email_reaches_the_smtp_server(tmp_path, smtp_sink):
    log = records_at(tmp_path)
    alert = make_alert(subject="Renewal notice due: Zoë Ångström AB")
    Notifier(NotifierConfig(store_url=log, smtp=smtp_config(smtp_sink.port))).send(alert)

    [mail] = smtp_sink.mails
    assert mail.sender == "contracts@orbital.example"
    assert mail.recipients == ["legal@orbital.example", "ops@orbital.example"]
    assert mail.message["Subject"] == "Renewal notice due: Zoë Ångström AB"
    assert mail.message["X-Contract-Assets-Alert-Id"] == alert.alert_id
    text = mail.message.get_content()
    assert "renews automatically on 2029-11-02" in text
    assert "revision: blue-fjord-msa.r2" in text
    assert len(log_lines(log)) == 1


def test_failing_email_still_tries_the_webhook_and_keeps_the_log(tmp_path, webhook):
    log = records_at(tmp_path)
    config = NotifierConfig(store_url=log, webhook_url=webhook.url, smtp=smtp_config(closed_port()))

    with pytest.raises(DeliveryError) as info:
        Notifier(config).send(make_alert())

    assert set(info.value.failures) == {"email"}
    assert len(webhook.received) == 1
    assert len(log_lines(log)) == 1


def test_smtp_credentials_come_in_pairs():
    with pytest.raises(ValidationError, match="username and password"):
        SmtpConfig(
            host="mail.test",
            sender="contracts@orbital.example",
            recipients=["legal@orbital.example"],
            username="bot",
        )


def test_smtp_password_is_not_shown_in_the_config_repr():
    config = SmtpConfig(
        host="mail.test",
        sender="contracts@orbital.example",
        recipients=["legal@orbital.example"],
        username="bot",
        password="hunter2",
    )
    assert "hunter2" not in repr(config)


# --- once per alert id ---------------------------------------------------------------------


def test_send_once_sends_an_alert_id_once_even_after_a_restart(tmp_path, webhook):
    log = ledger_path = records_at(tmp_path)
    config = NotifierConfig(store_url=log, webhook_url=webhook.url)
    alert = make_alert()

    assert Notifier(config).send_once(alert, AlertLedger(ledger_path)) is True
    assert Notifier(config).send_once(alert, AlertLedger(ledger_path)) is False
    # A fresh notifier and ledger read the same file: the id stays sent.
    later = alert.model_copy(update={"created_at": CREATED + timedelta(days=1)})
    assert Notifier(config).send_once(later, AlertLedger(ledger_path)) is False

    assert len(webhook.received) == 1
    assert len(log_lines(log)) == 1
    assert Notifier(config).send_once(make_alert("sla:blue-fjord-msa.r2"), AlertLedger(ledger_path))
    assert AlertLedger(ledger_path).sent_ids() == {
        "renewal:blue-fjord-msa:2029-10-03",
        "sla:blue-fjord-msa.r2",
    }


def test_send_once_does_not_retry_a_logged_alert_whose_delivery_failed(tmp_path, webhook):
    webhook.status = 503
    log = records_at(tmp_path)
    ledger = AlertLedger(log)
    notifier = Notifier(NotifierConfig(store_url=log, webhook_url=webhook.url))

    with pytest.raises(DeliveryError):
        notifier.send_once(make_alert(), ledger)
    webhook.status = 204
    assert notifier.send_once(make_alert(), ledger) is False
    assert len(log_lines(log)) == 1


def test_concurrent_send_once_lets_one_through(tmp_path):
    log = ledger_path = records_at(tmp_path)
    results: list[bool] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        notifier = Notifier(NotifierConfig(store_url=log))
        results.append(notifier.send_once(make_alert(), AlertLedger(ledger_path)))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]
    assert len(log_lines(log)) == 1


# --- the alert model -----------------------------------------------------------------------


def test_alert_refuses_a_naive_time():
    with pytest.raises(ValidationError, match="created_at"):
        make_alert(created_at=datetime(2029, 9, 20, 9, 0))


def test_alert_time_is_kept_in_utc():
    oslo = timezone(timedelta(hours=2))
    alert = make_alert(created_at=datetime(2029, 9, 20, 11, 0, tzinfo=oslo))
    assert alert.created_at == CREATED
    assert alert.created_at.tzinfo == UTC


def test_alert_subject_is_one_line():
    with pytest.raises(ValidationError, match="single line"):
        make_alert(subject="Renewal\nBcc: everyone@example.test")


# --- alerts with recipients of their own ------------------------------------------------------


def test_an_alert_with_recipients_is_mailed_to_them_only_and_the_log_masks_them(tmp_path, smtp_sink, webhook):
    from contract_assets.platform.protection import DataProtection

    log = records_at(tmp_path)
    config = NotifierConfig(store_url=log, webhook_url=webhook.url, smtp=smtp_config(smtp_sink.port))
    notifier = Notifier(config, DataProtection())
    notifier.send(make_alert("approval_outcome:blue-fjord-msa.r2:approved", kind="approval_outcome",
                             recipients=["sam.okafor@orbital.example"], broadcast=False))
    notifier.send(make_alert("approval_request:blue-fjord-msa.r2:tier1:fin", kind="approval_request",
                             recipients=["fin@orbital.example"]))

    assert [mail.recipients for mail in smtp_sink.mails] == [["sam.okafor@orbital.example"], ["fin@orbital.example"]]
    [(_, _, posted)] = webhook.received  # the outcome notice is for its recipient only
    assert json.loads(posted)["recipients"] == ["f***@orbital.example"]
    lines = log_lines(log)
    assert "orbital.example" in lines[0] and "sam.okafor@" not in lines[0] and "fin@" not in lines[1]
    assert [a.recipients for a in notifier.logged()] == [["s***@orbital.example"], ["f***@orbital.example"]]


def test_with_a_data_key_the_log_keeps_the_recipients_sealed(tmp_path):
    from contract_assets.platform.protection import DataProtection, new_key

    protection = DataProtection([new_key()])
    log = records_at(tmp_path)
    notifier = Notifier(NotifierConfig(store_url=log), protection)
    notifier.send(make_alert(recipients=["sam.okafor@orbital.example"]))

    assert "sam.okafor@" not in log_lines(log)[0]
    (logged,) = notifier.logged()
    assert logged.open_recipients(protection) == ["sam.okafor@orbital.example"]


def test_a_refused_address_is_masked_in_the_delivery_error():
    error = DeliveryError("x", {"email": "SMTPRecipientsRefused: {'sam.okafor@orbital.example': (550, b'no')}"})
    assert "sam.okafor@orbital.example" not in str(error)
