"""`contract-assets`: the verbs Dagster has no command for (submit, run, status, env, demo,
approvals, the organisation's seal)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cryptography import x509
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from pydantic import ValidationError

from contract_assets.domain.approvals import (
    Approver,
    ApproverConfigError,
    DecisionPayload,
    sign_decision,
)
from contract_assets.domain.signing import read_private_key, read_public_key, write_keypair

from contract_assets.domain.home import ContractHome
from contract_assets.domain.models import shown
from contract_assets.domain.protection import ENCRYPTED_SUFFIX, DataKeyError, DataProtection, new_key
from contract_assets.domain.serialization import StoredTypeMismatch, open_envelope
from contract_assets.domain.register_report import RegisterReport
from contract_assets.domain.requests import InvalidRequest
from contract_assets.domain.revisions import RevisionRegistry, parse_partition_key
from contract_assets.operations import ContractOperations, RevisionStatus
from contract_assets.database import create_database, database_url
from contract_assets.auditing import verify_audit
from contract_assets.domain.access import AccessConfigError, AccessDenied, Permission
from contract_assets.domain.audit import export_lines
from contract_assets.domain.records import create_schema, records_url
from contract_assets.domain.files import atomic_write_bytes, exclusive_lock, sweep_temp_files
from contract_assets.domain.packaging import (
    MANIFEST_SUFFIX,
    Verification,
    verify_package,
    verify_package_zip,
    verify_sealed_pdf,
)
from contract_assets.domain.sealing import (
    PASSPHRASE_ENV,
    OrganisationSeal,
    SealError,
    certificate_fingerprint,
    create_trial_seal,
    import_seal,
    passphrase_from_env,
    read_certificates,
)
from contract_assets.console_runs import console_runs
from contract_assets.resume import ResumeRefused, mark_dead_run_failed, resume_run
from contract_assets.resources import Workspace

EXIT_INVALID = 2
EXIT_FORBIDDEN = 3
# What each state-changing command needs of the access policy (config/access.yaml).
REQUIRED = {
    "submit": [Permission.SUBMIT],
    "run": [Permission.RUN],
    "resume": [Permission.RUN],
    "demo": [Permission.SUBMIT, Permission.RUN],
    "approvers": [Permission.ADMINISTER],
    "rotate-key": [Permission.ADMINISTER],
    "decrypt": [Permission.ADMINISTER],  # it shows personal data in clear
    "init-signing": [Permission.ADMINISTER],
}
# The console shows one progress line per revision; Dagster's own log goes to the instance.
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
REQUEST_SUFFIXES = {".yaml", ".yml", ".json"}
PARTITION_TAG, PARTITION_SET_TAG = "dagster/partition", "dagster/partition_set"
PIPELINE_PARTITION_SET = "contract_pipeline_partition_set"  # as Dagster names it for the job


@contextmanager
def open_instance(home: ContractHome) -> Iterator[DagsterInstance]:
    """The home's Dagster instance (an explicit DAGSTER_HOME wins), created if it is new.

    Opened under a lock: programs creating a new SQLite instance at the same moment (a
    daemon and a webserver started together) can each stamp its schema version, and then
    no program can open it again ("more than one head").
    """
    home.ensure()
    with exclusive_lock(home.dagster_home / ".open.lock"):
        if os.environ.get("DAGSTER_HOME"):
            instance = DagsterInstance.get()
        else:
            instance = DagsterInstance.from_config(str(home.dagster_home))
    with instance:
        yield instance


@contextmanager
def open_operations(home: ContractHome) -> Iterator[ContractOperations]:
    """The operations on the home's Dagster instance."""
    with open_instance(home) as instance:
        yield ContractOperations(Workspace(home), instance)


