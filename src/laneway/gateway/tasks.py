"""Background tasks of the gateway that must not die unnoticed.

The table source and the status writer each run a loop forever; a bug that escapes one ends
its task, and asyncio says so only when the task is garbage collected, if ever. Meanwhile the
gateway keeps serving a routing table that never changes again, or stops writing statuses.
`start_task` starts one with `log_task_death` attached as a done-callback: it logs the
exception with its traceback the moment the task dies, naming the task, and stays quiet for a
task that was cancelled. `stop_task` is how every owner stops one: cancel, wait, and never
raise (a death was logged when it happened).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


def log_task_death(task: asyncio.Task[Any]) -> None:
    """Done-callback: log a task that ended with an exception (not one that was cancelled)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error(
            "gateway task %r died of an unexpected error; the gateway keeps serving, but what that task "
            "kept current (routing table or statuses) no longer changes: restart the gateway",
            task.get_name(),
            exc_info=exc,
        )


def start_task(coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
    """A background task whose death by a bug is logged when it happens."""
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(log_task_death)
    return task


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel `task` and wait for it to end; a task that had died already was logged then."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return
    except Exception:
        return
