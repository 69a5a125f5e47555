"""The bench's load-generating processes (server/bench/worker.py), started and spoken to
over their stdin and stdout: JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Worker:
    """A load-generating process; its final result comes through a file (it can be
    megabytes, and nothing else writing to stdout can split it there)."""

    process: asyncio.subprocess.Process
    result_path: Path

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def line(self, timeout_s: float = 600) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not raw:
            raise RuntimeError("a bench worker died (see its output above)")
        message: dict[str, Any] = json.loads(raw)
        return message

    async def result(self, timeout_s: float = 600) -> dict[str, Any]:
        done = await self.line(timeout_s)
        assert done == {"done": True}, done
        value = await asyncio.to_thread(_read_and_remove, self.result_path)
        await self.process.wait()
        return value

    async def finish(self) -> dict[str, Any]:
        """Close its stdin (the signal to stop), then its result."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await self.result()


def _read_and_remove(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text())
    path.unlink()
    return value


async def worker(role: str, spec: dict[str, Any]) -> Worker:
    handle, name = tempfile.mkstemp(prefix=f"bench-{role}-", suffix=".json")
    os.close(handle)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.bench.worker", role,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**20,
    )  # fmt: skip
    started = Worker(process, Path(name))
    await started.send({**spec, "result_path": name})
    return started
