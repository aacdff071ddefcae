"""A Pinecone-compatible server for tests, benchmarks and the demo.

Pinecone Local cannot serve this tool (API 2025-01 only, no namespace API, no
fetch_by_metadata, no dry runs, no rate limits), so `retention` ships its own emulator, built
from the official OpenAPI files and the behaviours recorded in shared/pinecone/FACTS.md, and
checked with the official SDK. In process:

    with Emulator.start(EmulatorConfig(indexes=(("idx", 8),), limits="off")) as emu:
        pc = Pinecone(api_key="k", host=emu.controller_url)
        index = pc.index(host=emu.index_host("idx"))
"""

from __future__ import annotations

from retention.emulator.clock import ManualClock
from retention.emulator.config import EmulatorConfig
from retention.emulator.records import StoredRecord
from retention.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "ManualClock", "StoredRecord"]
