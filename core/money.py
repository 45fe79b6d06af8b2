"""Money as Decimal: parsing the API's floats and strings, and rounding budgets to cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")


def to_decimal(value: Any) -> Decimal:
    """Reads money from JSON without passing through binary float arithmetic.

    The API sends floats such as 97.137; `str()` of a float is its shortest round-trip
    text, so Decimal(str(x)) keeps exactly the digits the API wrote.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("money cannot be a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = str(value)
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not an amount of money: {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"not an amount of money: {value!r}")
        return result
    raise ValueError(f"not an amount of money: {value!r}")


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
