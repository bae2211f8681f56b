"""The console's ASGI application: `create_app` builds it over a `Monitor` (or a bare log).

Pages are server-rendered (Jinja2, every value escaped and stripped of bidi controls), read
projections with limits, and run in Starlette's thread pool because the log is blocking. The
live stream (``/live``) is the only asynchronous route: it waits on its `Broadcaster` queue.
Actions are POSTs that need the configured token (see `_safety`); without a token configured
the console is read-only and every action answers 403.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from .._durations import parse_duration
from ..alerts import CHART_CSS, safe_link
from ..app import Monitor
from ..errors import ConfigError, MonitorError
from ..events import VERDICTS, AlertRaised, format_time, parse_time
from ..log import EventLog
from ..projections import FeedStatus, ItemVersions, Silences, Stories
from ..search import (
    SORTS,
    Filters,
    catch_up,
    entity_id,
    index_lag,
    item_detail,
    list_items,
)
from ..search import search as search_items
from ._follow import CatchUp, quick_runner
from ._live import BACKLOG, OVERFLOW, Broadcaster, read_alerts
from ._safety import (
    SECURITY_HEADERS,
    TOKEN_FIELD,
    TOKEN_HEADER,
    clean_text,
    neutralise,
    token_matches,
)
from ._views import CHART_DAYS, alert_rows, alert_view, charts, item_view, rules_view

__all__ = ["HEARTBEAT", "MAX_LIMIT", "create_app"]

#: Seconds between the comments that keep an idle stream (and its proxies) open.
HEARTBEAT = 15.0
#: The most alerts one listing page shows.
MAX_LIMIT = 500
#: A search index at most this many records behind is caught up before the search.
QUICK_SEARCH = 2_000
_LEVELS = ("critical", "high", "medium", "low", "informational")
_MAX_DAYS = 366


def _when(value: Any) -> str:
    """A time as ``2026-03-05 14:02 UTC`` ("" for none)."""
    if not value:
        return ""
    when = value if isinstance(value, datetime) else parse_time(value)
    if when is None:
        return ""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.console", "templates"),
        autoescape=True,
        finalize=neutralise,  # every printed value loses its bidi controls (see _safety)
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the package: no stat per render
    )
    env.filters["when"] = _when
    env.filters["day"] = lambda d: d.isoformat() if isinstance(d, date) else ""
    env.filters["level_class"] = lambda level: level if level in _LEVELS else "other"
    return env


def _asset(name: str) -> bytes:
    return resources.files("monitor.console").joinpath("static", name).read_bytes()


class _Console:
    """The state the routes share: the monitor, the token, the template environment, the
    live follower and the console's own projections."""

    def __init__(self, monitor: Monitor, token: str | None, stories: bool) -> None:
        self.monitor = monitor
        self.log: EventLog = monitor.log
        self.token = token or None
        self.env = _environment()
        self.quick = quick_runner(self.log)
        # Everything that folds every item (and the slow stories fold) catches up in a
        # thread of its own: see `_follow`.
        self.catch_up = CatchUp(self.log, [Stories()] if stories else [])
        self.live = Broadcaster(self.log, clean=clean_text, headline=self.headline)
        self._fresh_at = -1
        self._lock = threading.Lock()
        self.assets = {
            "console.css": (_asset("console.css") + CHART_CSS.encode(), "text/css"),
            "console.js": (_asset("console.js"), "text/javascript"),
        }

    def headline(self, alert: AlertRaised) -> str:
        """The title of `alert`'s first item (from `ItemVersions`, which the watcher updates
        right after it raises the alert), else the alert's summary."""
        if alert.item_ids:
            item = ItemVersions.get(self.log, alert.item_ids[0])
            if item is not None:
                return item.get("title", "")
        return alert.annotations.get("summary", "")

    def fresh(self) -> int:
        """Catch the projections the pages read up with the log (only when it moved);
        return the head they reflect. Starts the catch-up thread on first use."""
        self.catch_up.start()
        head = self.log.head()
        if head != self._fresh_at:
            with self._lock:
                self.quick.run(until=head)
                self._fresh_at = head
        return head

    def search_lag(self) -> int:
        """Bring the search index up to date when it is a little behind (cheap), else leave
        it to the catch-up thread; return how many records it is still behind."""
        if not self.catch_up.search:
            return 0
        lag = index_lag(self.log)
        if 0 < lag <= QUICK_SEARCH:
            catch_up(self.log)
            lag = index_lag(self.log)
        return lag

    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        head = values.pop("head", None)
        page = self.env.get_template(template).render(
            page=values.pop("page", ""),
            actions=self.token is not None,
            log_url=self.log.url,
            head=head if head is not None else self.log.head(),
            now=self.monitor.clock(),
            done=request.query_params.get("done", ""),
            **values,
        )
        return HTMLResponse(page, status_code=status)

    def error(self, request: Request, status: int, heading: str, message: str) -> Response:
        return self.render(
            request, "error.html", status, code=status, heading=heading, message=message
        )


