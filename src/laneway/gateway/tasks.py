"""Background tasks of the gateway that must not die unnoticed.

The table source and the status writer each run a loop forever; a bug that escapes one ends
its task, and asyncio says so only when the task is garbage collected, if ever. Meanwhile the
gateway keeps serving a routing table that never changes again, or stops writing statuses.
`log_task_death` is attached to each such task as a done-callback: it logs the exception
with its traceback the moment the task dies, naming the task, and stays quiet for a task
that was cancelled (how every owner stops its tasks).
"""

from __future__ import annotations

import asyncio
import logging
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
