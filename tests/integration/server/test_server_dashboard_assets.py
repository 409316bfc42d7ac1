"""The dashboard's assets under /ui/: public, exact names only, and a policy that keeps the page to its own origin."""

from __future__ import annotations

import httpx
import pytest
from server_harness import RunningApi


def test_the_page_and_its_module_are_served_without_a_token(api: RunningApi) -> None:
    with api.client() as anonymous:
        page = anonymous.get("/ui/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="app.js">' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        module = anonymous.get("/ui/app.js")
        assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript")
        assert anonymous.get("/ui/vendor/uplot/uPlot.iife.min.js").status_code == 200


def test_the_assets_carry_no_data_the_api_still_needs_a_token(api: RunningApi) -> None:
    with api.client() as anonymous:
        assert anonymous.get("/apis/laneway.dev/v1alpha1/modeldeployments").status_code == 401
        redirect = anonymous.get("/ui", follow_redirects=False)
        assert redirect.status_code == 302 and redirect.headers["location"] == "/ui/"


@pytest.mark.parametrize("path", [
    "/ui/../pyproject.toml", "/ui/%2e%2e/app.py", "/ui/..%2fapp.py", "/ui/vendor/uplot/LICENSE",
    "/ui/vendor/uplot/VERSION", "/ui/dashboard.py", "/ui/nothing.js",
])
def test_only_shipped_assets_are_served(api: RunningApi, path: str) -> None:
    with httpx.Client(base_url=api.url, timeout=10.0) as anonymous:
        response = anonymous.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
