"""Money read from the API: exact decimals, and figures out of range or in odd spellings refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import parse_amount, to_decimal


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


# --- what a person types into Edit amount ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("180", "180.00"),
        (" 180.5 ", "180.50"),
        ("45,5", "45.50"),  # a decimal comma, read as one (it was 455.00)
        ("12,50", "12.50"),  # it was 1,250.00
        ("1,250.50", "1250.50"),
        ("1.250,50", "1250.50"),
        ("1,250,000", "1250000.00"),
        ("1 250", "1250.00"),
        ("-5", "-5.00"),
    ],
)
def test_a_typed_amount_is_read_as_a_person_means_it(typed: str, expected: str) -> None:
    assert parse_amount(typed) == Decimal(expected)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("lots", "'lots' is not an amount; write it like 180 or 180.50."),
        ("١٢٠", "'١٢٠' is not an amount; write it like 180 or 180.50."),  # Arabic-Indic digits
        ("１２０", "'１２０' is not an amount; write it like 180 or 180.50."),  # full-width digits
        ("1,250", "'1,250' could be 1250 or 1.25; write it without a thousands separator, like 1250 or 1.25."),
        ("1.250", "'1.250' could be 1250 or 1.25; write it without a thousands separator, like 1250 or 1.25."),
        ("12.345", "'12.345' could be 12345 or 12.35; write it without a thousands separator, like 12345 or 12.35."),
        ("1,2,3", "'1,2,3' is not an amount; write it like 180 or 180.50."),
        ("1e3", "'1e3' is not an amount; write it like 180 or 180.50."),
        ("", "'' is not an amount; write it like 180 or 180.50."),
    ],
)
def test_a_typed_amount_that_is_not_clear_is_refused_with_the_reason(typed: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_amount(typed)
    assert str(caught.value) == why
