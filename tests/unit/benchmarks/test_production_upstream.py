"""The gateway benchmark's upstream (benchmarks/production.py `_Upstream`): the raw asyncio
protocol must answer every request exactly once, on the same kept-alive connection, whatever
way its bytes arrive, or the benchmark would measure hangs or errors instead of the gateway."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from production import _Upstream


async def _answers(chunks: list[bytes], expected: int) -> list[dict[str, object]]:
    """Send `chunks` (one write each, a short pause between) and read `expected` answers."""
    server = await asyncio.get_running_loop().create_server(_Upstream, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)
        docs = []
        for _ in range(expected):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            docs.append(json.loads(await asyncio.wait_for(reader.readexactly(length), 10)))
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b"", "an answer was sent that no request asked for"
        writer.close()
        return docs
    finally:
        server.close()
        await server.wait_closed()


def _request(body: bytes, *, chunked: bool = False) -> bytes:
    if chunked:
        return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    return b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


BODY = b'{"model": "bench", "messages": [{"role": "user", "content": "hi"}]}'


def test_a_body_split_over_writes_is_answered_once_it_is_whole() -> None:
    raw = _request(BODY)
    docs = asyncio.run(_answers([raw[:20], raw[20:-5], raw[-5:]], 1))
    assert docs[0]["object"] == "chat.completion"
    assert docs[0]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def test_pipelined_and_chunked_requests_each_get_one_answer() -> None:
    docs = asyncio.run(_answers([_request(BODY) + _request(BODY, chunked=True) + _request(b"")], 3))
    assert [d["object"] for d in docs] == ["chat.completion"] * 3


def test_aiohttp_reuses_one_connection_for_many_requests() -> None:
    opened: list[_Upstream] = []

    def factory() -> _Upstream:
        opened.append(_Upstream())
        return opened[-1]

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
                for _ in range(5):
                    async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=BODY) as resp:
                        assert resp.status == 200
                        assert (await resp.json())["choices"][0]["message"]["content"] == "hello there"
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(run())
    assert len(opened) == 1, "the upstream closed a kept-alive connection"
