"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real `laneway up`.

What a person sees is checked on the page itself: a team token sees its namespace and not
another team's; a deployment applied through the API appears and turns Ready without a
reload (the page follows watch streams); a deployment that cannot be placed shows the
scheduler's reasons. Screenshots go to `$LANEWAY_TEST_ARTIFACTS/dashboard` (default
`test-artifacts/dashboard` under the repository). Skipped only where chromium is not
installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))

from local_fleet import Fleet, Up, eventually, sim_deployment, wide_cluster

from laneway.api.meta import Condition

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("LANEWAY_TEST_ARTIFACTS", REPO / "test-artifacts")) / "dashboard"
PAGE_TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
                       reason="Debian's chromium is not installed (apt-get install -y chromium; CI installs it)"),
    pytest.mark.timeout(300),
]

@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    up = Up.start(tmp_path_factory.mktemp("dashboard") / "data", local_cluster=False)
    try:
        running = Fleet.connect(up)
        running.apply(wide_cluster())
        yield running
    finally:
        up.stop()
        assert up.leftovers() == []


def mint(fleet: Fleet, role: str, *namespaces: str) -> str:
    admin = (fleet.up.data_dir / "admin.token").read_text().strip()
    response = httpx.post(
        f"http://127.0.0.1:{fleet.up.port}/apis/laneway.dev/v1alpha1/tokens",
        json={"role": role, "namespaces": list(namespaces), "description": "dashboard browser test"},
        headers={"Authorization": f"Bearer {admin}"}, timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def apply_as(fleet: Fleet, token: str, manifest: str) -> None:
    """Apply through the API with `token` (the team's own lane), as `laneway apply` would."""
    from laneway.api.manifest import load_text
    from laneway.client import Client

    client = Client(f"http://127.0.0.1:{fleet.up.port}", token, timeout=30)
    for obj in load_text(manifest):
        client.apply(obj)


@pytest.fixture()
def page(fleet: Fleet) -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def nav(page: Page, view: str) -> None:
    page.get_by_role("navigation", name="Views").get_by_role("link", name=view).click()


def sign_in(page: Page, fleet: Fleet, token: str) -> None:
    page.goto(f"http://127.0.0.1:{fleet.up.port}/ui/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_contain_text("Signed in")


def test_team_token_sees_its_namespace_and_replicas_turn_ready_live(fleet: Fleet, page: Page) -> None:
    fleet.apply(sim_deployment("other-chat", "team-b"))
    team = mint(fleet, "team", "team-a")
    sign_in(page, fleet, team)
    expect(page.locator("#who")).to_contain_text("team token · namespaces team-a")
    assert team not in page.url

    nav(page, "Deployments")
    expect(page.get_by_role("heading", name="Deployments")).to_be_visible()
    expect(page.get_by_text("No deployments visible to this token.")).to_be_visible()

    # The page is open before the deployment exists: what follows arrives by watch, no reload.
    page.goto(f"http://127.0.0.1:{fleet.up.port}/ui/#deployment/team-a/chat")
    expect(page.get_by_text("Not found (or not visible to this token).")).to_be_visible()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    apply_as(fleet, team, sim_deployment("chat", "team-a", replicas=2))
    for index in (0, 1):
        row = page.locator(f'tr[data-replica="team-a/chat-{index}"]')
        expect(row).to_contain_text("lw-wide")
        expect(row).to_contain_text("Ready")
    assert navigations == []
    page.screenshot(path=str(ARTIFACTS / "deployment-ready.png"), full_page=True)

    nav(page, "Deployments")
    expect(page.locator('tr[data-deployment="team-a/chat"]')).to_be_visible()
    assert page.locator('tr[data-deployment="team-b/other-chat"]').count() == 0
    assert "team-b" not in page.locator("#view").inner_text()

    nav(page, "Fleet")
    pool = page.locator('tr[data-pool="lw-wide/cpu"]')
    expect(pool).to_contain_text("16")
    expect(page.locator('section[data-cluster="lw-wide"]')).to_contain_text("team-a/chat-1")
    assert "other-chat" not in page.locator("#view").inner_text()
    page.screenshot(path=str(ARTIFACTS / "fleet-team.png"), full_page=True)


def test_unplaceable_deployment_shows_the_schedulers_reasons(fleet: Fleet, page: Page) -> None:
    team = mint(fleet, "team", "team-c")
    apply_as(fleet, team, sim_deployment("nowhere", "team-c", match_labels={"laneway.dev/region": "mars"}))
    sign_in(page, fleet, team)
    nav(page, "Deployments")
    page.get_by_role("link", name="team-c/nowhere").click()
    reasons = page.get_by_role("region", name="Not placed: why")
    expect(reasons).to_contain_text("mars")
    page.screenshot(path=str(ARTIFACTS / "unplaced.png"), full_page=True)


def test_a_refused_token_stays_on_the_sign_in_form(fleet: Fleet, page: Page) -> None:
    page.goto(f"http://127.0.0.1:{fleet.up.port}/ui/")
    page.get_by_label("Token").fill("lw_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("refused")
    assert page.evaluate("sessionStorage.getItem('laneway.token')") is None


def _service_with_break_glass(name: str, namespace: str) -> str:
    """A service over the deployment `name`, with a BreakGlass entry selecting its spare."""
    return textwrap.dedent(f"""\
        apiVersion: laneway.dev/v1alpha1
        kind: ModelService
        metadata: {{name: {name}, namespace: {namespace}}}
        spec:
          modelNames: [{namespace}-{name}]
          endpoints:
          - selector: {{matchLabels: {{laneway.dev/deployment: {name}}}}}
          - tier: BreakGlass
            selector: {{matchLabels: {{laneway.dev/deployment: {name}-spare}}}}
          owner: {{team: tests, contact: tests@example.com}}
        """)


def test_platform_token_flips_break_glass_after_confirming(fleet: Fleet, page: Page) -> None:
    team = mint(fleet, "team", "team-s")
    apply_as(fleet, team, sim_deployment("chat", "team-s") + "---\n" + _service_with_break_glass("chat", "team-s"))
    fleet.ready_replicas("team-s", "chat", 1)

    def routed() -> list[object] | None:
        status = fleet.client.get("ModelService", "chat", namespace="team-s").status
        return list(status.endpoints) if status is not None and status.endpoints else None  # type: ignore[attr-defined]

    eventually("the gateway to route team-s/chat", routed)
    sign_in(page, fleet, mint(fleet, "platform"))
    nav(page, "Services")
    card = page.locator('section[data-service="team-s/chat"]')
    switch = card.locator("[data-break-glass]")
    expect(switch).to_contain_text("Break-glass: OFF")
    expect(card.locator('tr[data-endpoint="chat-0"]')).to_contain_text("Ready")

    page.once("dialog", lambda dialog: dialog.dismiss())
    card.get_by_role("button", name="Turn break-glass on").click()
    assert fleet.client.get("ModelService", "chat", namespace="team-s").spec.break_glass is False  # type: ignore[attr-defined]

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Turn break-glass on").click()
    expect(switch).to_contain_text("Break-glass: ON")  # arrives by the watch, as the store has it
    assert fleet.client.get("ModelService", "chat", namespace="team-s").spec.break_glass is True  # type: ignore[attr-defined]
    expect(card.get_by_role("button", name="Turn break-glass off")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "services-platform.png"), full_page=True)


def test_team_token_gets_no_break_glass_control(fleet: Fleet, page: Page) -> None:
    team = mint(fleet, "team", "team-t")
    apply_as(fleet, team, _service_with_break_glass("chat", "team-t"))
    sign_in(page, fleet, team)
    nav(page, "Services")
    card = page.locator('section[data-service="team-t/chat"]')
    expect(card.locator("[data-break-glass]")).to_contain_text("Break-glass: OFF")
    expect(card.locator("table").first).to_contain_text("BreakGlass")
    assert card.get_by_role("button").count() == 0
    assert page.get_by_role("button", name="Turn break-glass on").count() == 0
    page.screenshot(path=str(ARTIFACTS / "services-team.png"), full_page=True)


def test_tickets_show_each_row_as_the_checker_wrote_it(fleet: Fleet, page: Page) -> None:
    fleet.apply((REPO / "examples/tickets/pr-review-failing.yaml").read_text())

    def checked() -> list[Condition] | None:
        ticket = fleet.client.get("InferenceTicket", "pr-review-big", namespace="internal-tools")
        rows = [c for c in ticket.status.conditions if c.type.endswith("Row")]
        return rows if len(rows) == 10 else None

    rows = eventually("the ticket's ten rows to be checked", checked)
    sign_in(page, fleet, mint(fleet, "platform"))
    nav(page, "Tickets")
    card = page.locator('section[data-ticket="internal-tools/pr-review-big"]')
    expect(card).to_contain_text("Not approved")
    for row in rows:
        line = card.locator(f'tr[data-row="{row.type}"]')
        expect(line).to_contain_text(row.reason)
        word = "Pass" if row.status == "True" else ("Not checked" if row.reason == "NotChecked" else "Fail")
        expect(line.locator("td").nth(1)).to_have_text(word)
    assert any(row.status == "False" for row in rows)
    page.screenshot(path=str(ARTIFACTS / "tickets.png"), full_page=True)


def test_caches_show_staging_per_cluster(fleet: Fleet, page: Page) -> None:
    team = mint(fleet, "team", "team-k")
    apply_as(fleet, team, textwrap.dedent("""\
        apiVersion: laneway.dev/v1alpha1
        kind: ModelCache
        metadata: {name: weights, namespace: team-k}
        spec:
          source: HuggingFace
          huggingFace: {repo: HuggingFaceTB/SmolLM2-135M-Instruct, revision: main, sizeGiB: 1}
          clusterSelector: {matchLabels: {laneway.dev/region: test-wide}}
          stageAhead: true
        """))

    def staged() -> str | None:
        cache = fleet.client.get("ModelCache", "weights", namespace="team-k")
        states = [c.state for c in cache.status.clusters if c.cluster == "lw-wide"]  # type: ignore[attr-defined]
        return states[0] if states else None

    eventually("the cache to report on lw-wide", staged)
    sign_in(page, fleet, team)
    nav(page, "Caches")
    line = page.locator('section[data-cache="team-k/weights"] tr[data-cluster="lw-wide"]')
    expect(line.locator("td").nth(1)).to_contain_text(re.compile("Pending|Hydrating|Ready|Failed"))
    page.screenshot(path=str(ARTIFACTS / "caches.png"), full_page=True)


def test_keyboard_only_and_narrow_screen(fleet: Fleet, page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    sign_in(page, fleet, mint(fleet, "platform"))
    expect(page.locator('section[data-cluster="lw-wide"]')).to_be_visible()
    # A reload keeps the session (sessionStorage) and starts focus at the top of the page: Tab
    # reaches the skip link first, then the views, opened by keyboard alone.
    page.reload()
    expect(page.locator("#who")).to_contain_text("platform token")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("navigation", name="Views").get_by_role("link", name="Fleet")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Views").get_by_role("link", name="Deployments")).to_have_attribute("aria-current", "page")
    # Nothing wider than the screen: wide tables scroll inside their own box, not the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    nav(page, "Fleet")
    expect(page.locator('section[data-cluster="lw-wide"]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACTS / "fleet-narrow.png"), full_page=True)
