"""`monitor watch --sinks FILE --metrics HOST:PORT`: delivery and metrics beside the polls.

`WatchServices` bundles what runs next to the watcher's polls:

* a `DeliveryService` that delivers the log's alerts to the sinks of ``--sinks`` from one thread
  per sink, reloaded with the rules and the feed list (a file change or SIGHUP; all-or-nothing:
  a sinks file that does not load keeps the running sinks), and drained on exit for at most
  ``--drain-timeout``;
* `WatchMetrics`, `Health` and a `MetricsServer` on ``--metrics`` (off by default), fed by the
  poll, evaluation and delivery hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._durations import parse_duration
from ..alerts import DeliveryService, load_sinks
from ..app import Monitor
from ..feeds import PollReport
from ..metrics import Health, MetricsServer, WatchMetrics, parse_address
from ._options import Duration, InputFile

__all__ = ["WatchServices", "service_options"]

_log = logging.getLogger("monitor.watch")


def _duration(value: str | float, option: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def service_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --sinks, --drain-timeout, --metrics and --unhealthy-after."""
    options = [
        click.option(
            "--sinks",
            type=InputFile("sinks file"),
            default=None,
            help="Deliver alerts to the sinks in this YAML file (reloaded with the rules).",
        ),
        click.option(
            "--drain-timeout",
            default="10s",
            show_default=True,
            type=Duration(),
            metavar="DURATION",
            help="On exit, deliver what is pending for at most this long.",
        ),
        click.option(
            "--metrics",
            default=None,
            metavar="HOST:PORT",
            help="Serve Prometheus /metrics and /healthz here (e.g. 127.0.0.1:9464). Off "
            "by default; keep it on loopback or behind a proxy.",
        ),
        click.option(
            "--unhealthy-after",
            default="30m",
            show_default=True,
            type=Duration(),
            metavar="DURATION",
            help="/healthz fails when every feed has been failing for longer than this.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


class WatchServices:
    """Delivery and metrics for one `monitor watch` run (see the module docstring).

    Everything is checked in the constructor (the sinks file loads, durations parse, the
    address is well formed), so a mistake stops the command before any feed is polled.
    """

    def __init__(
        self,
        monitor: Monitor,
        *,
        sinks: str | None,
        drain_timeout: str | float,
        metrics: str | None,
        unhealthy_after: str | float,
        console_write: Callable[[str], None] | None = None,
    ) -> None:
        self.monitor = monitor
        self.sinks_path = sinks
        self.drain_timeout = _duration(drain_timeout, "--drain-timeout")
        self._console_write = console_write
        self.metrics: WatchMetrics | None = None
        self.health: Health | None = None
        self.server: MetricsServer | None = None
        if metrics is not None:
            try:
                host, port = parse_address(metrics)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--metrics") from None
            self.metrics = WatchMetrics(monitor.log)
            self.health = Health(
                monitor.log, unhealthy_after=_duration(unhealthy_after, "--unhealthy-after")
            )
            self.server = MetricsServer(host, port, self.metrics.registry, self.health)
            monitor.on_evaluated = self.metrics.observe_evaluation
        self.delivery: DeliveryService | None = None
        if sinks is not None:
            self.delivery = self._delivery(sinks)

    def _delivery(self, sinks_path: str) -> DeliveryService:
        return DeliveryService(
            self.monitor.log,
            load_sinks(sinks_path, console_write=self._console_write),
            clock=self.monitor.clock,
            on_result=self.metrics.observe_delivery if self.metrics else None,
        )

    @property
    def watch_paths(self) -> list[Path]:
        """Files whose changes should trigger a reload: the sinks file."""
        return [Path(self.sinks_path)] if self.sinks_path else []

    def start(self) -> None:
        """Serve metrics (raising ClickException when the address cannot be bound) and start
        delivering."""
        if self.server is not None:
            try:
                self.server.start()
            except OSError as exc:
                host, port = self.server.host, self.server.port
                raise click.ClickException(f"cannot serve metrics on {host}:{port}: {exc}") from exc
            host, port = self.server.address
            _log.info("metrics on http://%s:%d/metrics, health on /healthz", host, port)
        if self.delivery is not None:
            self.delivery.start()
            names = ", ".join(s.name for s in self.delivery.sinks) or "none"
            _log.info("delivering alerts to: %s", names)

    def on_poll(self, report: PollReport) -> None:
        """The poll hook: count the poll and note the feed's health."""
        if self.metrics is not None:
            self.metrics.observe_poll(report)
        if self.health is not None:
            self.health.observe_poll(report)

    def use_sinks_file(self, path: str | None) -> None:
        """Switch to another sinks file (a reloaded monitor.yaml named a new one): start
        delivering if nothing was, and let `reload` read the new file. None is refused with a
        log line: stopping delivery needs a restart, so no alert is dropped by an edit."""
        if path == self.sinks_path:
            return
        if path is None:
            _log.warning("sinks are no longer configured; keep delivering until a restart")
            return
        if self.delivery is None:
            try:
                self.delivery = self._delivery(path)
            except Exception as exc:  # the watcher must survive a bad edit
                _log.error("sinks in %s not loaded, not delivering: %s", path, exc)
                return
            self.sinks_path = path
            self.delivery.start()
            _log.info("delivering alerts to: %s", ", ".join(s.name for s in self.delivery.sinks))
            return
        self.sinks_path = path

    def reload(self) -> None:
        """Reload the sinks file; on any error keep the running sinks and log why."""
        if self.delivery is None or self.sinks_path is None:
            return
        try:
            sinks = load_sinks(self.sinks_path, console_write=self._console_write)
        except Exception as exc:  # the watcher must survive a bad edit
            _log.error(
                "sinks in %s not reloaded, keeping the running sinks: %s", self.sinks_path, exc
            )
            return
        added, removed, changed = self.delivery.replace(sinks, timeout=self.drain_timeout)
        if added or removed or changed:
            _log.info(
                "sinks reloaded from %s: %d added, %d removed, %d changed",
                self.sinks_path,
                added,
                removed,
                changed,
            )

    def stop(self) -> None:
        """Deliver what is pending (within --drain-timeout), then stop serving metrics."""
        if self.delivery is not None:
            if not self.delivery.shutdown(self.drain_timeout):
                _log.warning("delivery stopped before every sink caught up")
            else:
                _log.info("delivery stopped")
        if self.server is not None:
            self.server.stop()
        if self.health is not None:
            self.health.close()
