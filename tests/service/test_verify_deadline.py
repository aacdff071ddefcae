"""A firing's verification never waits into the policy's next firing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import structlog

from retention.applying.executor import ApplySettings
from retention.pinecone import PineconeClient
from retention.service.metrics import Metrics
from retention.service.reconciler import Reconciler

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def reconciler(verify_timeout: float = 60.0) -> Reconciler:
    return Reconciler(
        cast(PineconeClient, None),
        Metrics(),
        structlog.get_logger(),
        settings=ApplySettings(verify_timeout=verify_timeout),
        clock=lambda: NOW,
    )


def test_verification_waits_at_most_half_the_time_to_the_next_firing() -> None:
    """A 10 s schedule: at most 5 s of waiting for deletes to show, not the 60 s default."""
    settings = reconciler()._settings(NOW + timedelta(seconds=10))
    assert settings.verify_timeout == 5.0


def test_a_distant_next_firing_keeps_the_configured_timeout() -> None:
    assert reconciler(60.0)._settings(NOW + timedelta(hours=1)).verify_timeout == 60.0
    assert reconciler(60.0)._settings(None).verify_timeout == 60.0


def test_a_next_firing_already_due_means_no_waiting() -> None:
    assert reconciler()._settings(NOW - timedelta(seconds=1)).verify_timeout == 0.0