def _submit(operations: ContractOperations, files: Sequence[Path], as_json: bool) -> int:
    exit_code = 0
    for path in files:
        try:
            result = operations.submit(path)
        except InvalidRequest as exc:
            exit_code = EXIT_INVALID
            if as_json:
                print(json.dumps({"file": str(path), "errors": [e.as_dict() for e in exc.errors]}))
            else:
                print(f"{path}: rejected, no revision was registered (see the audit trail)", file=sys.stderr)
                for error in exc.errors:
                    print(f"  {error.path}: {error.message}", file=sys.stderr)
            continue
        except OSError as exc:
            exit_code = EXIT_INVALID
            message = f"cannot read the file: {exc.strerror}"
            if as_json:
                print(json.dumps({"file": str(path), "errors": [{"path": "(document)", "message": message}]}))
            else:
                print(f"{path}: {message}", file=sys.stderr)
            continue
        if as_json:
            print(json.dumps(result.as_json()))
        else:
            verb = "registered as" if result.created else "is already"
            print(f"{path}: {verb} {result.revision.partition_key} ({result.stage.value})")
    return exit_code


def _progress_line(status: RevisionStatus) -> str:
    line = f"{status.revision.partition_key:<28} {status.stage.value}"
    if status.stage.value == "awaiting_approval" and status.approvals:
        line += " (" + ", ".join(a.short() for a in status.approvals) + ")"
    if status.blocked_on:
        line += f" ({status.blocked_on})"
    if status.error:
        line += f": {status.error}"
    return line


def _recover(home: ContractHome, instance: DagsterInstance) -> None:
    """After a crash: runs whose process is gone are marked failed, half-written temporary
    files removed. Everything finished stays; what was not is run again."""
    for record in instance.get_run_records(
        # NOT_STARTED too: a console killed between creating its run and starting it.
        RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED])
    ):
        if mark_dead_run_failed(instance, record.dagster_run.run_id):
            print(f"run {record.dagster_run.run_id} was interrupted; marked failed", file=sys.stderr)
    sweep_temp_files(home.root)


def _run(home: ContractHome, operations: ContractOperations) -> int:
    instance = operations.instance
    _recover(home, instance)
    with console_runs(instance) as runs:

        def execute(partition_key: str, steps: list[str]) -> bool:
            tags = {PARTITION_TAG: partition_key, PARTITION_SET_TAG: PIPELINE_PARTITION_SET}
            run = runs.create("contract_pipeline", tags=tags, run_config=QUIET_RUN, assets=steps)
            return runs.execute(run)

        results = operations.run(execute, progress=lambda s: print(_progress_line(s), flush=True))
        if results or not instance.get_latest_materialization_event(AssetKey("contract_register")):
            runs.execute(runs.create("contract_register_job", run_config=QUIET_RUN))
    for status, run_id in operations.left_to_run_retries():
        print(
            f"{status.revision.partition_key:<28} failed; the daemon's run retries start it again "
            f"(now: contract-assets resume {run_id})"
        )
    if not results:
        print("nothing to run: every revision is settled or waiting")
    return 1 if any(r.stage.value == "failed" for r in results) else 0


def _resume(operations: ContractOperations, run_id: str) -> int:
    """Re-execute a failed (or killed) run from its failure, keeping its partition."""
    try:
        outcome = resume_run(operations.instance, run_id)
    except ResumeRefused as exc:
        print(f"cannot resume {run_id}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{run_id} resumed as {outcome.run_id}: {'success' if outcome.success else 'failed'}")
    return 0 if outcome.success else 1


