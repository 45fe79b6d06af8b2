"""The `budget-bot` command line: check the account, backtest the rules, run the bot, run the local sandbox."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from bot.settings import ConfigError, Settings, load_settings
from core.errors import PropellerAdsError

if TYPE_CHECKING:
    from core.store import Store

app = typer.Typer(
    name="budget-bot",
    help="Watches a PropellerAds account's money and talks about it in Slack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


class ServiceDown(Exception):
    """A service the bot needs besides PropellerAds (its database) does not answer; the message names it and where."""


def clock() -> datetime:
    """The time `check` works at; tests move it through an ad day."""
    return datetime.now(timezone.utc)


class ExitCode:
    API = 1
    """PropellerAds, or another service the bot needs (the database), failed."""
    CONFIG = 2
    ATTENTION = 3
    """`check` only: the report holds something the channel would be alerted to, or a signal of severity warning or above."""
    UNEXPECTED = 70


def one_line_errors(fn: F) -> F:
    """Every failure leaves as one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            _fail(f"configuration: {exc}", ExitCode.CONFIG)
        except (PropellerAdsError, ServiceDown) as exc:
            _fail(str(exc), ExitCode.API)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # the last guard: name it, keep the traceback out of the terminal
            logging.getLogger("budget_bot").debug("unexpected failure", exc_info=True)
            _fail(f"unexpected {type(exc).__name__}: {exc}", ExitCode.UNEXPECTED)

    return wrapper  # type: ignore[return-value]


def _fail(message: str, code: int) -> None:
    from bot.report_text import printable

    err.print(f"budget-bot: error: {printable(message)}", markup=False)
    raise typer.Exit(code)


