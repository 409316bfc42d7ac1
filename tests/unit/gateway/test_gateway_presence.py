"""Which gateway process writes an InferenceGateway's status, and what it writes."""

from __future__ import annotations

from laneway.api.kinds.platform import InferenceGateway
from laneway.gateway.presence import SERVED_BY, held_status, holder, released_status, should_claim


def _gw(address: str | None = None, status: dict | None = None) -> InferenceGateway:
    doc: dict = {"metadata": {"name": "front-door", "generation": 2}, "spec": {"address": address} if address else {}}
    if status:
        doc["status"] = status
    return InferenceGateway.model_validate(doc)


def _with(gw: InferenceGateway, status: object) -> InferenceGateway:
    return gw.model_copy(update={"status": status})


def test_the_first_gateway_claims_and_writes_its_address_and_ready() -> None:
    gw = _gw()
    assert should_claim(gw, own="http://a:1", holder_alive=True)
    st = held_status(gw, own="http://a:1")
    assert st.address == "http://a:1" and st.wire()[SERVED_BY] == "http://a:1"
    ready = next(c for c in st.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, st.observed_generation) == ("True", "Serving", 2)
    # Writing again changes nothing: same document, same transition time.
    again = held_status(_with(gw, st), own="http://a:1")
    assert again.wire() == st.wire()


def test_a_live_holder_is_left_alone_a_dead_one_is_replaced() -> None:
    held = _with(_gw(), held_status(_gw(), own="http://a:1"))
    assert holder(held) == "http://a:1"
    assert not should_claim(held, own="http://b:2", holder_alive=True)
    assert should_claim(held, own="http://b:2", holder_alive=False)
    taken = held_status(held, own="http://b:2")
    assert taken.address == "http://b:2" and taken.wire()[SERVED_BY] == "http://b:2"


def test_a_published_address_wins_over_the_listen_address() -> None:
    st = held_status(_gw("https://llm.example.com"), own="http://a:1")
    assert st.address == "https://llm.example.com"
    assert st.wire()[SERVED_BY] == "http://a:1"


def test_release_leaves_it_not_ready_and_unheld() -> None:
    gw = _gw()
    held = _with(gw, held_status(gw, own="http://a:1"))
    released = released_status(held, own="http://a:1")
    assert released.address is None and SERVED_BY not in released.wire()
    ready = next(c for c in released.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "NoGateway")
    assert should_claim(_with(gw, released), own="http://b:2", holder_alive=True)
