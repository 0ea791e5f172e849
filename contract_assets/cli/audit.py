"""Verbs of the audit trail: verify its hash chain, export it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contract_assets.cli.registry import Call, group, verb

group("audit", "verify or export the audit trail")


@verb("audit verify", "walk the hash chain; exit 1 naming the first bad entry", on_instance=True)
def audit_verify(call: Call) -> int:
    """The chain against its witnesses."""
    from contract_assets.audit.defs.auditing import verify_audit

    report = verify_audit(call.workspace, call.instance)
    if report.ok:
        head = f"; head {report.head.seq} {report.head.hash[:16]}" if report.head else ""
        print(f"audit trail intact: {report.entries} entries{head}")
        return 0
    for problem in report.problems:
        print(f"audit trail broken at {problem}", file=sys.stderr)
    return 1


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
    parser.add_argument("--revision", help="only the entries of one revision (partition key)")


@verb("audit export", "write the trail as JSON lines", arguments=_export_arguments, on_instance=True)
def audit_export(call: Call) -> int:
    from contract_assets.audit.trail import export_lines
    from contract_assets.platform.files import atomic_write_bytes

    args = call.args
    lines = export_lines(call.workspace.audit.entries(args.revision))
    if args.out is None:
        for line in lines:
            print(line)
    else:
        atomic_write_bytes(args.out, "".join(f"{line}\n" for line in lines).encode())
        print(f"audit trail written to {args.out}")
    return 0
