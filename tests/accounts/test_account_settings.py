"""`[[accounts]]` in the TOML file: one full Settings per ad account, and one-line errors naming the account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.settings import ConfigError, load_settings
from tests.core.test_settings import clean_env, config  # noqa: F401  (fixtures)

TWO_ACCOUNTS = """
channel = "C0TOP"
approvers = ["U0LEAD"]

[health]
low_balance_days = 5

[guardrails]
max_daily_budget = 5000

[[rules]]
name = "top"
target_cpa = 10

[[accounts]]
name = "acme"
api_token_env = "ACME_PA_TOKEN"
channel = "C0ACME"
alert_channel = "C0ACMEALERT"
approvers = ["U0ACME"]
timezone = "+02:00"

[accounts.health]
low_balance_days = 2

[accounts.guardrails]
max_daily_increase = 40

[[accounts.rules]]
name = "acme-cpa"
target_cpa = 4.5

[[accounts]]
name = "beta"
api_token_env = "BETA_PA_TOKEN"
base_url = "http://127.0.0.1:9/v5"
"""


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_PA_TOKEN", "pa-acme-secret")
    monkeypatch.setenv("BETA_PA_TOKEN", "pa-beta-secret")


def test_each_account_is_the_top_level_settings_with_its_own_keys_over_them(config, tokens) -> None:
    config(TWO_ACCOUNTS)
    acme, beta = load_settings().account_settings()

    assert (acme.account, beta.account) == ("acme", "beta")
    assert acme.propellerads_api_token.get_secret_value() == "pa-acme-secret"
    assert beta.propellerads_api_token.get_secret_value() == "pa-beta-secret"
    assert (acme.channel, acme.alerts_to, acme.proposals_to) == ("C0ACME", "C0ACMEALERT", "C0ACME")
    assert (beta.channel, beta.alerts_to) == ("C0TOP", "C0TOP")
    assert (acme.approvers, beta.approvers) == (["U0ACME"], ["U0LEAD"])
    assert acme.propellerads_timezone == "+02:00" and beta.propellerads_timezone == "-05:00"
    assert beta.propellerads_base_url == "http://127.0.0.1:9/v5"
    assert (acme.health.low_balance_days, beta.health.low_balance_days) == (2, 5)
    # A key of the account's own table over the top-level table, the rest kept from it.
    assert acme.guardrails.max_daily_increase == Decimal("40")
    assert acme.guardrails.max_daily_budget == beta.guardrails.max_daily_budget == Decimal("5000")
    assert [r.name for r in acme.rules] == ["acme-cpa"] and [r.name for r in beta.rules] == ["top"]
    assert acme.accounts == [] and beta.accounts == []


def test_without_accounts_the_environment_is_one_account_named_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROPELLERADS_API_TOKEN", "pa-env-token")
    settings = load_settings()
    (only,) = settings.account_settings()
    assert only is settings and only.account == "default"


def test_every_account_token_counts_as_a_secret(config, tokens) -> None:
    config(TWO_ACCOUNTS)
    assert {"pa-acme-secret", "pa-beta-secret"} <= set(load_settings().secrets())


def test_accounts_need_no_top_level_token(config, tokens) -> None:
    config(TWO_ACCOUNTS)
    assert load_settings().propellerads_api_token.get_secret_value() == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace('api_token_env = "BETA_PA_TOKEN"', 'api_token = "pa-in-the-file"'),
            "BUDGET_BOT_CONFIG: account 'beta' has its token in the file; put it in an environment variable "
            "and name that variable in api_token_env",
        ),
        (lambda t: t.replace('name = "beta"', 'name = "beta"\nchanel = "C0X"'), "account 'beta' chanel (did you mean channel?)"),
        (lambda t: t.replace("low_balance_days = 2", "low_balanse_days = 2"), "account 'acme' [health] low_balanse_days"),
        (lambda t: t.replace('name = "beta"', 'name = "acme"'), "[[accounts]]: the account name 'acme' is used twice"),
        (
            lambda t: t.replace('channel = "C0ACME"', 'channel = "#acme"'),
            "account 'acme' channel: '#acme' is not a Slack channel ID (like C0123456789)",
        ),
        (lambda t: t.replace('BETA_PA_TOKEN', 'GAMMA_PA_TOKEN'), "account 'beta': api_token_env names GAMMA_PA_TOKEN, which is not set"),
        (lambda t: t.replace('name = "beta"\n', ''), "[[accounts]] number 2: name is missing"),
        (
            lambda t: t.replace("max_daily_increase = 40", 'max_change_percent = "lots"'),
            "account 'acme' [guardrails] max_change_percent: Input should be a valid decimal",
        ),
        (
            lambda t: t.replace("target_cpa = 4.5", "window_days = 7"),
            "account 'acme' [[accounts.rules]][0] (rule 'acme-cpa') target_cpa is missing in the configuration file",
        ),
        (
            lambda t: t.replace("max_daily_increase = 40", "max_daily_budget = 5\nmin_daily_budget = 50"),
            "account 'acme' [guardrails]: min_daily_budget is above max_daily_budget",
        ),
        (  # the account's own minimum against the top-level maximum
            lambda t: t.replace("max_daily_increase = 40", "min_daily_budget = 6000"),
            "account 'acme' [guardrails]: min_daily_budget is above max_daily_budget",
        ),
    ],
)
def test_a_wrong_account_is_one_line_naming_it(config, tokens, change, message) -> None:
    config(change(TWO_ACCOUNTS))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    text = str(raised.value)
    assert "\n" not in text and message in text
    assert "pa-acme-secret" not in text and "pa-beta-secret" not in text


def test_an_account_without_approvers_is_warned_of_by_name(config, tokens) -> None:
    config(TWO_ACCOUNTS.replace('approvers = ["U0LEAD"]\n', ""))
    assert load_settings().warnings() == [
        "account 'beta' has no approvers: nobody can decide on its proposals or run its checks"
    ]
