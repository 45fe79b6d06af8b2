"""Builds the long-lived pieces from settings: the PropellerAds client and its options, the service's configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.settings import Settings
from core.propellerads import ClientOptions, PropellerAdsClient
from core.service import ServiceConfig


def service_config(settings: Settings) -> ServiceConfig:
    return ServiceConfig(
        thresholds=settings.health,
        guardrails=settings.guardrails,
        rules=tuple(settings.rules),
        approvers=frozenset(settings.approvers),
        proposal_ttl=timedelta(hours=settings.proposal_ttl_hours),
        snapshot_ttl=timedelta(seconds=settings.snapshot_ttl_seconds),
        ad_day=settings.ad_day,
        signals=settings.signals,
        automation=settings.automation,
    )


PROBE_TIMEOUT_SECONDS = 5.0


def make_client(
    settings: Settings, *, on_rate_limit_wait: Callable[[str, float], None] | None = None, probe: bool = False
) -> PropellerAdsClient:
    """The client of the settings' account; a `probe` (for /healthz) tries once, briefly, and never waits."""
    options = ClientOptions(
        timeout=min(settings.api_timeout_seconds, PROBE_TIMEOUT_SECONDS) if probe else settings.api_timeout_seconds,
        attempts=1 if probe else ClientOptions.attempts,
        max_rate_limit_wait=0 if probe else settings.rate_limit_max_wait_seconds,
    )
    return PropellerAdsClient(
        settings.propellerads_api_token.get_secret_value(),
        settings.propellerads_base_url,
        options=options,
        on_rate_limit_wait=on_rate_limit_wait,
    )
