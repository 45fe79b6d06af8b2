"""Settings from the environment and the TOML file at BUDGET_BOT_CONFIG, and their one-line errors."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from core.policy import Rule

OWN_PREFIXES = ("BUDGET_BOT_", "PROPELLERADS_", "SLACK_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starts every test from an environment without the bot's variables; monkeypatch restores it."""
    for name in list(os.environ):
        if name.upper().startswith(OWN_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def write(text: str) -> Path:
        path = tmp_path / "budget-bot.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("BUDGET_BOT_CONFIG", str(path))
        return path

    return write


FULL_CONFIG = """
propellerads_api_token = "from-toml"
timezone = "Europe/Berlin"
channel = "#budget"
approvers = ["U1", "U2"]

[guardrails]
max_daily_budget = 5000
max_daily_increase = 250.5

[health]
low_balance_days = 5

[[rules]]
name = "vip"
campaign_ids = [9760576, 9790471]
window_days = 14
target_cpa = 12.5
min_conversions = 5
tolerance = 0.1
step_percent = 25

[[rules]]
name = "everything else"
target_cpa = 4
"""


def test_missing_token_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "PROPELLERADS_API_TOKEN is not set"


def test_blank_token_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "   ")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "PROPELLERADS_API_TOKEN is not set"


def test_token_from_the_environment_alone_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "env-token")
    settings = load_settings()
    assert settings.propellerads_api_token.get_secret_value() == "env-token"
    assert settings.timezone == "UTC"
    assert settings.rules == []
    assert "env-token" not in repr(settings)


def test_toml_with_rules_loads(config) -> None:
    config(FULL_CONFIG)
    settings = load_settings()
    assert settings.propellerads_api_token.get_secret_value() == "from-toml"
    assert settings.timezone == "Europe/Berlin"
    assert settings.channel == "#budget"
    assert settings.approvers == ["U1", "U2"]
    assert settings.guardrails.max_daily_budget == Decimal("5000")
    assert settings.guardrails.max_daily_increase == Decimal("250.5")
    assert settings.guardrails.min_daily_budget == Decimal("10")  # defaults kept beside what the file sets
    assert settings.health.low_balance_days == Decimal("5")
    assert settings.rules == [
        Rule(
            name="vip",
            campaign_ids=[9760576, 9790471],
            window_days=14,
            target_cpa=Decimal("12.5"),
            min_conversions=5,
            tolerance=Decimal("0.1"),
            step_percent=Decimal("25"),
        ),
        Rule(name="everything else", target_cpa=Decimal("4")),
    ]
    assert settings.rules[0].tolerance == Decimal("0.1")  # exactly, not 0.1000000000000000055...


