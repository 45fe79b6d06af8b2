"""A local stand-in for the PropellerAds SSP API v5 that answers like the recorded live API."""

from sandbox.adplatform.account import Account
from sandbox.adplatform.app import DEFAULT_TOKEN, create_app, seeded_accounts, serve, start_sandbox
from sandbox.adplatform.clock import ManualClock, SpeedClock, utc_now
from sandbox.adplatform.faults import ENDPOINTS, Faults, ForcedAnswer
from sandbox.adplatform.model import COMPLETED, PAUSED, REJECTED, STOPPED, WORKING, Campaign, DayStats
from sandbox.adplatform.ratelimit import DEFAULT_RATE_LIMITS, RateLimit
from sandbox.adplatform.requestlog import LoggedRequest, RequestLog
from sandbox.adplatform.simulation import SpendProfile
from sandbox.adplatform.state import PLATFORM_KEY, SANDBOX_KEY, Platform, Sandbox, SandboxConfig

__all__ = [
    "COMPLETED",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_TOKEN",
    "ENDPOINTS",
    "PAUSED",
    "PLATFORM_KEY",
    "REJECTED",
    "SANDBOX_KEY",
    "STOPPED",
    "WORKING",
    "Account",
    "Campaign",
    "DayStats",
    "Faults",
    "ForcedAnswer",
    "LoggedRequest",
    "ManualClock",
    "Platform",
    "RateLimit",
    "RequestLog",
    "Sandbox",
    "SandboxConfig",
    "SpeedClock",
    "SpendProfile",
    "create_app",
    "seeded_accounts",
    "serve",
    "start_sandbox",
    "utc_now",
]
