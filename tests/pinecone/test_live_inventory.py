"""The live inventory's ID-file reading: streamed in batches, with a progress line on a terminal."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx

from retention.pinecone import PineconeClient, PineconeSettings
from retention.pinecone.inventory import LiveInventory

OFFLINE = PineconeClient(httpx.AsyncClient(), PineconeSettings(api_key="test-key"))
"""A client that is never asked anything: ID files are read from disk."""


def _read(inventory: LiveInventory, path: Path) -> list[int]:
    async def sizes() -> list[int]:
        return [len(batch) async for batch in inventory.read_ids_file(str(path))]

    return asyncio.run(sizes())


def test_id_files_stream_with_a_progress_line(tmp_path: Path) -> None:
    """2,500 IDs come in batches of 1,000, and the terminal line ends on the total."""
    path = tmp_path / "erase.txt"
    path.write_text("".join(f"id-{i}\n" for i in range(2500)))
    screen = io.StringIO()
    inventory = LiveInventory(OFFLINE, progress=screen)
    assert _read(inventory, path) == [1000, 1000, 500]
    inventory.finish()
    assert screen.getvalue().startswith("\rchecking ID files: 1,000 IDs read")
    assert screen.getvalue().endswith("\rchecking ID files: 2,500 IDs read\n")


def test_no_terminal_no_progress(tmp_path: Path) -> None:
    """Without a terminal nothing is drawn (CI logs stay clean)."""
    path = tmp_path / "erase.txt"
    path.write_text("a\nb\n")
    inventory = LiveInventory(OFFLINE)
    assert _read(inventory, path) == [2]
    inventory.finish()
