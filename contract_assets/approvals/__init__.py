"""Approvals: the playbook, risk and routing, signed decisions, approval requests and SLA."""
