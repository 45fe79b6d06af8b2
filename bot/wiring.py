"""Builds the long-lived pieces from settings: the PropellerAds client and its options, the service's configuration."""

from __future__ import annotations

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
    )


def make_client(settings: Settings) -> PropellerAdsClient:
    options = ClientOptions(
        timeout=settings.api_timeout_seconds,
        max_rate_limit_wait=settings.rate_limit_max_wait_seconds,
    )
    return PropellerAdsClient(
        settings.propellerads_api_token.get_secret_value(),
        settings.propellerads_base_url,
        options=options,
    )
