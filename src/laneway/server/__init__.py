"""The control-plane HTTP API: Kubernetes-style paths over the store, with the two lanes enforced.

`app.create_app(store=...)` builds the aiohttp application and `app.serve(app, host, port)`
runs it; `auth.ensure_admin_token` and `auth.create_token` mint bearer tokens. See
docs/reference/api.md for every path, and docs/concepts/lanes.md for who may write what.
"""