def test_environment_wins_over_toml(config, monkeypatch: pytest.MonkeyPatch) -> None:
    config(FULL_CONFIG)
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "from-env")
    monkeypatch.setenv("BUDGET_BOT_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("BUDGET_BOT_CHANNEL", "#ops")
    settings = load_settings()
    assert settings.propellerads_api_token.get_secret_value() == "from-env"
    assert settings.timezone == "Asia/Tokyo"
    assert settings.channel == "#ops"
    assert [r.name for r in settings.rules] == ["vip", "everything else"]  # what env does not set stays


def test_approvers_from_the_environment_split_on_commas_and_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("BUDGET_BOT_APPROVERS", "U1, U2  U3")
    assert load_settings().approvers == ["U1", "U2", "U3"]


def test_bad_time_zone_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("BUDGET_BOT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "BUDGET_BOT_TIMEZONE: unknown time zone 'Mars/Olympus'"


def test_bad_time_zone_in_toml_is_named(config) -> None:
    config('propellerads_api_token = "t"\ntimezone = "Europe/Atlantis"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "BUDGET_BOT_TIMEZONE: unknown time zone 'Europe/Atlantis'"


def test_the_ad_day_defaults_to_est(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    assert load_settings().ad_day.api_tz(date(2025, 7, 1)) == "-0500"


@pytest.mark.parametrize(("value", "api_tz"), [("+0000", "+0000"), ("America/New_York", "-0400")])
def test_the_ad_day_takes_an_offset_or_a_zone_name(monkeypatch: pytest.MonkeyPatch, value: str, api_tz: str) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("PROPELLERADS_TIMEZONE", value)
    assert load_settings().ad_day.api_tz(date(2025, 7, 1)) == api_tz


def test_a_bad_ad_day_time_zone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("PROPELLERADS_TIMEZONE", "EST+5")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "PROPELLERADS_TIMEZONE: 'EST+5' is neither a UTC offset like -05:00 nor a time zone name like America/New_York"
    )


def test_signal_thresholds_come_from_the_signals_table(config) -> None:
    config('propellerads_api_token = "t"\n[signals]\nstopped_spending_hours = 3\nspike_factor = 4.5\n')
    signals = load_settings().signals
    assert signals.stopped_spending_hours == Decimal("3") and signals.spike_factor == Decimal("4.5")
    assert signals.capped_early_day_share == Decimal("0.75") and signals.enabled  # defaults kept beside


def test_a_bad_signal_threshold_is_one_line_naming_it(config) -> None:
    config('propellerads_api_token = "t"\n[signals]\nspike_factor = 0.5\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "\n" not in str(caught.value) and "spike_factor" in str(caught.value)


def test_bad_toml_is_one_line_naming_the_config_setting(config) -> None:
    path = config('propellerads_api_token = "t"\ntimezone = \n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"BUDGET_BOT_CONFIG: {path} is not valid TOML: ")
    assert "line 2" in message


def test_toml_that_is_not_utf8_is_a_config_error(config) -> None:
    path = config("")
    path.write_bytes(b'timezone = "\xff"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"BUDGET_BOT_CONFIG: {path} is not valid TOML: ")


def test_missing_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("BUDGET_BOT_CONFIG", str(missing))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"BUDGET_BOT_CONFIG names {missing}, which is not a readable file"


def test_a_directory_as_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("BUDGET_BOT_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"BUDGET_BOT_CONFIG names {tmp_path}, which is not a readable file"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        pytest.param(
            '[[rules]]\nname = "a"\ntarget_cpa = 0\n',
            "BUDGET_BOT_RULES[0].target_cpa: Input should be greater than 0",
            id="zero-target",
        ),
        pytest.param(
            '[[rules]]\nname = "a"\ntarget_cpa = 5\n[[rules]]\nname = "b"\n',
            "BUDGET_BOT_RULES[1].target_cpa is missing in the configuration file",
            id="missing-target",
        ),
        pytest.param(
            '[[rules]]\nname = "a"\ntarget_cpa = 5\ntolerance = 1.5\n',
            "BUDGET_BOT_RULES[0].tolerance: Input should be less than 1",
            id="tolerance-too-high",
        ),
    ],
)
def test_a_bad_rule_is_one_line_naming_it(config, rules: str, message: str) -> None:
    config('propellerads_api_token = "t"\n' + rules)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_no_config_error_repeats_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "tok-SHOULD-NOT-APPEAR")
    monkeypatch.setenv("BUDGET_BOT_CHECK_INTERVAL_MINUTES", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "BUDGET_BOT_CHECK_INTERVAL_MINUTES: Input should be greater than or equal to 1"


def test_a_nested_setting_in_the_environment_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("BUDGET_BOT_GUARDRAILS", "{max_daily_budget: 5")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "BUDGET_BOT_GUARDRAILS is not valid JSON"


def test_a_nested_setting_in_the_environment_as_json_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    monkeypatch.setenv("BUDGET_BOT_GUARDRAILS", '{"max_daily_budget": "5000"}')
    assert load_settings().guardrails.max_daily_budget == Decimal("5000")
