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
channel = "C0BUDGET"
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
    assert settings.channel == "C0BUDGET"
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
    monkeypatch.setenv("BUDGET_BOT_CHANNEL", "C0OPS")
    settings = load_settings()
    assert settings.propellerads_api_token.get_secret_value() == "from-env"
    assert settings.timezone == "Asia/Tokyo"
    assert settings.channel == "C0OPS"
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
            "BUDGET_BOT_RULES[0] (rule 'a') target_cpa: Input should be greater than 0",
            id="zero-target",
        ),
        pytest.param(
            '[[rules]]\nname = "a"\ntarget_cpa = 5\n[[rules]]\nname = "b"\n',
            "BUDGET_BOT_RULES[1] (rule 'b') target_cpa is missing in the configuration file",
            id="missing-target",
        ),
        pytest.param(
            '[[rules]]\nname = "a"\ntarget_cpa = 5\ntolerance = 1.5\n',
            "BUDGET_BOT_RULES[0] (rule 'a') tolerance: Input should be less than 1",
            id="tolerance-too-high",
        ),
        pytest.param(
            '[[rules]]\nname = "stop losers"\naction = "pause"\nconditions = [{metric = "spent", op = "=>", value = 300}]\n',
            "BUDGET_BOT_RULES[0] (rule 'stop losers') conditions[0].op: Input should be '<', '<=', '>', '>=' or '=='",
            id="unknown-operator",
        ),
        pytest.param(
            '[[rules]]\nname = "cut"\naction = "decrease"\nconditions = [{metric = "cpa", op = ">", value = 30}]\n',
            "BUDGET_BOT_RULES[0] (rule 'cut'): action decrease needs percent",
            id="decrease-without-percent",
        ),
        pytest.param(
            '[[rules]]\nname = "grow"\naction = "increase"\npercent = 20\nmode = "auto"\n'
            'conditions = [{metric = "cpa", op = "<", value = 30}]\n',
            "BUDGET_BOT_RULES[0] (rule 'grow'): mode auto is only for decrease and pause, not increase",
            id="auto-increase",
        ),
        pytest.param(
            '[[rules]]\nname = "w"\naction = "pause"\nwindow = "fortnight"\nconditions = [{metric = "spent", op = ">", value = 1}]\n',
            "BUDGET_BOT_RULES[0] (rule 'w') window: 'fortnight' is not a window: say today, yesterday, or N days (1 to 90)",
            id="bad-window",
        ),
        pytest.param(
            '[[rules]]\nname = "m"\naction = "pause"\nconditions = [{metric = "roas", op = ">", value = 1}]\n',
            "BUDGET_BOT_RULES[0] (rule 'm') conditions[0].metric: Input should be 'spent', 'conversions', 'cpa', "
            "'impressions', 'clicks', 'ctr', 'cr', 'budget_use' or 'pacing'",
            id="unknown-metric",
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


# --- URLs, unknown keys, Slack IDs, everything missing at once ------------------------------------


def refusal(monkeypatch: pytest.MonkeyPatch, **environment: str) -> str:
    """The one line load_settings refuses this environment (the API token given) with."""
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "t")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return str(caught.value)


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("PROPELLERADS_BASE_URL", "notaurl"),
        ("PROPELLERADS_BASE_URL", "ftp://ssp-api.propellerads.com/v5"),
        ("PROPELLERADS_BASE_URL", "https://"),
        ("PROPELLERADS_BASE_URL", "127.0.0.1:8081/v5"),
        ("SLACK_API_URL", "slack.com/api"),
    ],
)
def test_a_url_that_is_not_an_http_url_is_named(monkeypatch: pytest.MonkeyPatch, variable: str, url: str) -> None:
    # It used to be tried: four attempts over 4 s, then "unreachable".
    assert refusal(monkeypatch, **{variable: url}) == f"{variable}: {url!r} is not an http:// or https:// URL"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        pytest.param('chanel = "C0BUDGET"\n', "chanel (did you mean channel?)", id="top-level"),
        pytest.param("[helth]\nlow_balance_days = 5\n", "[helth] (did you mean [health]?)", id="table"),
        pytest.param(
            "[guardrails]\nmin_daily_budgt = 5\n", "[guardrails] min_daily_budgt (did you mean min_daily_budget?)", id="in-a-table"
        ),
        pytest.param('[[rules]]\nname = "a"\ntarget_cpa = 5\ntarget = 4\n', "[[rules]] target (did you mean target_cpa?)", id="in-a-rule"),
    ],
)
def test_an_unknown_key_in_the_toml_file_is_named_as_written(config, toml: str, named: str) -> None:
    path = config('propellerads_api_token = "t"\n' + toml)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"BUDGET_BOT_CONFIG: {path} has an unknown setting: {named}"


