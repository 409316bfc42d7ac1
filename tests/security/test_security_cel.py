"""Device selectors a team writes, as bombs for the admission check (issue 15 item 4): a
selector within the 10 KiB limit that nests thousands deep (brackets, negations, a chain of
`||`) used to overflow the stack of the pass that lists what a selector reads, a 500 from the
API instead of a refusal. Each must be a 422 naming the field, with nothing stored, and must
not stop the scheduler from placing other work: the same compile runs there."""

from __future__ import annotations

import pytest
from server_harness import RunningApi
from server_objects import collection, deployment
from test_server_cel_admission import FIELD, with_selector

from laneway.api.kinds import ModelDeployment
from laneway.placement.dra.environment import CompileError, compile_selector

BOMBS = {
    "brackets": "(" * 2500 + "true" + ")" * 2500,
    "negations": "!" * 9000 + "true",
    "chained-or": " || ".join(["true"] * 1200),
    "lists": "[" * 2500 + "]" * 2500 + " == []",
    "calls": "size(" * 1000 + "'a'" + ")" * 1000 + " == 1",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_selector_that_nests_too_deep_is_refused_not_a_500(api: RunningApi, name: str) -> None:
    with api.client(api.token("team", "ml-team")) as team:
        response = team.post(collection("modeldeployments", "ml-team"), json=with_selector(deployment(), BOMBS[name]))
        assert response.status_code == 422, response.text
        assert [c["field"] for c in response.json()["details"]["causes"]] == [FIELD]
        assert "nests too deeply" in response.json()["message"]
        assert api.store.list(ModelDeployment).items == [], "nothing was stored"
        healthy = team.get(collection("modeldeployments", "ml-team"))
    assert healthy.status_code == 200, "the server answers on"


def test_the_compiler_says_so_wherever_it_runs() -> None:
    for source in BOMBS.values():
        with pytest.raises(CompileError, match="nests too deeply"):
            compile_selector(source)
    assert compile_selector('device.driver == "gpu.nvidia.com" || ' * 20 + "false").source