def _setup_logging(verbose: bool, level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL, alembic every step of a migration that did nothing, the scheduler each
    # job it adds: keep the terminal for what matters unless asked.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not verbose:
        for name in ("alembic", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_same_token_notice)


def _same_token_notice(record: logging.LogRecord) -> bool:
    """Drops Bolt's start-up warning that `token` is unused: the bot hands Bolt its own client (Slack URL,
    retries) made with SLACK_BOT_TOKEN, and Bolt then finds the same variable in the environment."""
    return "`token` will be unused" not in record.getMessage()


@contextmanager
def _starting(settings: Settings | None = None, host: str = "", port: int | None = None) -> Iterator[None]:
    """Turns what stops a start into one line: a port in use (a setting: exit 2), a database down (exit 1)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE and port is not None:
            raise ConfigError(f"port {port} on {host} is in use; pick another with --port") from None
        raise
    except SQLAlchemyError as exc:
        if settings is None:
            raise
        from bot.runtime import describe_database_error

        raise ServiceDown(describe_database_error(settings.database_url, exc)) from None


def _say_warnings(settings: Settings) -> None:
    for warning in settings.warnings():
        err.print(f"budget-bot: warning: {warning}", markup=False)


@app.callback()
def root() -> None:
    """Watches a PropellerAds account's money and talks about it in Slack."""


@app.command()
@one_line_errors
def check(
    account: str = typer.Option(None, "--account", help="Check only the ad account of this name (all by default)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each step."),
) -> None:
    """Read each ad account once and print its budget health; exit 3 when one needs attention, 1 when one failed."""
    # Without -v the report is the output: what was left out or waited for is in it or on the status line.
    _setup_logging(verbose, logging.ERROR)
    chosen = _chosen_accounts(load_settings(), account)
    with err.status("Reading the account from PropellerAds…") as status:

        def waiting(endpoint: str, seconds: float) -> None:
            status.update(f"waiting {seconds:.0f} s for PropellerAds' rate limit on {endpoint}…")

        looked = asyncio.run(_check_all(chosen, on_rate_limit_wait=waiting))
    if len(chosen) == 1 and isinstance(looked[0], Exception):
        raise looked[0]  # one account: its failure is the command's, as one line
    from bot.report_text import needs_attention, print_report, print_watch, report_json, signals_need_attention, watch_json

    objects: list[dict[str, Any]] = []
    code = 0
    for settings, outcome in zip(chosen, looked):
        if isinstance(outcome, Exception):
            code = ExitCode.API
            objects.append({"account": settings.account, "error": str(outcome)})
            if not as_json:
                err.print(f"budget-bot: error: {settings.account}: {outcome}", markup=False)
            continue
        report, watch = outcome
        if needs_attention(report, settings.health) or signals_need_attention(watch):
            code = code or ExitCode.ATTENTION
        if as_json:
            objects.append({"account": settings.account, **report_json(report, settings.currency), **watch_json(watch)})
        else:
            if len(chosen) > 1:
                Console().rule(f"Ad account {settings.account}")
            print_report(report, Console(), settings.currency)
            print_watch(watch, Console())
    if as_json:
        typer.echo(json.dumps(objects[0] if len(chosen) == 1 else objects, indent=2, ensure_ascii=False))
    if code:
        raise typer.Exit(code)


def _chosen_accounts(settings: Settings, name: str | None) -> list[Settings]:
    """The settings of every ad account, or of the one named; an unknown name is a configuration error."""
    every = settings.account_settings()
    if name is None:
        return every
    found = [one for one in every if one.account == name]
    if not found:
        names = ", ".join(one.account for one in every)
        raise ConfigError(f"--account {name!r} is none of the ad accounts ({names})")
    return found


async def _check_all(
    chosen: list[Settings], *, on_rate_limit_wait: Callable[[str, float], None] | None = None
) -> list[Any]:
    """Each account read with its own client over the bot's own store, so the spend ledgers a cron job keeps are
    the bot's; several at once up to the bot's bound. A failure is that account's outcome, not the others'."""
    from core.store import Store

    store = Store.connect(chosen[0].database_url)
    turns = asyncio.Semaphore(chosen[0].max_concurrent_checks)

    async def one(settings: Settings) -> Any:
        async with turns:
            return await _check(settings, store.for_account(settings.account), on_rate_limit_wait=on_rate_limit_wait)

    try:
        await store.migrate()
        return await asyncio.gather(*(one(settings) for settings in chosen), return_exceptions=True)
    finally:
        await store.close()


async def _check(settings: Settings, store: Store, *, on_rate_limit_wait: Callable[[str, float], None] | None = None):  # noqa: ANN202
    from bot.wiring import make_client, service_config
    from core.service import BudgetService

    async with make_client(settings, on_rate_limit_wait=on_rate_limit_wait) as api:
        return await BudgetService(api, store, service_config(settings), clock=clock).look()


@app.command()
@one_line_errors
def accounts(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each step.")) -> None:
    """List the ad accounts with their channels and whether each token works; exit 1 when one does not."""
    from rich.table import Table

    from bot.report_text import printable

    _setup_logging(verbose, logging.ERROR)
    every = load_settings().account_settings()
    with err.status("Asking PropellerAds about each token…"):
        answers = asyncio.run(_probe_all(every))
    table = Table("Account", "Channel", "Alerts to", "Proposals to", "Token")
    for settings, answer in zip(every, answers):
        table.add_row(
            settings.account,
            settings.channel or "—",
            settings.alerts_to or "—",
            settings.proposals_to or "—",
            printable(answer or "works"),
            style=None if answer is None else "red",
        )
    Console(soft_wrap=True).print(table)
    if any(answer is not None for answer in answers):
        raise typer.Exit(ExitCode.API)


async def _probe_all(every: list[Settings]) -> list[str | None]:
    """For each account, None when its token reads the balance (one cheap call), else the refusal in one line."""
    from bot.wiring import make_client

    async def probe(settings: Settings) -> str | None:
        try:
            async with make_client(settings, probe=True) as api:
                await api.balance()
        except PropellerAdsError as exc:
            return exc.summary()
        return None

    return list(await asyncio.gather(*(probe(settings) for settings in every)))


@app.command()
@one_line_errors
def backtest(
    days: int = typer.Option(14, "--days", help="Whole ad days to replay, before today (1 to 60)."),
    rule: str = typer.Option(None, "--rule", help="Replay only the rule of this name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each step."),
) -> None:
    """Replay the rules over the spend ledger's past days: what each would have done, and what followed."""
    from core.service import BacktestRefused

    _setup_logging(verbose, logging.ERROR)
    settings = load_settings()
    try:
        with _starting(settings), err.status("Reading the days the spend ledger lacks from PropellerAds…") as status:

            def waiting(endpoint: str, seconds: float) -> None:
                status.update(f"waiting {seconds:.0f} s for PropellerAds' rate limit on {endpoint}…")

            result = asyncio.run(_backtest(settings, days, rule, on_rate_limit_wait=waiting))
    except BacktestRefused as exc:
        _fail(str(exc), ExitCode.CONFIG)
    from bot.backtest_text import backtest_json, print_backtest

    if as_json:
        typer.echo(json.dumps(backtest_json(result, settings.currency), indent=2, ensure_ascii=False))
    else:
        print_backtest(result, Console(), settings.currency)


async def _backtest(settings: Settings, days: int, rule: str | None, *, on_rate_limit_wait: Callable[[str, float], None] | None = None):  # noqa: ANN202
    """The backtest over the bot's own store: its spend ledger, filled in where it lacks days."""
    from bot.wiring import make_client, service_config
    from core.service import BudgetService
    from core.store import Store

    store = Store.connect(settings.database_url)
    try:
        await store.migrate()
        async with make_client(settings, on_rate_limit_wait=on_rate_limit_wait) as api:
            return await BudgetService(api, store, service_config(settings), clock=clock).backtest(days, rule)
    finally:
        await store.close()


@app.command()
@one_line_errors
def serve(
    port: int = typer.Option(3000, help="Port for Slack's requests (/slack/events) and /healthz."),
    host: str = typer.Option("0.0.0.0", help="Interface to listen on."),
    no_schedule: bool = typer.Option(False, "--no-schedule", help="Answer Slack only; run no scheduled jobs."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the bot in HTTP mode, behind a public URL or load balancer."""
    from aiohttp import web

    from bot.runtime import Runtime
    from bot.server import build_web_app

    _setup_logging(verbose)
    settings = load_settings(slack="http")
    _say_warnings(settings)
    runtime = Runtime.build(settings)

    def listening(_: str) -> None:  # called once the store is ready and the port is bound
        err.print(f"budget-bot: serving Slack at http://{host}:{port}/slack/events", markup=False)

    with _starting(settings, host, port):
        web.run_app(build_web_app(runtime, schedule=not no_schedule), host=host, port=port, print=listening)


@app.command()
@one_line_errors
def socket(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the bot in Socket Mode: no public URL needed (SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.runtime import Runtime

    _setup_logging(verbose)
    settings = load_settings(slack="socket")
    _say_warnings(settings)

    async def run() -> None:
        runtime = Runtime.build(settings, socket_mode=True)
        await runtime.start()
        assert settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
        try:
            await handler.start_async()
        finally:
            await runtime.stop()

    with _starting(settings):
        asyncio.run(run())


@app.command()
@one_line_errors
def demo(
    port: int = typer.Option(8000, help="Port of the page to open in a browser."),
    campaigns: int = typer.Option(30, min=1, max=10_000, help="Campaigns in the sandbox account."),
    speed: float = typer.Option(60.0, min=1, max=3600, help="Sandbox seconds per real second, so spend moves."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run everything locally: sandbox PropellerAds, a Slack stand-in in the browser, and the bot."""
    from bot.demo import main as run_demo

    _setup_logging(verbose, logging.WARNING)
    with _starting(host="127.0.0.1", port=port):
        run_demo(port, campaigns, speed, lambda line: typer.echo(line))


@app.command("sandbox")
@one_line_errors
def sandbox_command(
    port: int = typer.Option(8081, help="Port of the sandbox ad platform (the API is under /v5)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    token: str = typer.Option(None, envvar="PROPELLERADS_API_TOKEN", help="Bearer token the sandbox accepts."),
    campaigns: int = typer.Option(30, min=1, max=100_000, help="Campaigns in the seeded account."),
    seed: int = typer.Option(7, help="Seed of the simulated account."),
    state: str = typer.Option(None, help="JSON file to keep the account in across restarts."),
    speed: float = typer.Option(1.0, min=0.01, max=10_000, help="Sandbox seconds per real second."),
    accounts: int = typer.Option(None, min=1, max=10_000, help="Serve this many accounts, tokens <token>-1 … -N."),
) -> None:
    """Run the sandbox PropellerAds API locally: a seeded account over real HTTP."""
    from sandbox.adplatform import DEFAULT_TOKEN, serve as serve_sandbox

    with _starting(host=host, port=port):
        serve_sandbox(host=host, port=port, token=token or DEFAULT_TOKEN, campaigns=campaigns, seed=seed, state_file=state, speed=speed, accounts=accounts)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
