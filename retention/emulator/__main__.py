"""`python -m retention.emulator`, the same as `retention emulator`."""

from __future__ import annotations

from retention.emulator.command import main

raise SystemExit(main())
