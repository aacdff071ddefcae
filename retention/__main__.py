from __future__ import annotations

from retention.cli import main

raise SystemExit(main())
