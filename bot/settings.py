"""Settings from the environment and an optional TOML file, with one-line errors for what is wrong."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import datetime, time
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, Discriminator, Field, SecretStr, Tag, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from core.adday import DEFAULT_AD_TIMEZONE, AdDay
from core.automation import AutomationLimits
from core.signals import SignalThresholds
from core.health import HealthThresholds
from core.money import DEFAULT_CURRENCY
from core.policy import Guardrails, Rule
from core.rules import ConditionRule
from core.propellerads import LIVE_BASE_URL

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///budget-bot.db"
SLACK_API_URL = "https://slack.com/api/"
# Slack's IDs: a name (#budget, @alex) cannot be used where the Web API wants an ID (chat.update does).
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
MEMBER_ID = re.compile(r"[UW][A-Z0-9]+")
SlackMode = Literal["http", "socket"]


def rule_kind(value: Any) -> str:
    """Which kind of rule a `[[rules]]` table is: a CPA target (`target_cpa`) or conditions with an action."""
    if isinstance(value, BaseModel):
        return "target_cpa" if isinstance(value, Rule) else "conditions"
    if isinstance(value, dict) and ("conditions" in value or "action" in value) and "target_cpa" not in value:
        return "conditions"
    return "target_cpa"  # the older kind: without either, what is missing is its target_cpa


RULE_MODELS: dict[str, type[BaseModel]] = {"target_cpa": Rule, "conditions": ConditionRule}
AnyRule = Annotated[
    Annotated[Rule, Tag("target_cpa")] | Annotated[ConditionRule, Tag("conditions")], Discriminator(rule_kind)
]


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names it."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def quiet_span(text: str) -> tuple[time, time]:
    """`22:00-07:00` as two times of day."""
    try:
        first, last = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a span of hours like 22:00-07:00") from None
    if first == last:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return first, last


ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
DEFAULT_ACCOUNT_NAME = "default"
TOKEN_KEYS = ("api_token", "token", "propellerads_api_token")
"""Keys that would put a token in the file, which an `[[accounts]]` table must name by variable instead."""


class AccountConfig(BaseModel):
    """One `[[accounts]]` table: an ad account, its token by the environment variable holding it, its channels
    and whatever it sets apart from the top-level settings."""

    model_config = {"extra": "forbid"}

    name: str
    api_token_env: str
    base_url: str | None = None
    timezone: str | None = None
    """Where this ad account's day begins and ends (as `propellerads_timezone` at the top level)."""
    channel: str | None = None
    alert_channel: str | None = None
    approval_channel: str | None = None
    approvers: list[str] | None = None
    health: HealthThresholds | None = None
    guardrails: Guardrails | None = None
    signals: SignalThresholds | None = None
    rules: list[AnyRule] | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not ACCOUNT_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not an account name (letters, digits, - _ . and at most 63 of them)")
        return value

    @field_validator("api_token_env")
    @classmethod
    def _variable_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"{value!r} is not the name of an environment variable")
        return value

    @field_validator("channel", "alert_channel", "approval_channel")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        return _slack_channel(value)

    @field_validator("approvers")
    @classmethod
    def _member_ids(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _slack_members(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("timezone")
    @classmethod
    def _ad_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        AdDay.parse(value)
        return value.strip()


def _slack_channel(value: str | None) -> str | None:
    if value is not None and not CHANNEL_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a Slack channel ID (like C0123456789)")
    return value


def _slack_members(value: list[str]) -> list[str]:
    for user in value:
        if not MEMBER_ID.fullmatch(user):
            raise ValueError(f"{user!r} is not a Slack member ID (like U0123ABCD)")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _overlay(base: BaseModel, own: BaseModel | None) -> Any:
    """`base` with the keys the account's own table sets, validated together (a guardrail's min against its max)."""
    if own is None:
        return base
    return type(base).model_validate({**base.model_dump(), **own.model_dump(include=own.model_fields_set)})


class Settings(BaseSettings):
    """Everything the bot is told. Environment variables win over the TOML file at BUDGET_BOT_CONFIG."""

    model_config = SettingsConfigDict(env_prefix="BUDGET_BOT_", extra="ignore", populate_by_name=True)

    # Not required here: load_settings names it with everything else missing, all at once.
    propellerads_api_token: SecretStr = Field(SecretStr(""), validation_alias=_env("PROPELLERADS_API_TOKEN"))
    propellerads_base_url: str = Field(LIVE_BASE_URL, validation_alias=_env("PROPELLERADS_BASE_URL"))
    propellerads_timezone: str = Field(DEFAULT_AD_TIMEZONE, validation_alias=_env("PROPELLERADS_TIMEZONE"))
    """Where the ad account's day begins and ends: a UTC offset or an IANA time zone."""

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field(SLACK_API_URL, validation_alias=_env("SLACK_API_URL"))

    channel: str | None = None
    """Where summaries, alerts and proposals go."""
    alert_channel: str | None = None
    approval_channel: str | None = None
    approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    timezone: str = "UTC"
    currency: str = DEFAULT_CURRENCY
    """The account's currency, shown beside amounts; PropellerAds reports money without it."""
    database_url: str = DEFAULT_DATABASE_URL
    summary_time: time = time(9, 0)
    quiet_hours: str | None = None
    """`22:00-07:00` in `timezone`: only critical alerts are told then; the rest wait until it ends."""
    check_interval_minutes: int = Field(15, ge=1, le=1440)
    proposal_ttl_hours: int = Field(24, ge=1, le=24 * 14)
    api_timeout_seconds: float = Field(15.0, gt=0, le=300)
    rate_limit_max_wait_seconds: float = Field(90.0, ge=0, le=3600)
    """The longest the bot waits for a PropellerAds rate-limit window to reset before giving up."""
    reconcile_after_seconds: int = Field(300, ge=1, le=86400)
    """The lease of an apply: the running apply renews it every third of this, and only an apply that
    stopped renewing it this long (its process died) is finished by another from the live budget.
    Keep it well above the longest pause of a process (a garbage collection, a busy machine)."""
    max_concurrent_checks: int = Field(4, ge=1, le=64)
    """How many accounts' scheduled checks and summaries one process runs at once; the others wait their turn."""
    run_claim_timeout_seconds: int = Field(900, ge=60, le=86400)
    """A scheduled run claimed this long ago and still unfinished lost its replica: another takes it over.
    Keep it above the longest check (rate-limit waits and retries included)."""
    snapshot_ttl_seconds: int = Field(60, ge=0, le=3600)
    """How long a read of the account is reused by /budget status before asking the API again."""

    health: HealthThresholds = Field(default_factory=HealthThresholds)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    rules: list[AnyRule] = Field(default_factory=list)
    """CPA target rules and condition rules, in the order of the file."""
    automation: AutomationLimits = Field(default_factory=AutomationLimits)
    """What rules in auto mode may do on their own: the `[automation]` table."""
    signals: SignalThresholds = Field(default_factory=SignalThresholds)
    """When each signal about the way money moves fires: the `[signals]` table."""

    accounts: list[AccountConfig] = Field(default_factory=list)
    """The `[[accounts]]` tables; none: the one account of the environment, named `default`."""
    account: str = DEFAULT_ACCOUNT_NAME
    """Which ad account these settings are of: its rows in the store and its channels carry this name."""

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value

    @field_validator("approvers")
    @classmethod
    def _member_ids(cls, value: list[str]) -> list[str]:
        return _slack_members(value)

    @field_validator("channel", "alert_channel", "approval_channel")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        return _slack_channel(value)

    @field_validator("propellerads_base_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("accounts")
    @classmethod
    def _unique_names(cls, value: list[AccountConfig]) -> list[AccountConfig]:
        seen: set[str] = set()
        for account in value:
            if account.name in seen:
                raise ValueError(f"the account name {account.name!r} is used twice")
            seen.add(account.name)
        return value

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError(f"{value!r} is not a currency code like USD or EUR")
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("propellerads_timezone")
    @classmethod
    def _ad_day(cls, value: str) -> str:
        AdDay.parse(value)
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("only SQLite (sqlite:///path.db) and PostgreSQL (postgresql://…) are supported")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value:
            quiet_span(value)  # raises ValueError with the reason
        return value or None

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        config = os.environ.get("BUDGET_BOT_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_quiet(self, at: datetime) -> bool:
        """Whether `at` falls in the quiet hours (which may span midnight)."""
        if not self.quiet_hours:
            return False
        start, end = quiet_span(self.quiet_hours)
        local = at.astimezone(self.zone).time()
        return start <= local < end if start <= end else local >= start or local < end

    @property
    def ad_day(self) -> AdDay:
        return AdDay.parse(self.propellerads_timezone)

    @property
    def alerts_to(self) -> str | None:
        return self.alert_channel or self.channel

    @property
    def proposals_to(self) -> str | None:
        return self.approval_channel or self.channel

    def account_settings(self) -> list["Settings"]:
        """One full Settings per ad account, in the order of the file: the top-level settings with the account's
        own keys over them and its token read from its variable. Without `[[accounts]]`, these settings alone."""
        if not self.accounts:
            return [self]
        found = []
        for own in self.accounts:
            token = os.environ.get(own.api_token_env, "").strip()
            if not token:
                raise ConfigError(
                    f"account {own.name!r}: api_token_env names {own.api_token_env}, which is not set"
                )
            update: dict[str, Any] = {
                "account": own.name,
                "accounts": [],
                "propellerads_api_token": SecretStr(token),
                **self._with_overlays(own),
            }
            for mine, theirs in (("base_url", "propellerads_base_url"), ("timezone", "propellerads_timezone")):
                if getattr(own, mine) is not None:
                    update[theirs] = getattr(own, mine)
            for name in ("channel", "alert_channel", "approval_channel", "approvers", "rules"):
                if getattr(own, name) is not None:
                    update[name] = getattr(own, name)
            found.append(self.model_copy(update=update))
        return found

    def _with_overlays(self, own: AccountConfig) -> dict[str, Any]:
        """The account's health, guardrails and signals tables over the top-level ones."""
        merged = {}
        for table in ("health", "guardrails", "signals"):
            try:
                merged[table] = _overlay(getattr(self, table), getattr(own, table))
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(p) for p in first.get("loc", ()))
                message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
                raise ConfigError(f"account {own.name!r} [{table}]{' ' + field if field else ''}: {message}") from None
        return merged

    def secrets(self) -> list[str]:
        """Every secret value, so logs and messages can be checked against them."""
        values = [self.propellerads_api_token, self.slack_bot_token, self.slack_signing_secret, self.slack_app_token]
        tokens = [os.environ.get(own.api_token_env, "").strip() for own in self.accounts]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()] + [t for t in tokens if t]

    def warnings(self) -> list[str]:
        """What works but is probably not meant, to say at start."""
        if self.accounts:
            return [
                f"account {own.name!r} has no approvers: nobody can decide on its proposals or run its checks"
                for own in self.accounts
                if not (self.approvers if own.approvers is None else own.approvers)
            ]
        if not self.approvers:
            return ["BUDGET_BOT_APPROVERS is empty: nobody can decide on proposals or run /budget check"]
        return []

    def problems(self, slack: SlackMode | None = None) -> list[str]:
        """Everything missing or of the wrong kind for the mode: the API token always, Slack's for `slack`."""
        # With [[accounts]] each account names its own token; the top-level channel is needed by those without one.
        needed: dict[str, SecretStr | str | None] = (
            {} if self.accounts else {"PROPELLERADS_API_TOKEN": self.propellerads_api_token}
        )
        if slack is not None:
            needed["SLACK_BOT_TOKEN"] = self.slack_bot_token
            needed["SLACK_APP_TOKEN" if slack == "socket" else "SLACK_SIGNING_SECRET"] = (
                self.slack_app_token if slack == "socket" else self.slack_signing_secret
            )
            if not self.accounts or any(own.channel is None for own in self.accounts):
                needed["BUDGET_BOT_CHANNEL"] = self.channel
        missing = [name for name, value in needed.items() if not _given(value)]
        found = [f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"] if missing else []
        if slack is not None and _given(self.slack_bot_token) and not _secret(self.slack_bot_token).startswith("xoxb-"):
            found.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if slack == "socket" and _given(self.slack_app_token) and not _secret(self.slack_app_token).startswith("xapp-"):
            found.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        return found


def _secret(value: SecretStr | str | None) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else (value or "")


def _given(value: SecretStr | str | None) -> bool:
    return bool(_secret(value).strip())


def _env_names() -> dict[str, str]:
    """Field name → the environment variable it is read from, for fields not under BUDGET_BOT_."""
    names = {}
    for name, info in Settings.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            names[name] = str(info.validation_alias.choices[0])
    return names


_ENV_NAMES = _env_names()


def load_settings(*, slack: SlackMode | None = None, **overrides: Any) -> Settings:
    """Reads the settings, turning every problem into one ConfigError line that names them all.

    `slack` names the mode the bot runs in ("http" for serve, "socket"), whose Slack settings are then required.
    """
    config = os.environ.get("BUDGET_BOT_CONFIG")
    data = _check_config_file(Path(config)) if config else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raw_accounts = data.get("accounts")
        accounts = [a.get("name") if isinstance(a, dict) else None for a in raw_accounts] if isinstance(raw_accounts, list) else []
        raise ConfigError("; ".join(_describe(error, _names(data, error), accounts) for error in exc.errors())) from None
    except SettingsError as exc:  # a nested setting in the environment that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = "BUDGET_BOT_" + field.group(1).upper() if field else "a setting in the environment"
        raise ConfigError(f"{name} is not valid JSON") from None
    except ValueError as exc:  # a TOML syntax error arrives as a plain ValueError subclass
        raise ConfigError(f"BUDGET_BOT_CONFIG: {config} is not valid TOML: {exc}") from None
    problems = settings.problems(slack)
    if problems:
        raise ConfigError("; ".join(problems))
    settings.account_settings()  # every account's token variable is set and its tables fit with the top-level ones
    return settings


def _check_config_file(path: Path) -> dict[str, Any]:
    """The file is readable TOML and every key in it is a setting: a misspelt key must not be ignored."""
    if not path.is_file():
        raise ConfigError(f"BUDGET_BOT_CONFIG names {path}, which is not a readable file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"BUDGET_BOT_CONFIG: {path} is not valid TOML: {exc}") from None
    accounts = data.get("accounts")
    for own in accounts if isinstance(accounts, list) else []:
        if isinstance(own, dict) and any(key in own for key in TOKEN_KEYS):
            who = f"account {own.get('name')!r}" if own.get("name") else "an [[accounts]] table"
            raise ConfigError(
                f"BUDGET_BOT_CONFIG: {who} has its token in the file; put it in an environment variable "
                "and name that variable in api_token_env"
            )
    unknown = _unknown_keys(data, Settings, "")
    if unknown:
        what = "an unknown setting" if len(unknown) == 1 else "unknown settings"
        raise ConfigError(f"BUDGET_BOT_CONFIG: {path} has {what}: {', '.join(unknown)}")
    return data


def _unknown_keys(data: dict[str, Any], model: type[BaseModel], table: str) -> list[str]:
    """Keys of `data` that `model` does not read, named as written in the file: `chanel`, `[helth]`,
    `[guardrails] min_daily_budgt`, each with the nearest known name when one is close."""
    fields = model.model_fields
    known: dict[str, str] = {}
    for name, info in fields.items():
        known[name] = name
        if isinstance(info.validation_alias, AliasChoices):
            known.update({str(alias): name for alias in info.validation_alias.choices})
    unknown: list[str] = []
    for key, value in data.items():
        name = known.get(key)
        if name is None:
            is_table = isinstance(value, dict) and not table
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {f'[{close[0]}]' if is_table else close[0]}?)" if close else ""
            unknown.append(f"{table}{f'[{key}]' if is_table else key}{hint}")
            continue
        inner = _model_of(fields[name].annotation)
        if name == "rules" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    unknown.extend(_unknown_keys(item, RULE_MODELS[rule_kind(item)], f"{table}[[{key}]] "))
            continue
        if name == "accounts" and isinstance(value, list):
            for number, item in enumerate(value, 1):
                if isinstance(item, dict):
                    named = item.get("name")
                    who = f"account {named!r} " if isinstance(named, str) and named else f"[[accounts]] number {number} "
                    unknown.extend(_unknown_keys(item, AccountConfig, who))
            continue
        if inner is None:
            continue
        if isinstance(value, dict):
            unknown.extend(_unknown_keys(value, inner, f"{table}[{key}] "))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    unknown.extend(_unknown_keys(item, inner, f"{table}[[{key}]] "))
    return unknown


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds, alone, optional or in a list: HealthThresholds, Guardrails, Rule."""
    present = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(present) == 1:
        annotation = present[0]
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _names(data: dict[str, Any], error: Any) -> list[Any]:
    """The `name` of each table in the list the error is in: top-level rules, or an account's own rules."""
    loc = list(error.get("loc", ()))
    tables: Any = data.get("rules")
    if loc[:1] == ["accounts"] and len(loc) > 2 and loc[2] == "rules" and isinstance(data.get("accounts"), list):
        accounts = data["accounts"]
        own = accounts[loc[1]] if isinstance(loc[1], int) and loc[1] < len(accounts) else None
        tables = own.get("rules") if isinstance(own, dict) else None
    return [t.get("name") if isinstance(t, dict) else None for t in tables] if isinstance(tables, list) else []


def _describe(error: Any, rule_names: list[Any] | None = None, account_names: list[Any] | None = None) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    head = loc[0] if loc else ""
    if head == "accounts" and len(loc) > 1 and loc[1].isdigit():
        return _describe_account(error, rule_names, account_names or [])
    if head == "accounts":
        return f"[[accounts]]: {str(error.get('msg', 'is invalid')).removeprefix('Value error, ')}"
    if head == "rules" and len(loc) > 2 and loc[2] in RULE_MODELS:
        del loc[2]  # the kind of rule, which the file does not name
    name = _ENV_NAMES.get(head.lower()) or ("BUDGET_BOT_" + head.upper() if head else "a setting")
    where = name + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
    if head == "rules" and len(loc) > 1 and loc[1].isdigit():
        index = int(loc[1])
        named = (rule_names or [])[index] if index < len(rule_names or []) else None
        field = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[2:]).lstrip(".")
        if isinstance(named, str) and len(named) > 40:
            named = named[:39] + "…"
        where = f"{name}[{index}]" + (f" (rule {named!r})" if isinstance(named, str) and named else "")
        if field:
            where += f" {field}"
    if error.get("type") == "missing":
        return f"{where} is not set" if len(loc) == 1 else f"{where} is missing in the configuration file"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{where}: {message}"


def _describe_account(error: Any, rule_names: list[Any] | None, account_names: list[Any]) -> str:
    """An error inside an `[[accounts]]` table, named by the account (or by its place when it has no name)."""
    loc = list(error.get("loc", ()))
    index, inner = int(loc[1]), [str(p) for p in loc[2:]]
    name = account_names[index] if index < len(account_names) else None
    who = f"account {name!r}" if isinstance(name, str) and name else f"[[accounts]] number {index + 1}"
    if inner[:1] == ["rules"]:
        within = dict(error, loc=tuple(loc[2:]))
        return f"{who} {_describe(within, rule_names).replace('BUDGET_BOT_RULES', '[[accounts.rules]]', 1)}"
    field = ".".join(inner)
    if inner and inner[0] in ("health", "guardrails", "signals"):  # the account's own table, as the file names it
        field = " ".join([f"[{inner[0]}]", ".".join(inner[1:])]).strip()
    if error.get("type") == "missing":
        return f"{who}: {field or 'the table'} is missing"
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{who} {field}: {message}" if field else f"{who}: {message}"
