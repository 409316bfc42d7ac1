"""How a ticket check reads: a checklist for a person, JSON for a script. Pure formatting."""

from __future__ import annotations

from typing import Any

from laneway.ticket.checks import RowCheck, TicketReport

PASS_MARK = "[x]"
FAIL_MARK = "[ ]"


def report_text(report: TicketReport) -> str:
    """One line per row (mark, key, message), its facts indented below, then the verdict."""
    width = max(len(r.key) for r in report.rows) if report.rows else 0
    lines = [f"ticket {report.ticket}"]
    for r in report.rows:
        mark = PASS_MARK if r.passed else FAIL_MARK
        lines.append(f"  {mark} {r.key.ljust(width)}  {r.message}")
        lines += [f"      - {d}" for d in r.details]
    failing = report.failing
    if failing:
        lines.append(f"{len(failing)} of {len(report.rows)} rows fail: {', '.join(failing)}")
    else:
        lines.append(f"all {len(report.rows)} rows pass")
    return "\n".join(lines)


def report_json(report: TicketReport) -> dict[str, Any]:
    return {
        "ticket": report.ticket,
        "passed": report.passed,
        "failing": report.failing,
        "rows": [
            {"key": r.key, "passed": r.passed, "reason": r.reason, "message": r.message, "details": list(r.details)}
            for r in report.rows
        ],
    }


def report_from_json(doc: dict[str, Any]) -> TicketReport:
    """The report `report_json` wrote (the server's online check), for printing here."""
    rows = tuple(
        RowCheck(
            str(r["key"]), "Pass" if r.get("passed") else "Fail", str(r.get("reason", "")), str(r.get("message", "")),
            tuple(str(d) for d in r.get("details") or ()),
        )
        for r in doc.get("rows") or ()
    )
    return TicketReport(str(doc.get("ticket", "")), rows)
