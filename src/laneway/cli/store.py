"""`laneway store`: the store itself, for operators: create or migrate its schema.

`laneway store migrate --store postgresql://...` brings a PostgreSQL database to the schema
this laneway needs (creating it in an empty database) and records the version; run it once
before rolling out a new laneway version, from one place, rather than letting every process
race to do it (they would not corrupt anything, the migration takes an advisory lock, but an
upgrade is easier to follow from one command). On a SQLite file it does the same: opening
the file migrates it.
"""

from __future__ import annotations

import click

from laneway.cli.context import global_options
from laneway.paths import DataDir, data_dir


@click.group()
def store() -> None:
    """Operate on the store: schema migration."""


@store.command()
@click.option("--store", "target", default=None, metavar="TARGET", help="The store: a SQLite path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB (else the data dir's SQLite file).")
@click.option("--data-dir", "data_dir_flag", default=None, metavar="DIR", help="Data directory whose SQLite store to migrate when --store is not given.")
@click.pass_context
def migrate(ctx: click.Context, target: str | None, data_dir_flag: str | None) -> None:
    """Create or upgrade the store's schema to this laneway's version; prints the versions."""
    from laneway.store import describe_target, is_postgres

    where = target or str(DataDir(data_dir(data_dir_flag or global_options(ctx).data_dir)).store_path)
    if is_postgres(where):
        from laneway.store.postgres import migrate_target

        before, after = migrate_target(where)
    else:
        from laneway.store import store_path
        from laneway.store.sqlite import migrate_file

        before, after = migrate_file(store_path(where))
    change = "already at" if before == after else f"migrated from {before} to"
    click.echo(f"store {describe_target(where)}: schema {change} version {after}")
