"""The doors a gateway on another host uses to reach this machine's engines.

Engines listen on loopback only (the Local driver's rule: a confined engine is never exposed
by itself). The agent opens one TCP listener per serving engine on the machine's `--listen`
address and copies bytes both ways to the engine's loopback port; the port it reports is the
listener's. Nothing is parsed or rewritten, so streaming and every path the engine serves
pass as they are. A listener is closed when its engine's replica stops here.
"""

from __future__ import annotations

import asyncio
import contextlib

COPY_CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(COPY_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()


class PortForwards:
    """One listener on `host` per engine port; `ensure` opens (or finds) it, `keep` closes the rest."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._servers: dict[int, asyncio.Server] = {}
        self._connections: set[asyncio.Task[None]] = set()

    async def ensure(self, engine_port: int) -> int:
        """The public port that reaches the engine on 127.0.0.1:`engine_port`."""
        server = self._servers.get(engine_port)
        if server is None:
            server = await asyncio.start_server(lambda r, w: self._connect(engine_port, r, w), self.host, 0)
            self._servers[engine_port] = server
        return int(server.sockets[0].getsockname()[1])

    def _connect(self, engine_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._relay(engine_port, reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _relay(self, engine_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", engine_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def keep(self, engine_ports: set[int]) -> None:
        """Close the listeners of engines no longer running here."""
        for port in [p for p in self._servers if p not in engine_ports]:
            server = self._servers.pop(port)
            server.close()
            await server.wait_closed()

    async def close(self) -> None:
        await self.keep(set())
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
