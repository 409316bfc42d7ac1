"""The capacity ledger: device accounting is first fit, all or nothing, and never overcommits."""

from hypothesis import given, settings
from hypothesis import strategies as st

from laneway.placement.capacity import PoolCapacity

PER_NODE = {"gpu": 8, "nic": 2}


def reference_first_fit(nodes: int, pods: list[list[dict[str, int]]]) -> list[bool]:
    """The plain model: every node kept in a list, first fit, all-or-nothing per call."""
    used: list[dict[str, int]] = []
    answers = []
    for group in pods:
        trial = [dict(n) for n in used]
        ok = True
        for pod in group:
            for node in trial:
                if all(node[d] >= n for d, n in pod.items()):
                    for d, n in pod.items():
                        node[d] -= n
                    break
            else:
                if len(trial) < nodes and all(PER_NODE.get(d, 0) >= n for d, n in pod.items()):
                    node = dict(PER_NODE)
                    for d, n in pod.items():
                        node[d] -= n
                    trial.append(node)
                else:
                    ok = False
                    break
        if ok:
            used = trial
        answers.append(ok)
    return answers


pod = st.dictionaries(st.sampled_from(["gpu", "nic"]), st.integers(1, 9), min_size=1, max_size=2)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 4), st.lists(st.lists(pod, min_size=1, max_size=3), max_size=12))
def test_device_accounting_matches_plain_first_fit(nodes, groups):
    cap = PoolCapacity(nodes=nodes, per_node=PER_NODE, accounting="Device")
    answers = [cap.take(g) for g in groups]
    assert answers == reference_first_fit(nodes, groups)
    assert cap.free_nodes >= 0 and all(v >= 0 for n in cap.partial for v in n.values())


def test_a_full_node_leaves_the_first_fit_scan():
    cap = PoolCapacity(nodes=2, per_node={"gpu": 8}, accounting="Device")
    assert cap.take([{"gpu": 8}]) and cap.partial == []
    assert cap.take([{"gpu": 4}]) and cap.partial == [{"gpu": 4}]
    assert not cap.take([{"gpu": 8}])
    assert cap.describe_free() == "0 empty nodes and 4 spare devices on nodes in use"
