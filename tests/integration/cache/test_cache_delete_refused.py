"""The API server refuses to delete a ModelCache a deployment still uses, naming the deployment."""

from __future__ import annotations

import asyncio

import aiohttp

from laneway.server.app import bound_address, create_app, serve
from laneway.server.auth import create_token
from laneway.store.memory import MemoryStore
from laneway.testing.fleet import add_cache, add_deployment

PATH = "/apis/laneway.dev/v1alpha1/namespaces/ml/modelcaches/tiny"


def test_delete_of_a_cache_in_use_is_refused_with_the_user_named() -> None:
    async def main() -> None:
        store = MemoryStore()
        add_cache(store, "tiny", {"source": "Local", "local": {"path": "/srv/models/tiny"}})
        add_deployment(store, "chat", cache="tiny")
        token = create_token(store, role="admin")
        runner = await serve(create_app(store=store), "127.0.0.1", 0)
        base = bound_address(runner)
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
                async with session.delete(base + PATH) as r:
                    body = await r.json()
                    assert r.status == 409
                    assert "in use by ModelDeployment chat" in body["message"] and "modelCacheRef" in body["message"]
                store.delete("ModelDeployment", store.list("ModelDeployment").items[0].key)
                async with session.delete(base + PATH) as r:
                    assert r.status == 200
        finally:
            await runner.cleanup()

    asyncio.run(main())
