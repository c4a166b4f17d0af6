"""Every Prometheus metric the server exposes at /metrics, defined in one place.

Each `Services` owns one `Metrics`, with a registry of its own: tests build many apps in
one process, and a process-global registry would refuse the second app's metrics (and
mix their counts). Labels hold only bounded, non-personal values: schema field names,
decision outcomes, reason codes. Never a user id, device id, token or request text.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
SCRAPE_REFRESH_TIMEOUT_S = 2.0
log = logging.getLogger("powerpermit.metrics")
# No `*_created` series beside every counter and histogram: Prometheus does not need them
# in the text format, and they double what each scrape carries.
disable_created_metrics()  # type: ignore[no-untyped-call]

Refresh = Callable[[], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.graphql_operations = Counter(
            "powerpermit_graphql_operations",
            "GraphQL operations by root field and outcome (ok, error: the result carries "
            "errors, invalid: refused before execution)",
            ["type", "operation", "outcome"],
            registry=r,
        )
        self.decisions = Counter(
            "powerpermit_decisions",
            "Decisions on usage requests by outcome and reason code ('none' when no rule "
            "failed, 'by_manager' when a manager decided)",
            ["outcome", "reason"],
            registry=r,
        )
        self.permit_signing = Histogram(
            "powerpermit_permit_signing_seconds",
            "Time to build and sign one permit",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
            registry=r,
        )
        self.subscriptions_open = Gauge(
            "powerpermit_subscriptions_open",
            "GraphQL subscriptions open on this process",
            registry=r,
        )
        # Read from the outbox at scrape time (routes.py registers the refresh).
        self.outbox_backlog = Gauge(
            "powerpermit_outbox_backlog",
            "Events committed but not yet published to the bus",
            registry=r,
        )
        self.event_lag = Gauge(
            "powerpermit_event_lag_seconds",
            "Age of the oldest committed event not yet published (0 when all are out): how "
            "late the slowest subscriber may hear of a change",
            registry=r,
        )
        self._refreshers: list[Refresh] = []

    def decided(self, outcome: str, reason_codes: list[str] | tuple[str, ...]) -> None:
        """One decision: counted once per failed rule, or once as 'none' when all passed."""
        for code in reason_codes or ("none",):
            self.decisions.labels(outcome=outcome, reason=code).inc()

    def refresh_on_scrape(self, refresh: Refresh) -> None:
        """Run `refresh` (which sets gauges, e.g. the outbox backlog) before each scrape."""
        self._refreshers.append(refresh)

    async def exposition(self) -> bytes:
        """The text format, after refreshing what is read at scrape time. A refresher that
        fails or stalls leaves its gauge at the last value; the scrape still answers."""
        for refresh in self._refreshers:
            try:
                await asyncio.wait_for(refresh(), SCRAPE_REFRESH_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a metric must never take /metrics down
                log.warning("metrics refresh failed", exc_info=True)
        return generate_latest(self.registry)
