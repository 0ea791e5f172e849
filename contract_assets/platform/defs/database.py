"""The PostgreSQL switch: one setting, $CONTRACT_ASSETS_DATABASE_URL, moves the Dagster
instance (runs, events, partitions, schedules) into that database."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from contract_assets.platform.home import DATABASE_ENV


def database_url() -> str | None:
    return os.environ.get(DATABASE_ENV) or None


def _server(url: str):
    """The URL's parts, with any SQLAlchemy driver suffix (`+psycopg`) removed."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.split("+")[0])


def create_database(url: str) -> bool:
    """Create the database the URL names if it does not exist; True when created."""
    import psycopg2
    from psycopg2 import sql

    parts = _server(url)
    name = parts.path.lstrip("/")
    if not name:
        raise ValueError(f"{DATABASE_ENV} names no database: {url}")
    connection = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


def drop_database(url: str) -> None:
    """Drop the database the URL names (tests use a fresh one each)."""
    import psycopg2
    from psycopg2 import sql

    parts = _server(url)
    connection = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(parts.path.lstrip("/"))
                )
            )
    finally:
        connection.close()
