"""`laneway edit KIND/NAME`: open one object in $EDITOR and write back what was saved, as
kubectl's edit does.

The object is read through the API (so a team token opens only what it may read), written as
YAML to a private temporary file and handed to `LANEWAY_EDITOR`, else `EDITOR`, else `vi`.
What comes back is checked locally (YAML, the same validation `apply` does, and that kind,
apiVersion, name and namespace did not change) and PUT with the resourceVersion that was
opened, so the server checks it and authorises it exactly as any write. A refusal that editing
can fix (invalid fields, the server's 422) reopens the editor with the reasons at the top and
the user's text kept; saving the same refused text again gives up and keeps the file. Saving
it unchanged writes nothing. Another writer in between is a 409: the command says so and keeps
the edited file for a second try, never overwriting that write. Secrets are not edited: the
API returns them redacted, so there is nothing true to edit.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import click

from laneway.api.errors import InvalidManifests
from laneway.api.manifest import load_text
from laneway.api.meta import Resource
from laneway.cli.context import connection_options, namespace_option, open_client
from laneway.cli.edit_buffer import (
    buffer_text,
    document_text,
    identity_changes,
    only_status_changed,
    parse_buffer,
    without_header,
)
from laneway.cli.errors import EXIT_USAGE, Failure
from laneway.cli.kinds import one_kind, ref, split_kind_name
from laneway.cli.notfound import get_or_hint
from laneway.client import ApiError, Client

DEFAULT_EDITOR = "vi"
MAX_ROUNDS = 20
"""How many refused saves in a row before edit stops asking (each one reopens the editor)."""


def editor_command(env: dict[str, str] | os._Environ[str]) -> list[str]:
    """The editor to run, split as a shell would (`code --wait`): LANEWAY_EDITOR, EDITOR, vi."""
    text = env.get("LANEWAY_EDITOR") or env.get("EDITOR") or DEFAULT_EDITOR
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    if not words:
        raise Failure(f"cannot run the editor {text!r}: set LANEWAY_EDITOR or EDITOR to a command, e.g. EDITOR=nano", EXIT_USAGE)
    return words


@click.command()
@click.argument("kind", metavar="KIND[/NAME]")
@click.argument("name", required=False)
@namespace_option
@connection_options
@click.pass_context
def edit(ctx: click.Context, kind: str, name: str | None, namespace: str | None) -> None:
    """Edit one object in $EDITOR (LANEWAY_EDITOR, else EDITOR, else vi) and write it back.

    Invalid edits reopen the editor with the reasons; an unchanged save writes nothing; if the
    object changed on the server meanwhile, nothing is written and the edit is kept in a file.
    """
    kind, name = split_kind_name(kind, name)
    if not name:
        raise Failure("name the object to edit: `laneway edit KIND NAME` or `laneway edit KIND/NAME`", EXIT_USAGE)
    info = one_kind(kind)
    if info.kind == "Secret":
        raise Failure(
            "Secrets are not edited: the API returns their values redacted, so there is nothing true to edit; "
            "write the new values in a manifest and `laneway apply -f` it",
            EXIT_USAGE,
        )
    command = editor_command(os.environ)
    client = open_client(ctx)
    live = get_or_hint(client, info, name, namespace)
    original = live.wire()
    text = document_text(original)
    handle, path_text = tempfile.mkstemp(prefix=f"laneway-edit-{info.singular}-{name}-", suffix=".yaml")
    os.close(handle)
    path = Path(path_text)
    try:
        _session(client, live, original, buffer_text(text), path, command, label=ref(info, name))
    except Failure as failure:
        if str(path) not in failure.format_message():  # a message that names the file keeps it for the user
            path.unlink(missing_ok=True)
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)


def _session(
    client: Client, live: Resource, original: dict[str, Any], first: str, path: Path, command: list[str], *, label: str
) -> None:
    """The edit rounds, until the object is written, the edit is cancelled, or a Failure."""
    buffer = first
    refused_body: str | None = None
    for _ in range(MAX_ROUNDS):
        path.write_text(buffer, encoding="utf-8")
        _run_editor(command, path)
        saved = path.read_text(encoding="utf-8")
        parsed = parse_buffer(saved)
        if parsed.document is None and not parsed.problem:
            click.echo("Edit cancelled: the file was emptied; nothing was changed.")
            return
        if parsed.document == original:
            click.echo("Edit cancelled: no changes made.")
            return
        if parsed.document is not None and only_status_changed(original, parsed.document):
            click.echo("Edit cancelled: only status changed, and laneway's controllers write status; nothing was changed.")
            return
        body = without_header(saved) if parsed.problem else document_text(parsed.document or {})
        if refused_body is not None and body == refused_body:
            raise Failure(f"edit cancelled: {label} is still refused and nothing was written; your edit is kept in {path}")
        problems = [parsed.problem] if parsed.problem else identity_changes(original, parsed.document or {})
        if not problems:
            outcome = _write(client, live, saved, path, label=label)
            if outcome is None:
                return
            problems = outcome
        refused_body = body
        buffer = buffer_text(without_header(saved), problems)
    raise Failure(f"edit stopped after {MAX_ROUNDS} refused saves; nothing was written; your edit is kept in {path}")


def _write(client: Client, live: Resource, saved: str, path: Path, *, label: str) -> list[str] | None:
    """PUT the edited object. None when written; the problems when editing can fix them;
    raises Failure (keeping the file) for a conflict or a refusal editing cannot fix."""
    body = without_header(saved)
    try:
        edited = _validated(body, pad=0)
    except InvalidManifests as e:
        # Once more, numbered as the lines will stand under the next buffer's longer header
        # (the problems' own line count does not depend on the numbers in them).
        pad = len(buffer_text("", [str(e)]).splitlines())
        try:
            _validated(body, pad=pad)
        except InvalidManifests as again:
            return [str(again)]
        return [str(e)]
    meta = edited.metadata.model_copy(update={"resource_version": live.metadata.resource_version})
    try:
        client.update(edited.model_copy(update={"metadata": meta}))
    except ApiError as e:
        if e.code in (400, 422):
            return [str(e)]
        path_note = f"your edit is kept in {path}"
        if e.conflict:
            raise Failure(
                f"{label} was changed on the server after you opened it (resourceVersion "
                f"{live.metadata.resource_version} is no longer current), so your edit was not written and the other "
                f"change stands; {path_note}: run `laneway edit {label}` again and redo it there"
            ) from None
        raise Failure(f"{label} was not written: {e}\n  {path_note}") from None
    click.echo(f"{label} edited")
    return None


def _validated(body: str, *, pad: int) -> Resource:
    """The same local validation `apply` does; `pad` blank lines first, so the lines a problem
    names are those of the file the editor shows next (the body under its header)."""
    return load_text("\n" * pad + body, source="the edited object")[0]  # one mapping (parse_buffer checked): one object


def _run_editor(command: list[str], path: Path) -> None:
    try:
        finished = subprocess.run([*command, str(path)], check=False)
    except OSError as e:
        raise Failure(
            f"cannot run the editor {shlex.join(command)!r} ({e.strerror or e}): set LANEWAY_EDITOR or EDITOR to an "
            "editor that is installed, e.g. EDITOR=nano",
            EXIT_USAGE,
        ) from None
    if finished.returncode != 0:
        raise Failure(f"the editor {shlex.join(command)!r} exited with status {finished.returncode}; nothing was changed")
