"""A believable account made up from a seed: campaigns in every status, and how each active one spends and converts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox.adplatform.model import (
    COMPLETED,
    PAUSED,
    RATE_MODELS,
    STOPPED,
    WORKING,
    Campaign,
)
from sandbox.adplatform.simulation import SpendProfile

FORMATS = ("[OnClick (Popunder)]", "[Classic Push]", "[In-Page Push]", "[Interstitial]", "[Survey]", "[Telegram Ads]")
GEOS = ("US", "BR", "MX", "DE", "IN", "ID", "ES", "PT", "FR", "TH")
# Traffic peaks in the evening where the audience lives: 20:00 local is this hour of the platform's EST day,
# so campaigns for different countries fill their daily budgets at different hours.
PEAK_HOUR = {"US": 20, "BR": 18, "MX": 21, "DE": 14, "IN": 9, "ID": 8, "ES": 14, "PT": 15, "FR": 14, "TH": 8}
DEVICES = ("Android", "iOS", "Desktop")
ACTIVE_LIMITS = (20, 30, 40, 50, 75, 100, 150, 200)
OTHER_LIMITS = (20, 50, 100, 150, 500, 2000)
JITTER = Decimal("0.1")

# The mix of behaviours handed out in turn to working campaigns, so every seed with a handful of
# them has budget-capped and under-spending ones, good and bad CPA, unlimited ones and a spender
# that never converts: the cases the bot's health analysis has to tell apart.
ARCHETYPES = (
    ("capped", "winner"),
    ("under", "loser"),
    ("capped", "dud"),
    ("capped", "loser"),
    ("under", "winner"),
    ("unlimited", "winner"),
    ("capped", "near"),
    ("under", "near"),
    ("unlimited", "loser"),
    ("capped", "winner"),
)
CPA_RANGES = {"winner": (5.0, 6.5), "near": (8.5, 12.0), "loser": (20.0, 35.0)}


@dataclass
class SeededBook:
    balance: Decimal
    campaigns: list[Campaign]
    profiles: dict[int, SpendProfile]


def _amount(rng: random.Random, low: float, high: float, places: int = 2) -> Decimal:
    scale = 10**places
    return Decimal(rng.randrange(int(low * scale), int(high * scale) + 1)) / scale


def _statuses(count: int, rng: random.Random) -> list[int]:
    """Most campaigns working, the rest paused, stopped or completed, shuffled."""
    working = max(1, round(count * 0.6)) if count else 0
    paused = round(count * 0.14)
    stopped = round(count * 0.14)
    completed = max(0, count - working - paused - stopped)
    statuses = [WORKING] * working + [PAUSED] * paused + [STOPPED] * stopped + [COMPLETED] * completed
    statuses = statuses[:count]
    rng.shuffle(statuses)
    return statuses


def _profile(
    behaviour: str, quality: str, limit: Decimal | None, rate_model: str, geo: str, rng: random.Random
) -> SpendProfile:
    if behaviour == "capped":
        assert limit is not None
        # The platform stops a campaign at its daily budget, give or take the last impressions.
        demand, pace = limit * _amount(rng, 1.2, 2.0), Decimal("0.97")
    elif behaviour == "under":
        assert limit is not None
        demand, pace = limit * _amount(rng, 0.25, 0.6), Decimal("0.9")
    else:
        demand, pace = _amount(rng, 30, 150), Decimal(1)
    cpa = None if quality == "dud" else _amount(rng, *CPA_RANGES[quality])
    clicky = rate_model in ("cpc", "scpc")
    return SpendProfile(
        demand=demand.quantize(Decimal("0.01")),
        pace=pace,
        cpa=cpa,
        cpm=_amount(rng, 0.5, 6.0, 3),
        ctr=_amount(rng, 5, 25) if clicky else Decimal(0),
        jitter=JITTER,
        peak_hour=PEAK_HOUR[geo],
    )


def generate(count: int, seed: int, today: date) -> SeededBook:
    """The same seed and day always give the same account."""
    rng = random.Random(seed)
    # About a day or two of runway: 1,500–5,000 for thirty campaigns, more for bigger accounts.
    balance = (_amount(rng, 1500, 5000) * max(30, count) / 30).quantize(Decimal("0.01"))
    next_id = 9_400_000 + rng.randrange(100_000)
    campaigns: list[Campaign] = []
    profiles: dict[int, SpendProfile] = {}
    active_seen = 0
    for status in _statuses(count, rng):
        campaign_id = next_id
        next_id += rng.randint(1, 40)
        rate_model = rng.choice(RATE_MODELS)
        fmt, geo, device = rng.choice(FORMATS), rng.choice(GEOS), rng.choice(DEVICES)
        if status == WORKING:
            behaviour, quality = ARCHETYPES[active_seen % len(ARCHETYPES)]
            active_seen += 1
            limit = None if behaviour == "unlimited" else Decimal(rng.choice(ACTIVE_LIMITS))
        else:
            # Idle campaigns get a behaviour too, so starting one over the API makes it spend.
            limit = None if rng.random() < 0.1 else Decimal(rng.choice(OTHER_LIMITS))
            behaviour = "unlimited" if limit is None else rng.choice(("capped", "under"))
            quality = rng.choice(("winner", "near", "loser", "dud"))
        campaign = Campaign(
            id=campaign_id,
            name=f"{fmt} [{rate_model.upper()}] {geo} {device} {campaign_id}",
            status=status,
            limit_daily_amount=limit,
            limit_total_amount=limit * 30 if limit is not None and rng.random() < 0.1 else None,
            is_archived=status in (STOPPED, COMPLETED) and rng.random() < 0.5,
            rate_model=rate_model,
            direction_id=rng.choice((1, 61)),
            started_at=today - timedelta(days=rng.randint(14, 200)),
            target_url=(
                f"https://offers.example.com/{geo.lower()}/{device.lower()}.php?zoneid={{zone_id}}"
                "&campaignid={campaign_id}&country={country}&cost={cost}&clickid=${SUBID}"
            ),
            capping=rng.randint(1, 3),
            frequency=rng.randint(1, 3),
            win_rate=f"{rng.uniform(0.01, 0.25):.4f}" if status == WORKING and rng.random() < 0.7 else "-",
        )
        campaigns.append(campaign)
        profiles[campaign_id] = _profile(behaviour, quality, limit, rate_model, geo, rng)
    return SeededBook(balance=balance, campaigns=campaigns, profiles=profiles)
