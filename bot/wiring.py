"""Builds the long-lived pieces from settings: the PropellerAds client and its options."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from core.propellerads import ClientOptions, PropellerAdsClient


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
