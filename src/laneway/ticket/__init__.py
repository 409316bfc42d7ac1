"""The inference deployment ticket: checked against the fleet, then composed into resources.

A ticket (`InferenceTicket`, short name `tk`) answers ten questions once. This package holds
the pure logic around it, apart from any I/O:

- `checks.check_ticket(ticket, fleet, now=)`: one verdict per row, the placement one a dry run
  of the real scheduler (`laneway.placement.plan`), never a re-implementation;
- `compose.compose(ticket, classes=)`: the ModelDeployment, ModelService, external
  ModelEndpoint and ModelCache an approved ticket stands for;
- `scaffold`: the blank ticket `laneway ticket new` writes, with a question under each row;
- `revisions`, `canary`, `retirement`: the rollout history, the automatic canary rollback and
  the retirement timeline, each a pure function of what it is handed (the clock included).

The controllers in `laneway.control.ticket` and `laneway.control.rollout` are the thin I/O
around these functions.
"""
