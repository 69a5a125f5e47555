"""Every accepted connection has Nagle's algorithm off (TCP_NODELAY), however the server
listens: the loop sets it itself only on some paths (not on a socket passed in with
`tracker serve --fd`, which uvicorn wraps as a Unix socket), and with Nagle on a small write
behind an unacknowledged one waits for the client's delayed ACK, ~40 ms.

The shipped serving config runs on a real loop in a thread of its own (uvloop, as `tracker
serve` runs it, and asyncio's, as the test harness does), and the server-side socket of an
accepted connection is read back from the protocol uvicorn made for it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
import uvloop

from server.base.settings import Settings
from server.serve import uvicorn_config

DEADLINE_S = 30.0
LOOPS = {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@contextlib.contextmanager
def serving(
    settings: Settings, listen: str, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> Iterator[tuple[uvicorn.Server, int, asyncio.AbstractEventLoop]]:
    """The app served on `listen`: "fd" (as `tracker serve --fd`), "sockets" (as the test
    harness) or "host_port" (as `tracker serve --host --port`, port 0 here)."""
    sock = listening_socket()
    config = uvicorn_config(
        dataclasses.replace(settings, host="127.0.0.1", port=0),
        fd=sock.fileno() if listen == "fd" else None,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    loops: concurrent.futures.Future[asyncio.AbstractEventLoop] = concurrent.futures.Future()

    async def serve() -> None:
        loops.set_result(asyncio.get_running_loop())
        await server.serve(sockets=[sock] if listen == "sockets" else None)

    def run() -> None:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(serve())

    thread = threading.Thread(target=run, name=f"server-{listen}")
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not server.started:  # no event to wait on: uvicorn sets a flag
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        port = sock.getsockname()[1]
        if listen == "host_port":
            port = server.servers[0].sockets[0].getsockname()[1]
        yield server, port, loops.result()
    finally:
        server.should_exit = True
        thread.join(DEADLINE_S)
        sock.close()


def nodelay_of_accepted(server: uvicorn.Server, loop: asyncio.AbstractEventLoop) -> list[int]:
    """TCP_NODELAY of each open connection's server-side socket, read on the server's loop."""

    async def read() -> list[int]:
        return [
            protocol.transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY
            )
            for protocol in server.server_state.connections
        ]

    return asyncio.run_coroutine_threadsafe(read(), loop).result(DEADLINE_S)


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("listen", ["fd", "sockets", "host_port"])
def test_accepted_connections_have_nagle_off(
    settings: Settings, listen: str, loop_name: str
) -> None:
    with (
        serving(settings, listen, LOOPS[loop_name]) as (server, port, loop),
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as client,
    ):
        # An answer means the connection was accepted and its protocol made; kept alive,
        # the connection stays among the server's open ones.
        client.sendall(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
        assert client.recv(65536).startswith(b"HTTP/1.1 200")
        assert nodelay_of_accepted(server, loop) == [1]
