"""Money read from the API: exact decimals, and figures out of range or in odd spellings refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [(97.137, "97.137"), ("180.50", "180.50"), (" 12 ", "12"), (0, "0"), ("-3.5", "-3.5"), ("1e3", "1000")],
)
def test_plain_amounts_are_read_exactly(value: object, expected: str) -> None:
    assert to_decimal(value) == Decimal(expected)


@pytest.mark.parametrize(
    "value",
    ["1_000", "١٢", "12.5.1", "NaN", "Infinity", "", "0x10", float("inf"), True, None],
)
def test_odd_spellings_are_not_amounts(value: object) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal(value)


@pytest.mark.parametrize("value", [1e27, "1e27", 10**15, Decimal("-1e13")])
def test_amounts_past_a_trillion_are_out_of_range(value: object) -> None:
    # Past 10^26 the cents arithmetic itself fails (InvalidOperation); no ad account comes near 10^12.
    with pytest.raises(ValueError, match="out of range"):
        to_decimal(value)