def _limit(request: Request, default: int = 50) -> int:
    try:
        value = int(request.query_params.get("limit", default))
    except ValueError:
        return default
    return max(1, min(value, MAX_LIMIT))


def create_app(
    monitor_or_log: Monitor | EventLog,
    *,
    token: str | None = None,
    stories: bool = True,
    heartbeat: float = HEARTBEAT,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The console over `monitor_or_log` (a `Monitor`, for its rules and clock, or an open
    log). `token` enables the actions (acknowledge, verdict, silence); without it the console
    is read-only. `stories` folds the stories projection, in a thread of its own, for the
    "story" line of an item (a
    fold over every item: leave it off on a huge log that does not need it). The caller owns
    the monitor and closes it. `allowed_hosts` (names, ``*.example.org``) refuses requests
    whose Host header names anything else, with 400: a page in a browser that a hostile site
    points at 127.0.0.1 by DNS rebinding sends that site's name and is refused (`monitor
    serve` passes the loopback names when it binds to loopback)."""
    monitor = monitor_or_log if isinstance(monitor_or_log, Monitor) else Monitor(monitor_or_log)
    console = _Console(monitor, token, stories)

    def alerts_page(request: Request) -> Response:
        head = console.fresh()
        params = request.query_params
        filters = {k: params.get(k) or None for k in ("rule", "level", "place")}
        limit = _limit(request)
        rows = alert_rows(console.log, limit=limit, **filters)
        return console.render(
            request,
            "alerts.html",
            page="alerts",
            head=head,
            rows=rows,
            filters=filters,
            levels=_LEVELS,
            limit=limit,
            max_limit=MAX_LIMIT,
        )

    def alert_page(request: Request) -> Response:
        console.fresh()
        alert_id = request.path_params["alert_id"]
        view = alert_view(console.log, alert_id, monitor.ruleset)
        if view is None:
            return console.error(request, 404, "No such alert", f"No alert {alert_id} in this log.")
        return console.render(request, "alert.html", page="alert", **view)

    def item_page(request: Request) -> Response:
        console.fresh()
        item_id = request.path_params["item_id"]
        item = item_view(console.log, item_id)
        if item is None:
            return console.error(request, 404, "No such item", f"No item {item_id} in this log.")
        detail = item_detail(console.log, item_id) if console.catch_up.search else None
        alerts = list(reversed(detail.alerts)) if detail else []
        return console.render(request, "item.html", page="item", item=item, alerts=alerts)

    def search_page(request: Request) -> Response:
        console.fresh()
        params = dict(request.query_params)
        query = params.get("q", "").strip()
        params.setdefault("sort", "rank" if query else "newest")
        values: dict[str, Any] = {"q": query, "params": params, "sorts": SORTS, "hits": None}
        try:
            filters = _search_filters(params, monitor)
            options = {"limit": _limit(request, 25), "cursor": params.get("cursor") or None}
            values["lag"] = console.search_lag()
            if query:
                page = search_items(
                    console.log,
                    query,
                    ruleset=monitor.ruleset,
                    filters=filters,
                    sort=params["sort"] or "rank",
                    **options,
                )
            else:
                page = list_items(console.log, filters=filters, **options)
        except (MonitorError, ValueError) as exc:  # a bad query, filter or timeout; a log
            # without a search index (memory:) says so
            values["error"] = str(exc)
            return console.render(request, "search.html", 400, page="search", **values)
        values["hits"] = [
            {
                "item_id": h.item_id,
                "feed_id": h.feed_id,
                "time": h.time,
                "title": h.title,
                "lang": h.lang,
                "link": safe_link(h.url),
                "snippet": h.snippet,
            }
            for h in page.hits
        ]
        values["next_cursor"] = page.next_cursor
        if page.next_cursor:
            values["next_url"] = "/search?" + urlencode({**params, "cursor": page.next_cursor})
        return console.render(request, "search.html", page="search", **values)

    def feeds_page(request: Request) -> Response:
        console.fresh()
        feeds = []
        for status in FeedStatus.all(console.log):
            state = (
                "disabled"
                if status.get("disabled")
                else "degraded"
                if status.get("degraded")
                else "failing"
                if status.get("failures")
                else "ok"
            )
            feeds.append({**status, "state": state, "link": safe_link(status.get("url"))})
        return console.render(
            request,
            "feeds.html",
            page="feeds",
            feeds=feeds,
            failing=sum(1 for f in feeds if f["state"] == "failing"),
            degraded=sum(1 for f in feeds if f["state"] == "degraded"),
            disabled=sum(1 for f in feeds if f["state"] == "disabled"),
        )

    def rules_page(request: Request) -> Response:
        console.fresh()
        view = rules_view(console.log, monitor.ruleset, monitor.clock())
        return console.render(
            request, "rules.html", page="rules", rules_loaded=monitor.ruleset is not None, **view
        )

    def charts_page(request: Request) -> Response:
        console.fresh()
        try:
            days = max(1, min(int(request.query_params.get("days", CHART_DAYS)), _MAX_DAYS))
        except ValueError:
            days = CHART_DAYS
        return console.render(
            request,
            "charts.html",
            page="charts",
            charts=charts(console.log, monitor.clock(), days),
            days=days,
            max_days=_MAX_DAYS,
        )

    def silences_page(request: Request) -> Response:
        console.fresh()
        everything = request.query_params.get("all") == "1"
        silences = list(Silences.all(console.log, now=monitor.clock(), include_expired=everything))
        silences.sort(key=lambda s: s["starts"], reverse=True)
        return console.render(request, "silences.html", page="silences", silences=silences)

    async def live(request: Request) -> Response:
        try:
            after = max(0, int(request.query_params.get("after", "0")))
        except ValueError:
            after = 0
        last_id = request.headers.get("last-event-id", "")
        if last_id.isdigit():  # a reconnecting EventSource resumes where it was
            after = max(after, int(last_id))
        return StreamingResponse(
            _stream(console, after, heartbeat),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def asset(request: Request) -> Response:
        found = console.assets.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        body, kind = found
        return Response(body, media_type=kind, headers={"Cache-Control": "max-age=300"})

    def health(request: Request) -> Response:
        return PlainTextResponse(f"ok {console.log.head()}\n")

    # --- actions ------------------------------------------------------------------------------

    async def _authorised(request: Request) -> tuple[dict[str, str], Response | None]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        given = request.headers.get(TOKEN_HEADER) or form.get(TOKEN_FIELD)
        if console.token is None:
            return form, await run_in_threadpool(
                console.error,
                request,
                403,
                "Read-only console",
                "This console has no token configured, so it takes no actions; start it "
                "with `monitor serve --token-file FILE`.",
            )
        if not token_matches(console.token, given):
            return form, await run_in_threadpool(
                console.error,
                request,
                403,
                "Wrong token",
                "The action needs the console's token: enter it in the form's Token field.",
            )
        return form, None

    def _action(name: str, do: Callable[[Request, dict[str, str]], str]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            form, refused = await _authorised(request)
            if refused is not None:
                return refused
            try:
                target = await run_in_threadpool(do, request, form)
            except ConfigError as exc:
                return await run_in_threadpool(console.error, request, 400, "Not done", str(exc))
            return RedirectResponse(target, status_code=303)

        endpoint.__name__ = name
        return endpoint

    def _by(form: dict[str, str]) -> str:
        return (form.get("by") or "").strip()[:80] or "console"

    def acknowledge(request: Request, form: dict[str, str]) -> str:
        alert_id = request.path_params["alert_id"]
        done = monitor.acknowledge(alert_id, by=_by(form), note=form.get("note", "")[:500])
        return _back(alert_id, "Acknowledged." if done else "It was already acknowledged.")

    def feedback(request: Request, form: dict[str, str]) -> str:
        alert_id = request.path_params["alert_id"]
        verdict = form.get("verdict", "")
        if verdict not in VERDICTS:
            raise ConfigError(f"choose a verdict: {', '.join(VERDICTS)}")
        monitor.feedback(alert_id, verdict, note=form.get("note", "")[:500], by=_by(form))
        return _back(alert_id, f"Recorded: {verdict.replace('_', ' ')}.")

    def silence(request: Request, form: dict[str, str]) -> str:
        alert_id = request.path_params["alert_id"]
        matchers = [line.strip() for line in form.get("match", "").splitlines() if line.strip()]
        length = form.get("for", "").strip() or "6h"
        try:
            parse_duration(length)
        except ValueError as exc:
            raise ConfigError(f"For: {exc}") from None
        made = monitor.silence(
            match=matchers, duration=length, comment=form.get("comment", "")[:500], by=_by(form)
        )
        return _back(
            alert_id,
            f"Silence {made.silence_id} mutes {' '.join(map(str, made.matchers))} "
            f"until {format_time(made.ends)}.",
        )

    def expire(request: Request, form: dict[str, str]) -> str:
        ended = monitor.unsilence(request.path_params["silence_id"], by=_by(form))
        return "/silences?" + urlencode({"done": f"Silence {ended.silence_id} ended."})

    routes = [
        Route("/", _sync(alerts_page)),
        Route("/alerts/{alert_id}", _sync(alert_page)),
        Route("/items/{item_id}", _sync(item_page)),
        Route("/search", _sync(search_page)),
        Route("/feeds", _sync(feeds_page)),
        Route("/rules", _sync(rules_page)),
        Route("/charts", _sync(charts_page)),
        Route("/silences", _sync(silences_page)),
        Route("/live", live),
        Route("/static/{name}", asset),
        Route("/healthz", health),
        Route("/alerts/{alert_id}/ack", _action("ack", acknowledge), methods=["POST"]),
        Route("/alerts/{alert_id}/feedback", _action("feedback", feedback), methods=["POST"]),
        Route("/alerts/{alert_id}/silence", _action("silence", silence), methods=["POST"]),
        Route("/silences/{silence_id}/expire", _action("expire", expire), methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        console.live.stop()
        console.catch_up.stop()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Starlette's error middleware answers a crash outside every other middleware: this
        # handler gives that page the security headers too.
        exception_handlers={500: _server_error},
    )
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(_SecurityHeaders)  # outermost: a refused Host gets the headers too
    app.state.console = console
    return app


async def _server_error(request: Request, exc: Exception) -> Response:
    """A plain 500 page with the security headers (the error is logged by the server)."""
    return PlainTextResponse(
        "internal error: the console could not build this page; see the server's log",
        status_code=500,
        headers=SECURITY_HEADERS,
    )


def _sync(page: Callable[[Request], Response]) -> Callable[[Request], Any]:
    """Run a blocking page function in the thread pool (the log is blocking)."""

    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(page, request)

    endpoint.__name__ = page.__name__
    return endpoint


def _back(alert_id: str, message: str) -> str:
    return f"/alerts/{quote(alert_id, safe='')}?" + urlencode({"done": message})


def _search_filters(params: dict[str, str], monitor: Monitor) -> Filters:
    def when(name: str) -> datetime | None:
        value = (params.get(name) or "").strip()
        if not value:
            return None
        try:
            return monitor.clock() - timedelta(seconds=parse_duration(value, unit_required=True))
        except ValueError:
            pass
        parsed = parse_time(value)
        if parsed is None:  # pragma: no cover: parse_time raises on bad text
            raise ConfigError(f"{name}: give a date (2026-03-01) or a duration ago (7d)")
        return parsed

    def entity(kind: str) -> str | None:
        value = (params.get(kind) or "").strip()
        return entity_id(kind, value, monitor.ruleset) if value else None

    try:
        since, until = when("since"), when("until")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"since/until: {exc}; give 2026-03-01 or 7d") from None
    return Filters(
        since=since,
        until=until,
        feed=(params.get("feed") or "").strip() or None,
        lang=(params.get("lang") or "").strip() or None,
        place=entity("place"),
        actor=entity("actor"),
        rule=(params.get("rule") or "").strip() or None,
    )


async def _stream(console: _Console, after: int, heartbeat: float) -> AsyncIterator[str]:
    """The Server-Sent Events of one page: the alerts after `after`, then each new one, with
    a heartbeat comment when idle and ``event: reload`` when the page fell too far behind."""
    sub = console.live.subscribe()
    try:
        yield "retry: 3000\n\n"
        if after < sub.start:
            backlog = await run_in_threadpool(
                lambda: list(
                    _limited(
                        read_alerts(console.log, after, sub.start, clean_text, console.headline)
                    )
                )
            )
            if len(backlog) > BACKLOG:
                yield "event: reload\ndata: {}\n\n"
                return
            for message in backlog:
                yield _sse(message)
        while True:
            try:
                message = await asyncio.wait_for(sub.queue.get(), heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if message is OVERFLOW:
                yield "event: reload\ndata: {}\n\n"
                return
            if message["position"] > after:
                yield _sse(message)
    finally:
        console.live.unsubscribe(sub)


def _limited(messages: Any) -> Any:
    for n, message in enumerate(messages):
        yield message
        if n >= BACKLOG:  # one past the limit says "too many"
            return


def _sse(message: dict[str, Any]) -> str:
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return f"id: {message['position']}\nevent: alert\ndata: {data}\n\n"


class _SecurityHeaders:
    """Pure ASGI middleware adding `SECURITY_HEADERS` and a ``Server-Timing: app;dur=MS``
    header (the time from the request to the response's start: what the benchmark and a
    browser's developer tools read) to every response. It does not buffer, so the live
    stream flows."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1e3
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"server-timing", f"app;dur={took:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
