"""``monitor items search|list|show|history|reindex``: find and read stored items.

Search and list read the full-text index (`monitor.search`), caught up with the log first
(with a progress bar when it is far behind); a malformed query is exit 4, like any invalid
input, and the message says what to fix.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from ..app import Monitor
from ..events import to_plain
from ..projections import ItemVersions
from ..rules import RuleSet, load_rules
from ..search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SORTS,
    Filters,
    Page,
    QueryError,
    entity_id,
    index_lag,
    item_detail,
    rebuild,
)
from ._alerts_cmds import _when
from ._context import EXIT_INPUT, EXIT_PROBLEM, CliContext
from ._options import rules_option, rules_sources
from ._progress import progress_bar
from ._render import alerts_table, info
from ._render import console as make_console

__all__ = ["register"]

#: Catching up more records than this shows a progress bar.
_BAR_FROM = 2_000
_MARK = re.compile(r"\[([^\]]*)\]")


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The filters `search` and `list` share."""
    options = [
        click.option("--since", help="Items at or after this time (2026-03-01, 24h, 7d)."),
        click.option("--until", help="Items at or before this time."),
        click.option("--feed", help="Only this feed id."),
        click.option("--lang", help="Only this language (declared or detected), e.g. ar."),
        click.option(
            "--place", help="Items the rules tagged with this place (place:al-tanf or al_tanf)."
        ),
        click.option("--actor", help="Items the rules tagged with this actor (actor:isis)."),
        click.option("--rule", help="Items named by an alert of this rule id."),
        click.option(
            "--limit",
            type=click.IntRange(1, MAX_LIMIT),
            default=DEFAULT_LIMIT,
            show_default=True,
            help="Items per page.",
        ),
        click.option("--cursor", help="Continue after a page: its next_cursor (--json)."),
        click.option("--json", "as_json", is_flag=True, help="Print the page as JSON."),
        rules_option(),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(params: dict[str, Any], ruleset: RuleSet | None) -> Filters:
    return Filters(
        since=_when(params["since"], "--since"),
        until=_when(params["until"], "--until"),
        feed=params["feed"],
        lang=params["lang"],
        place=entity_id("place", params["place"], ruleset) if params["place"] else None,
        actor=entity_id("actor", params["actor"], ruleset) if params["actor"] else None,
        rule=params["rule"],
    )


def _catch_up(monitor: Monitor) -> None:
    """Bring the index up to date, with a bar when there is much to fold."""
    if index_lag(monitor.log) >= _BAR_FROM:
        with progress_bar("indexing") as update:
            monitor.catch_up_search(progress=update)
    else:
        monitor.catch_up_search()


def _ruleset(params: dict[str, Any], query: str = "") -> RuleSet | None:
    """The rules for @lexicons and lexicon names in --place/--actor: loaded only when used."""
    needs = "@" in query or any(params[k] and ":" not in params[k] for k in ("place", "actor"))
    return load_rules(list(rules_sources(params["rules"]))) if needs else None


def _snippet(text: str) -> Text:
    out = Text()
    last = 0
    for m in _MARK.finditer(text):
        out.append(text[last : m.start()])
        out.append(m.group(1), style="bold black on yellow")
        last = m.end()
    out.append(text[last:])
    return out


def _print_page(page: Page, title: str, as_json: bool, snippets: bool) -> None:
    if as_json:
        click.echo(json.dumps(page.to_json(), ensure_ascii=False))
        return
    table = Table(title=title, expand=False)
    columns = ["time", "feed", "title", *(["snippet"] if snippets else []), "id"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for hit in page.hits:
        row: list[Any] = [hit.time.strftime("%Y-%m-%d %H:%M"), hit.feed_id, hit.title]
        if snippets:
            row.append(_snippet(hit.snippet))
        row.append(hit.item_id)
        table.add_row(*row)
    make_console().print(table)
    if page.next_cursor:
        info(f"more: add --cursor {page.next_cursor}")


@click.group(name="items")
def items_group() -> None:
    """Find and read stored items: search, list, show, history."""


@items_group.command(name="search")
@click.argument("query")
@_filter_options
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="rank",
    show_default=True,
    help="Best match first, or newest first.",
)
@click.pass_obj
def search_command(obj: CliContext, query: str, **params: Any) -> None:
    """Search the stored items' text (title, summary, content) for QUERY.

    QUERY holds words, "exact phrases", prefixes (deploy*), AND / OR / NOT (or -word) and
    parentheses; @places.al_tanf stands for every spelling of that lexicon of the rules
    (--rules, default the pack). Case, diacritics and Arabic letter forms are folded as the
    rules fold them, and an Arabic word also finds its forms with و ف ب ك ل and the article.
    A malformed query exits with status 4.
    """
    try:
        ruleset = _ruleset(params, query)
        filters = _filters(params, ruleset)
        with Monitor.open(obj.db) as monitor:
            _catch_up(monitor)
            page = monitor.search(
                query,
                ruleset=ruleset,
                filters=filters,
                sort=params["sort"],
                limit=params["limit"],
                cursor=params["cursor"],
            )
    except QueryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    _print_page(page, f"Items matching {query} ({len(page.hits)})", params["as_json"], True)


@items_group.command(name="list")
@_filter_options
@click.pass_obj
def list_command(obj: CliContext, **params: Any) -> None:
    """List the stored items, newest first (current versions), one page at a time."""
    try:
        filters = _filters(params, _ruleset(params))
        with Monitor.open(obj.db) as monitor:
            _catch_up(monitor)
            page = monitor.items(filters=filters, limit=params["limit"], cursor=params["cursor"])
    except QueryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    _print_page(page, f"Items ({len(page.hits)})", params["as_json"], False)


@items_group.command(name="show")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print the item as JSON.")
@click.pass_obj
def show_command(obj: CliContext, item_id: str, as_json: bool) -> None:
    """Show ITEM_ID: its current version, its earlier versions (revisions) and the alerts
    that named it, with their evidence. Exit 1 when the log holds no such item."""
    with Monitor.open(obj.db) as monitor:
        monitor.projections.run()
        _catch_up(monitor)
        detail = item_detail(monitor.log, item_id)
    if detail is None:
        click.echo(f"error: no item {item_id} in the log", err=True)
        sys.exit(EXIT_PROBLEM)
    if as_json:
        out = {
            "item": {"type": type(detail.current).__name__, **to_plain(detail.current)},
            "revisions": [
                {"revision": n, "type": type(v).__name__, **to_plain(v)}
                for n, v in enumerate(detail.versions)
            ],
            "alerts": [to_plain(a) for a in detail.alerts],
        }
        click.echo(json.dumps(out, ensure_ascii=False, default=str))
        return
    item = detail.current
    console = make_console()
    table = Table(title=f"Item {item_id}", show_header=False, expand=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in ("title", "feed_id", "url", "published", "received", "lang", "text_lang"):
        value = getattr(item, name, None)
        if value:
            table.add_row(name, str(value))
    if item.authors:
        table.add_row("authors", ", ".join(item.authors))
    for name in ("summary", "content"):
        value = getattr(item, name)
        if value:
            table.add_row(name, value if len(value) <= 2000 else value[:2000] + " …")
    table.add_row("revision", f"{len(detail.versions) - 1} of {len(detail.versions) - 1}")
    console.print(table)
    if len(detail.versions) > 1:
        versions = Table(title="Versions", expand=False)
        for column in ("revision", "seen", "title"):
            versions.add_column(column, overflow="fold")
        for n, version in enumerate(detail.versions):
            seen = version.received.isoformat().replace("+00:00", "Z")
            versions.add_row(str(n), seen, version.title)
        console.print(versions)
    if detail.alerts:
        console.print(alerts_table(list(detail.alerts), title=f"Alerts ({len(detail.alerts)})"))
    else:
        info("no alert named this item")


@items_group.command(name="history")
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print each version's event as JSON.")
@click.pass_obj
def item_history(obj: CliContext, item_id: str, as_json: bool) -> None:
    """Show every stored version of ITEM_ID, oldest first: the first `ItemReceived`, then each
    `ItemRevised`, with each `ItemSighted` (the same article seen in another feed) in log
    order. Exit 1 when the log holds no such item."""
    from ..events import ItemSighted  # here, so the body moves with the command

    with Monitor.open(obj.db) as monitor:
        monitor.projections.run()
        versions = ItemVersions.history(monitor.log, item_id)
    if not versions:
        click.echo(f"error: no item {item_id} in the log", err=True)
        sys.exit(EXIT_PROBLEM)
    if as_json:
        for evt in versions:
            click.echo(json.dumps({"type": type(evt).__name__, **to_plain(evt)}))
        return
    table = Table(title=f"Versions and sightings of {item_id}")
    for column in ("revision", "seen", "feed", "title", "authors", "url"):
        table.add_column(column)
    number = 0
    for evt in versions:
        if isinstance(evt, ItemSighted):
            seen = evt.seen.isoformat().replace("+00:00", "Z")
            table.add_row("sighted", seen, evt.feed_id, evt.title, "", evt.url or "")
            continue
        seen = evt.received.isoformat().replace("+00:00", "Z")
        row = (evt.feed_id, evt.title, ", ".join(evt.authors), evt.url or "")
        table.add_row(str(number), seen, *row)
        number += 1
    make_console().print(table)


@items_group.command(name="reindex")
@click.pass_obj
def reindex_command(obj: CliContext) -> None:
    """Drop the search index and rebuild it from the whole log (after an upgrade that
    changes the index, or to check it: a rebuild gives the same index as the incremental one).
    """
    with Monitor.open(obj.db) as monitor, progress_bar("reindexing") as update:
        position = rebuild(monitor.log, progress=update)
    info(f"search index rebuilt up to position {position}")


def register(group: click.Group) -> None:
    """Attach this module's commands to the `monitor` group."""
    group.add_command(items_group)
