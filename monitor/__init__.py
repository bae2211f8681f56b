"""news-monitor: watch news feeds, keep every item in an append-only event log, and flag what
matters with declarative rules.

The front door is `Monitor` (see `monitor.app`); the layers beneath it are importable on their
own: `monitor.events`, `monitor.log`, `monitor.projections`, `monitor.rules`, `monitor.feeds`,
`monitor.alerts`.
"""

from .errors import (
    ConfigError,
    FeedError,
    LogError,
    MonitorError,
    RuleError,
    SinkError,
    SourceLocation,
)
from .events import (
    AlertRaised,
    Event,
    Evidence,
    FeedFailed,
    FeedPolled,
    ItemReceived,
    RulesetLoaded,
    item_id,
)
from .log import EventLog, open_log

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # `Monitor` wires feeds (httpx, feedparser) and alerts; importing it lazily keeps
    # `import monitor.events` or `monitor.log` free of those dependencies.
    if name == "Monitor":
        from .app import Monitor

        return Monitor
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")


__all__ = [
    "AlertRaised",
    "ConfigError",
    "Event",
    "EventLog",
    "Evidence",
    "FeedError",
    "FeedFailed",
    "FeedPolled",
    "ItemReceived",
    "LogError",
    "Monitor",
    "MonitorError",
    "RuleError",
    "RulesetLoaded",
    "SinkError",
    "SourceLocation",
    "__version__",
    "item_id",
    "open_log",
]
