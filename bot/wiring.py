"""Builds the long-lived pieces from settings: the PropellerAds client and its options."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings
from core.propellerads import ClientOptions, PropellerAdsClient


def make_client(
    settings: Settings, *, on_rate_limit_wait: Callable[[str, float], None] | None = None
) -> PropellerAdsClient:
    options = ClientOptions(
        timeout=settings.api_timeout_seconds,
        max_rate_limit_wait=settings.rate_limit_max_wait_seconds,
    )
    return PropellerAdsClient(
        settings.propellerads_api_token.get_secret_value(),
        settings.propellerads_base_url,
        options=options,
        on_rate_limit_wait=on_rate_limit_wait,
    )
