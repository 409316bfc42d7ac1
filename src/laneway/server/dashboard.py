"""The dashboard's static assets under `/ui/`: a page and a small ES module, no state of its own.

The dashboard is a client of the API like the CLI: the browser signs in with a laneway token
(kept in `sessionStorage`, sent as a bearer header, never put in a URL) and reads the same
paths and watch streams, so a team token sees its namespaces and nothing else, by the API's
own rules. The assets themselves carry no data and need no token.

Only the files shipped in `static/` are served, by exact name from a table built once, so no
request path reaches the file system. Every answer carries a Content-Security-Policy that
allows scripts, styles and connections from this origin only: an object name or message a
team wrote is shown as text by the page, and the policy is the second wall should one ever
reach the DOM as markup. The dashboard is never in front of the gateway: it reads the
traffic figures the gateway already writes into ModelService status.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web
from aiohttp.typedefs import Handler

UI_PREFIX = "/ui/"
"""Where the dashboard lives on the API's port."""

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
"""The file types the dashboard ships; anything else in `static/` (licences, notes) is not served."""

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def _walk(folder: Traversable, prefix: str) -> dict[str, Asset]:
    assets: dict[str, Asset] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            assets.update(_walk(entry, f"{name}/"))
            continue
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is not None:
            assets[name] = Asset(entry.read_bytes(), content_type)
    return assets


def load_assets() -> dict[str, Asset]:
    """Every servable file under `laneway/server/static`, by its path relative to that folder."""
    return _walk(resources.files("laneway.server") / "static", "")


def _asset_handler(assets: dict[str, Asset]) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("path", "") or "index.html"
        asset = assets.get(name)
        if asset is None:
            raise web.HTTPNotFound(text=f"the dashboard has no file {name!r}; open {UI_PREFIX}")
        return web.Response(body=asset.body, content_type=asset.content_type.split(";")[0],
                            charset="utf-8" if "charset" in asset.content_type else None, headers=SECURITY_HEADERS)

    return handle


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(UI_PREFIX)


def add_dashboard_routes(app: web.Application) -> None:
    """Serve the dashboard under `/ui/` (and send `/ui` and `/` there)."""
    handler = _asset_handler(load_assets())
    app.router.add_get("/", _to_index)
    app.router.add_get("/ui", _to_index)
    app.router.add_get(UI_PREFIX, handler)
    app.router.add_get(UI_PREFIX + "{path:.+}", handler)


def dashboard_url(api: str) -> str:
    """The dashboard's address on an API server at `api` (`http://host:port`)."""
    return api.rstrip("/") + UI_PREFIX
