"""Money as Decimal: parsing the API's floats and strings, and rounding budgets to cents."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "USD"
"""PropellerAds reports money without its currency; the bot shows this one unless told another."""
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


_TYPED = re.compile(r"([+-]?)([0-9]+(?:[.,][0-9]+)*)")
_GROUPED = re.compile(r"[0-9]{1,3}(?:X[0-9]{3})*")  # X: the thousands separator


def parse_amount(text: str) -> Decimal:
    """An amount as a person types it: 180, 180.50, 45,5 (a decimal comma), 1,250.50, 1.250,50 or 1 250.

    ASCII digits only. One separator before exactly three digits (1,250 or 1.250) could mean a thousand
    times more or less, so it is refused with both readings rather than guessed.
    """
    typed = text.strip()
    unclear = ValueError(f"'{typed[:40]}' is not an amount; write it like 180 or 180.50.")
    found = _TYPED.fullmatch(typed.replace(" ", "").replace("\u00a0", ""))
    if not found:
        raise unclear
    sign, number = found.groups()
    separators = [c for c in number if c in ".,"]
    if not separators:
        return cents(Decimal(sign + number))
    decimal_mark = separators[-1]
    whole, _, fraction = number.rpartition(decimal_mark)
    if len(set(separators)) == 1 and len(separators) > 1:
        whole, fraction = number, ""  # "1,250,000": a repeated separator groups thousands
    elif len(set(separators)) == 1 and len(fraction) == 3:
        readings = f"{whole}{fraction} or {cents(Decimal(f'{whole}.{fraction}'))}"
        raise ValueError(f"'{typed}' could be {readings}; write it without a thousands separator, like {readings}.")
    if len(fraction) > 2:
        raise unclear
    grouping = next((c for c in separators if c != decimal_mark), None) or (decimal_mark if not fraction else None)
    if grouping is not None and not _GROUPED.fullmatch(whole.replace(grouping, "X")):
        raise unclear
    digits = whole.replace(",", "").replace(".", "")
    return cents(Decimal(f"{sign}{digits}.{fraction or '0'}"))


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


def fmt_amount(value: Decimal | None, currency: str) -> str:
    """An amount with its currency for people to read: 1,517.70 USD ("no limit" for none)."""
    return fmt_money(value) if value is None else f"{fmt_money(value)} {currency}"


def fmt_percent(share: Decimal) -> str:
    """A share as a whole percentage: Decimal("0.125") → "12%" (half to even, as Decimal rounds)."""
    return f"{(share * 100).quantize(Decimal('1'))}%"


Money = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
"""A Decimal field that accepts the API's floats and strings and serialises as a string."""