def test_every_unknown_key_is_named_at_once(config) -> None:
    config('propellerads_api_token = "t"\nchanel = "C1"\nzzz = 1\n[guardrails]\nmax = 5\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).endswith("has unknown settings: chanel (did you mean channel?), zzz, [guardrails] max")


def test_settings_keys_may_be_written_as_their_variables_in_the_toml_file(config) -> None:
    config('PROPELLERADS_API_TOKEN = "t"\nslack_api_url = "http://127.0.0.1:1/api/"\n')
    assert load_settings().slack_api_url == "http://127.0.0.1:1/api/"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BUDGET_BOT_CHANNEL", "#budget", "BUDGET_BOT_CHANNEL: '#budget' is not a Slack channel ID (like C0123456789)"),
        ("BUDGET_BOT_ALERT_CHANNEL", "alerts", "BUDGET_BOT_ALERT_CHANNEL: 'alerts' is not a Slack channel ID (like C0123456789)"),
        ("BUDGET_BOT_APPROVERS", "U0AAAAAAA,@alex", "BUDGET_BOT_APPROVERS: '@alex' is not a Slack member ID (like U0123ABCD)"),
    ],
)
def test_slack_names_where_ids_are_needed_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    assert refusal(monkeypatch, **{variable: value}) == message


def test_no_approver_is_a_warning() -> None:
    from bot.settings import Settings

    assert Settings(propellerads_api_token="t").warnings() == [
        "BUDGET_BOT_APPROVERS is empty: nobody can decide on proposals or run /budget check"
    ]
    assert Settings(propellerads_api_token="t", approvers=["U0AAAAAAA"]).warnings() == []


@pytest.mark.parametrize(
    ("mode", "given", "message"),
    [
        pytest.param(
            "http", {}, "PROPELLERADS_API_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, BUDGET_BOT_CHANNEL are not set", id="serve"
        ),
        pytest.param(
            "socket",
            {"PROPELLERADS_API_TOKEN": "t", "SLACK_BOT_TOKEN": "xoxp-a-user-token"},
            "SLACK_APP_TOKEN, BUDGET_BOT_CHANNEL are not set; SLACK_BOT_TOKEN must be a bot token starting with xoxb-",
            id="socket",
        ),
    ],
)
def test_everything_missing_is_named_at_once(
    monkeypatch: pytest.MonkeyPatch, mode: str, given: dict[str, str], message: str
) -> None:
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(slack=mode)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_every_invalid_value_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(monkeypatch, BUDGET_BOT_TIMEZONE="Mars/Olympus", BUDGET_BOT_CHECK_INTERVAL_MINUTES="0") == (
        "BUDGET_BOT_TIMEZONE: unknown time zone 'Mars/Olympus'; "
        "BUDGET_BOT_CHECK_INTERVAL_MINUTES: Input should be greater than or equal to 1"
    )


def test_a_rule_name_past_200_characters_is_refused(config) -> None:
    config('propellerads_api_token = "t"\n[[rules]]\nname = "' + "r" * 201 + '"\ntarget_cpa = 5\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"BUDGET_BOT_RULES[0] (rule '{'r' * 39}…') name: String should have at most 200 characters"


def test_the_currency_is_a_three_letter_code(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(monkeypatch, BUDGET_BOT_CURRENCY="$") == "BUDGET_BOT_CURRENCY: '$' is not a currency code like USD or EUR"
    monkeypatch.setenv("BUDGET_BOT_CURRENCY", "eur")
    assert load_settings().currency == "EUR"
