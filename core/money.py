"""Money as Decimal: parsing the API's floats and strings, and rounding budgets to cents."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal(10) ** 12
"""No figure of an ad account comes near a trillion; past 10^26 the arithmetic in cents itself fails."""
# What Decimal() would also take but no API means as money: "1_000", "NaN", digits of other scripts.
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def to_decimal(value: Any) -> Decimal:
    """Reads money from JSON without passing through binary float arithmetic.

    The API sends floats such as 97.137; `str()` of a float is its shortest round-trip
    text, so Decimal(str(x)) keeps exactly the digits the API wrote.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise ValueError(f"not an amount of money: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    else:
        text = str(value).strip()
        if not _PLAIN_NUMBER.fullmatch(text):
            raise ValueError(f"not an amount of money: {value!r}")
        result = Decimal(text)
    if not result.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    if abs(result) >= MAX_AMOUNT:
        raise ValueError(f"{value!r} is out of range")
    return result


def cents(value: Decimal) -> Decimal:
    """Rounds to cents, half up, the way a person rounds a budget."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_money(value: Decimal | None) -> str:
    """Renders an amount to the cent with thousands separators: 1,517.70."""
    if value is None:
        return "no limit"
    return f"{cents(value):,.2f}"


def cpa(spent: Decimal, conversions: int) -> Decimal | None:
    """Cost per acquisition, exact (round it only to show it); None without a conversion."""
    return spent / conversions if conversions > 0 else None


def fmt_days(days: Decimal | None, *, none: str = "no spend") -> str:
    """A count of days as the bot writes it everywhere: "12.5 days", or what None means here."""
    return none if days is None else f"{days} days"


def fmt_percent(share: Decimal) -> str:
    """A share as a whole percentage: Decimal("0.125") → "12%" (half to even, as Decimal rounds)."""
    return f"{(share * 100).quantize(Decimal('1'))}%"


Money = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
"""A Decimal field that accepts the API's floats and strings and serialises as a string."""
