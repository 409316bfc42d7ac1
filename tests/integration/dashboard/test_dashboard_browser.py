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
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))

from local_fleet import Fleet, Up, sim_deployment, wide_cluster

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