def _status(operations: ContractOperations, contract_id: str | None, as_json: bool) -> int:
    statuses = operations.statuses(contract_id)
    if as_json:
        print(json.dumps([s.as_json() for s in statuses], indent=2, ensure_ascii=False))
        return 0
    if not statuses:
        print("no revisions registered" + (f" for {contract_id}" if contract_id else ""))
        return 0
    print(f"{'REVISION':<28} {'STAGE':<20} {'RISK':<12} {'APPROVALS':<32} DOCUMENTS")
    for status in statuses:
        data = status.as_json()
        risk = f"{data['risk']['score']} {data['risk']['level']}" if data["risk"] else "-"
        approvals = ", ".join(a.short() for a in status.approvals) or "-"
        artifacts = data["artifacts"]
        where = artifacts["pdf"] or artifacts["review_html"] or data.get("blocked_on") or data.get("error") or "-"
        print(f"{data['partition_key']:<28} {data['stage']:<20} {risk:<12} {approvals:<32} {where}")
        indent = " " * 30
        if artifacts["manifest"]:
            print(f"{indent}{artifacts['manifest']}")
        for approval in status.approvals:
            if approval.decided_at:
                when = approval.decided_at.strftime("%Y-%m-%d %H:%M UTC")
                said = f": {shown(approval.comment, 200)}" if approval.comment else ""
                print(f"{indent}{approval.role}: {approval.state.replace('_', ' ')} by {approval.approver}, {when}{said}")
        if data["stage"] == "awaiting_approval":
            print(f"{indent}{data['reason']}")
            if data.get("refused_decisions"):
                last = data["refused_decisions"][-1]
                print(f"{indent}last decision refused ({last['role']}, {last['approver']}): {last['reason']}")
        elif data["waiting_for"] != "nobody":
            print(f"{indent}{data['reason']}; must act: {data['waiting_for']}")
    print(f"\n{operations.workspace.protection.describe()}")
    return 0


# dagster-daemon writes a heartbeat every 30 s: one newer than this means it may be running.
DAEMON_ALIVE_SECONDS = 90


def _health(home: ContractHome, args: argparse.Namespace) -> int:
    """One line per check, OK or FAIL with its figure; exit 1 when any check fails."""
    from contract_assets.health import health_checks

    try:
        with open_instance(home) as instance:
            checks = health_checks(
                instance, home, max_queued=args.max_queued, max_failed=args.max_failed
            )
    except Exception as exc:  # the database is down, the instance unreadable: a failed check too
        print(f"FAIL instance: cannot read it ({type(exc).__name__}: {str(exc)[:300]})")
        return 1
    checks = [check for check in checks if not args.check or check.key in args.check]
    for check in checks:
        print(check.line())
    return 0 if all(check.ok for check in checks) else 1


def _rotate_key(operations: ContractOperations, home: ContractHome) -> int:
    """Re-encrypt every stored record with the newest configured data key.

    Refused while the daemon or a run may still be writing: a process started with the old
    key list would go on writing records under the old key, which the user is about to drop.
    """
    busy = _writing_elsewhere(operations.instance, operations.partitions_in_flight())
    if busy:
        print(f"refused: {busy}; nothing was re-encrypted", file=sys.stderr)
        return 1
    protection = DataProtection.from_env()
    home.ensure()
    changed, failed = home.reseal(protection)
    revisions, failed_revisions = Workspace(home).registry.reseal()
    failed = {**failed, **failed_revisions}
    for path, reason in failed.items():
        print(f"not re-encrypted: {reason}", file=sys.stderr)
    print(
        f"{len(changed)} file(s) and {revisions} registered revision(s) now encrypted with key "
        f"{protection.key_ids[0]}; {len(failed)} failed"
    )
    if failed:
        return 1
    if len(protection.key_ids) > 1:
        print("older keys are no longer needed for this home; remove them from the key list")
    return 0


def _writing_elsewhere(instance: DagsterInstance, in_flight: set[str]) -> str | None:
    """Why another process may be writing records now, or None."""
    now = datetime.now(UTC).timestamp()
    beats = [beat.timestamp for beat in instance.get_daemon_heartbeats().values()]
    if beats and now - max(beats) < DAEMON_ALIVE_SECONDS:
        wait = int(DAEMON_ALIVE_SECONDS - (now - max(beats))) + 1
        return (
            "the Dagster daemon is running (its last heartbeat was "
            f"{int(now - max(beats))} s ago): stop `contract-assets daemon` or `dev` first; "
            f"if it is already stopped, try again in {wait} s"
        )
    if in_flight:
        return f"runs are going for {', '.join(sorted(in_flight))}: let them finish first"
    return None


def _decrypt(workspace: Workspace, path: Path) -> int:
    """Print a stored record or kept file in plaintext (the key must be configured); a
    revision key (`acme-robotics-nda.r1`) prints that registered revision."""
    protection = DataProtection.from_env()
    if not path.exists() and _is_revision_key(str(path)):
        contract_id, _, number = str(path).rpartition(".")
        data = workspace.records.get(RevisionRegistry.KIND, contract_id, number)
        if data is None:
            print(f"no revision {path} has been submitted", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(open_envelope(data, protection, source=f"revision {path}"))
        return 0
    data = path.read_bytes()
    if path.name.endswith(ENCRYPTED_SUFFIX):
        plain = protection.open(data, source=str(path))
    elif path.suffix == ".json" and data.lstrip().startswith(b"{"):
        try:
            plain = open_envelope(data, protection, source=str(path))
        except StoredTypeMismatch:
            plain = data  # not a stored record: shown as it is
    else:
        plain = data
    sys.stdout.buffer.write(plain)
    return 0


def _keygen(private_path: Path) -> int:
    try:
        public = write_keypair(private_path)
    except (FileExistsError, OSError) as exc:
        print(f"{private_path}: {exc}", file=sys.stderr)
        return 1
    print(f"private key: {private_path} (owner-only; keep it to yourself)")
    print(f"public key:  {public} (register it with `contract-assets approvers add`)")
    return 0


def _approvers_add(workspace: Workspace, args: argparse.Namespace) -> int:
    try:
        approver = Approver(
            name=args.name,
            email=args.email,
            roles=args.role,
            public_key=read_public_key(args.public_key),
        )
        workspace.approvers.add(approver)
    except (ValidationError, ApproverConfigError, OSError, ValueError) as exc:
        print(f"approver {args.name} not added: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"approver {approver.name} <{approver.email}> may decide as: {', '.join(approver.roles)}")
    return 0


def _approve(operations: ContractOperations, args: argparse.Namespace) -> int:
    """Sign a decision with the approver's private key, then verify and record it."""
    registry = operations.workspace.registry
    try:
        revision = registry.get(args.partition_key)
        private_pem = read_private_key(args.key)
    except (KeyError, ValueError, OSError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    payload = DecisionPayload(
        partition_key=revision.partition_key,
        content_hash=revision.content_hash,
        role=args.role,
        approver=args.approver,
        decision=args.decision.replace("-", "_"),
        signed_at=datetime.now(UTC),
        comment=args.comment,
    )
    signed = sign_decision(payload, private_pem)
    if args.sign_only:
        config = {"ops": {"record_signed_decision": {"config": {
            **payload.model_dump(mode="json"), "signature": signed.signature}}}}
        print(json.dumps(config, indent=2))
        return 0
    counted, reason, state = operations.record_decision(signed)
    if not counted:
        print(f"refused: {reason}", file=sys.stderr)
        return 1
    print(f"{revision.partition_key}: {args.role} {args.decision} by {args.approver} recorded")
    if state != "awaiting_approval":
        print(f"{revision.partition_key} is now {state}; the daemon (or `contract-assets run`) goes on")
    return 0


def _exec_dagster(home: ContractHome, command: list[str], *, relay_stop: bool = False) -> int:
    """Run a Dagster program on this home's instance, with nothing for the user to set.

    With `relay_stop`, until it ends or this process gets SIGTERM or SIGINT: then the program
    is asked to stop, and stops with everything it started (webserver, daemon, code
    servers), and this exits 0.
    """
    with open_instance(home):
        pass  # created before the program and its code servers start, not by them at once
    env = dict(os.environ, CONTRACT_ASSETS_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home))
    program = Path(sys.executable).parent / command[0]
    argv = [str(program) if program.exists() else command[0], *command[1:]]
    if not relay_stop:
        return subprocess.call(argv, env=env)
    state: dict = {"program": None, "asked": False, "stopping": False}

    def ask_to_stop() -> None:
        # Dagster's programs stop cleanly on SIGINT (dagster dev tells its webserver and
        # daemon, which stop their code servers); a second one would cut that short.
        program = state["program"]
        if program is not None and not state["asked"] and program.poll() is None:
            state["asked"] = True
            program.send_signal(signal.SIGINT)

    def stop(_signum: int, _frame) -> None:
        state["stopping"] = True
        ask_to_stop()

    # Our own handlers, also where the caller ignored SIGINT (a script's background job):
    # the program then starts with both signals at their defaults, which Dagster relies on.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # In this process group, so that killing the group (the OOM killer's way, a service
        # manager's last resort) takes the program and what it started with it.
        state["program"] = subprocess.Popen(argv, env=env)
        if state["stopping"]:  # a signal came while it was starting
            ask_to_stop()
        code = state["program"].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if state["stopping"] else code


def _audit(operations: ContractOperations, args: argparse.Namespace) -> int:
    """`audit verify`: the chain against its witnesses; `audit export`: JSON lines."""
    if args.audit_command == "export":
        lines = export_lines(operations.workspace.audit.entries(args.revision))
        if args.out is None:
            for line in lines:
                print(line)
        else:
            atomic_write_bytes(args.out, "".join(f"{line}\n" for line in lines).encode())
            print(f"audit trail written to {args.out}")
        return 0
    report = verify_audit(operations.workspace, operations.instance)
    if report.ok:
        head = f"; head {report.head.seq} {report.head.hash[:16]}" if report.head else ""
        print(f"audit trail intact: {report.entries} entries{head}")
        return 0
    for problem in report.problems:
        print(f"audit trail broken at {problem}", file=sys.stderr)
    return 1


UI_HOST_ENV = "CONTRACT_ASSETS_UI_HOST"
LOOPBACK = "127.0.0.1"
DEFINITIONS_MODULE = "contract_assets.definitions"


def ui_command(*, host: str, port: str, read_only: bool) -> list[str]:
    """The command line that serves the UI on `host:port`.

    `dagster dev` runs the UI and the daemon together; read-only, only `dagster-webserver`
    has the flag (no launching, terminating or re-executing runs, no sensor or schedule
    switches), and the daemon runs on its own (`contract-assets daemon`).
    """
    where = ["-h", host, "-p", port]
    if read_only:
        return ["dagster-webserver", "-m", DEFINITIONS_MODULE, *where, "--read-only"]
    return ["dagster", "dev", "-m", DEFINITIONS_MODULE, *where]


def _serve_ui(home: ContractHome, args: argparse.Namespace) -> int:
    if args.host not in (LOOPBACK, "localhost", "::1"):
        print(
            f"warning: the Dagster UI has no login of its own; on {args.host} anyone who reaches "
            f"port {args.port} can launch runs. Put it behind an authenticating proxy (README: "
            "'The UI behind a proxy') or use --read-only.",
            file=sys.stderr,
        )
    command = ui_command(host=args.host, port=args.port, read_only=args.read_only)
    return _exec_dagster(home, command, relay_stop=True)


def _migrate(home: ContractHome) -> int:
    """Create the database (PostgreSQL) if needed and bring the instance's schema up to date."""
    url = database_url()
    if url:
        created = create_database(url)
        print(f"database {'created' if created else 'exists'}: {url.rsplit('/', 1)[-1]}")
    with open_instance(home) as instance:
        instance.upgrade()
    create_schema(records_url(home.root))
    print(f"instance schema up to date ({'postgres' if url else 'sqlite'}) at {home.dagster_home}")
    print("project tables (revisions, decisions, alerts, audit trail) up to date")
    return 0


def _request_files(paths: Sequence[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in REQUEST_SUFFIXES)
        else:
            files.append(path)
    return files


def _describe_seal(seal: OrganisationSeal, workspace: Workspace) -> None:
    files = workspace.seal_files
    print(f"seal of {seal.organisation}, valid until {seal.certificate.not_valid_after_utc:%Y-%m-%d}")
    print(f"  certificate sha256: {seal.fingerprint}")
    print(f"  key and certificate: {files.pkcs12} (owner-only)")
    print(f"  certificate to share with those who verify: {files.certificate}")


def _init_signing(workspace: Workspace, args: argparse.Namespace) -> int:
    """Set up the organisation's seal: a self-signed trial one, or the given PKCS#12."""
    files = workspace.seal_files
    passphrase = passphrase_from_env()
    try:
        if args.pkcs12:
            seal = import_seal(files, args.pkcs12.read_bytes(), passphrase)
        else:
            organisation = args.organisation or next(iter(workspace.entities.values())).legal_name
            seal = create_trial_seal(files, organisation, passphrase)
    except (SealError, OSError) as exc:
        print(f"no seal set up: {exc}", file=sys.stderr)
        return EXIT_INVALID if isinstance(exc, SealError) else 1
    _describe_seal(seal, workspace)
    if not args.pkcs12:
        print("  a self-signed trial certificate: only those given its certificate trust it")
    if not passphrase:
        print(f"  stored without a passphrase (set {PASSPHRASE_ENV} before init-signing for one)")
    return 0


def _verify(workspace: Workspace, target: Path, certificate: Path | None) -> int:
    """Check a sealed PDF, or a signature package (its folder, manifest or zip), and say what failed."""
    trust_file = certificate or workspace.seal_files.certificate
    if not trust_file.exists():
        print(
            f"no certificate to trust: {trust_file} does not exist "
            "(run `contract-assets init-signing`, or pass --certificate FILE)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    try:
        trusted = read_certificates(trust_file)
        result = _verification_of(target, trusted)
    except (SealError, OSError, ValueError) as exc:
        print(f"cannot verify {target}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"trusting the certificate in {trust_file} (sha256 {certificate_fingerprint(trusted[0])})")
    for item in result.checked:
        print(f"checked: {item}")
    for problem in result.problems:
        print(f"FAILED: {problem}")
    print(f"{target}: {'verified' if result.ok else 'NOT verified'}")
    return 0 if result.ok else 1


def _verification_of(target: Path, trusted: list[x509.Certificate]) -> Verification:
    """A package given as its folder, its manifest or its zip; anything else as a sealed PDF."""
    if target.is_dir():
        manifests = sorted(target.glob(f"*{MANIFEST_SUFFIX}"))
        if len(manifests) != 1:
            raise ValueError(f"expected one *{MANIFEST_SUFFIX} in the folder, found {len(manifests)}")
        return verify_package(manifests[0], trusted)
    if target.name.endswith(".zip"):
        return verify_package_zip(target, trusted)
    if target.name.endswith(".json"):
        return verify_package(target, trusted)
    return verify_sealed_pdf(target, trusted)


def _demo(home: ContractHome, operations: ContractOperations, directory: Path) -> int:
    """Submit each sample request in order, running the pipeline after each arrival."""
    files = _request_files([directory])
    if not files:
        print(f"no request files in {directory}", file=sys.stderr)
        return EXIT_INVALID
    print(f"contract home: {home.root}")
    workspace = operations.workspace
    if not workspace.seal_files.exists():
        print("no organisation seal yet: making a self-signed trial one (`init-signing`)")
        organisation = next(iter(workspace.entities.values())).legal_name
        seal = create_trial_seal(workspace.seal_files, organisation, passphrase_from_env())
        _describe_seal(seal, workspace)
    code = 0
    for path in files:
        code = max(code, _submit(operations, [path], as_json=False))
        code = max(code, _run(home, operations))
    print()
    _status(operations, None, as_json=False)
    layout = operations.workspace.layout
    print(f"\nregister:  {layout.value_path('contract_register', None, '.parquet')}")
    report = layout.read_model("register_report", None, RegisterReport)
    if report is not None:
        print(f"report:    {report.path_of('register_report')}")
    print(f"documents: {operations.workspace.layout.base_dir / 'documents'}")
    print("UI:        make ui   (then open http://127.0.0.1:3000)")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="contract-assets",
        description="Contract requests in, approved and rendered contracts out (a Dagster project).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print the export lines for the current contract home")
    submit = commands.add_parser("submit", help="validate and register request files as revisions")
    submit.add_argument("files", nargs="+", type=Path)
    submit.add_argument("--json", action="store_true", help="one JSON object per file and line")
    commands.add_parser("run", help="materialize every registered revision that is not settled")
    resume = commands.add_parser("resume", help="re-execute a failed or killed run from its failure")
    resume.add_argument("run_id")
    status = commands.add_parser("status", help="where each revision stands")
    status.add_argument("contract_id", nargs="?")
    status.add_argument("--json", action="store_true", help="one JSON array, an object per revision")
    demo = commands.add_parser("demo", help="submit and run the sample requests, then show status")
    demo.add_argument("directory", type=Path)
    keygen = commands.add_parser("keygen", help="make an approver's Ed25519 key pair")
    keygen.add_argument("name")
    keygen.add_argument("--out", type=Path, required=True, help="private key file (FILE.pub: public)")
    approvers = commands.add_parser("approvers", help="manage the approvers")
    approver_commands = approvers.add_subparsers(dest="approvers_command", required=True)
    add = approver_commands.add_parser("add", help="register (or replace) an approver")
    add.add_argument("name")
    add.add_argument("--email", required=True)
    add.add_argument("--role", action="append", required=True)
    add.add_argument("--public-key", type=Path, required=True)
    approve = commands.add_parser("approve", help="sign and record a decision on a revision")
    approve.add_argument("partition_key")
    approve.add_argument("--role", required=True)
    approve.add_argument("--approver", required=True)
    approve.add_argument("--key", type=Path, required=True, help="the approver's private key file")
    approve.add_argument(
        "--decision", choices=["approve", "reject", "request-changes"], default="approve"
    )
    approve.add_argument("--comment")
    approve.add_argument(
        "--sign-only", action="store_true",
        help="print the signed decision as run config for the record_approval job instead",
    )
    commands.add_parser(
        "new-data-key", help="print a new data key (for CONTRACT_ASSETS_DATA_KEY or the key file)"
    )
    commands.add_parser(
        "rotate-key", help="re-encrypt every stored record with the newest configured data key"
    )
    decrypt = commands.add_parser(
        "decrypt", help="print an encrypted revision (by key), record or kept file in plaintext"
    )
    decrypt.add_argument("path", type=Path, help="a file, or a revision key like acme-robotics-nda.r1")
    init_signing = commands.add_parser(
        "init-signing",
        help="set up the organisation's seal: a self-signed trial certificate, or your PKCS#12",
    )
    init_signing.add_argument(
        "--organisation", help="the name in a trial certificate (default: the first entity's)"
    )
    init_signing.add_argument(
        "--pkcs12", type=Path, help=f"use this PKCS#12 (.p12/.pfx); its passphrase from ${PASSPHRASE_ENV}"
    )
    verify = commands.add_parser(
        "verify", help="check a sealed PDF or a signature package (its folder, manifest or zip)"
    )
    verify.add_argument("file", type=Path)
    verify.add_argument(
        "--certificate", type=Path, help="trust this certificate (default: the home's seal certificate)"
    )
    commands.add_parser("daemon", help="run dagster-daemon (sensors, schedules) on this home")
    commands.add_parser(
        "migrate", help="create the PostgreSQL database if needed and upgrade the instance schema"
    )
    health = commands.add_parser(
        "health",
        help="check the daemon's heartbeat, the run queue, the inbox and recent failures "
        "(exit 1 when any fails; for cron, systemd and Kubernetes probes)",
    )
    health.add_argument(
        "--max-queued", type=int, default=100, help="most runs waiting in the queue (default 100)"
    )
    health.add_argument(
        "--max-failed", type=int, default=0, help="most runs failed in the last hour (default 0)"
    )
    health.add_argument(
        "--check", action="append", choices=["daemon", "queue", "inbox", "failures"],
        help="only this check (repeatable; default all): `--check daemon` for a liveness probe",
    )  # fmt: skip
    audit = commands.add_parser("audit", help="verify or export the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="walk the hash chain; exit 1 naming the first bad entry"
    )
    export = audit_commands.add_parser("export", help="write the trail as JSON lines")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument("--revision", help="only the entries of one revision (partition key)")
    dev = commands.add_parser("dev", help="run the Dagster UI and daemon on this home")
    dev.add_argument(
        "--host", default=os.environ.get(UI_HOST_ENV) or LOOPBACK,
        help=f"address the UI listens on (default ${UI_HOST_ENV}, else {LOOPBACK}: this machine only)",
    )  # fmt: skip
    dev.add_argument("--port", default="3000")
    dev.add_argument(
        "--read-only", action="store_true",
        help="only the UI (dagster-webserver --read-only): nothing can be launched or changed; "
        "run `contract-assets daemon` beside it",
    )  # fmt: skip
    args = parser.parse_args(argv)
    # Whatever this process creates (Dagster's database and logs too) is owner-only.
    os.umask(0o077)
    try:
        return _command(args)
    except DataKeyError as exc:
        print(f"data key: {exc}", file=sys.stderr)
        return EXIT_INVALID


def _command(args: argparse.Namespace) -> int:
    home = ContractHome.from_env()
    if args.command == "env":
        home.ensure()
        print(home.env_exports(), end="")
        access = Workspace(home).access
        print(f"# access policy: {access.path if access.configured else 'none (everyone may do everything)'}")
        print(f"# {DataProtection.from_env().describe()}")
        return 0
    if args.command == "new-data-key":
        print(new_key())
        return 0
    if args.command == "keygen":
        return _keygen(args.out)
    if args.command == "verify":
        return _verify(Workspace(home), args.file, args.certificate)
    if args.command == "migrate":
        return _migrate(home)
    if args.command == "daemon":
        return _exec_dagster(home, ["dagster-daemon", "run", "-m", DEFINITIONS_MODULE])
    if args.command == "dev":
        return _serve_ui(home, args)
    if args.command == "health":
        return _health(home, args)
    with open_operations(home) as operations:
        try:
            for permission in REQUIRED.get(args.command, ()):
                operations.authorize(permission)
        except AccessDenied as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return EXIT_FORBIDDEN
        except AccessConfigError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return EXIT_INVALID
        if args.command == "submit":
            return _submit(operations, args.files, args.json)
        if args.command == "run":
            return _run(home, operations)
        if args.command == "status":
            return _status(operations, args.contract_id, args.json)
        if args.command == "approve":
            return _approve(operations, args)
        if args.command == "resume":
            return _resume(operations, args.run_id)
        if args.command == "approvers":
            code = _approvers_add(operations.workspace, args)
            operations.audit_configuration()
            return code
        if args.command == "audit":
            return _audit(operations, args)
        if args.command == "rotate-key":
            return _rotate_key(operations, home)
        if args.command == "decrypt":
            return _decrypt(operations.workspace, args.path)
        if args.command == "init-signing":
            code = _init_signing(operations.workspace, args)
            operations.audit_configuration()
            return code
        return _demo(home, operations, args.directory)



def _is_revision_key(text: str) -> bool:
    try:
        parse_partition_key(text)
    except ValueError:
        return False
    return "/" not in text


if __name__ == "__main__":
    sys.exit(main())
