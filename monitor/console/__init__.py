"""The analyst console: a small web application over the log (``monitor serve``).

Live alerts (Server-Sent Events), an alert's items with their evidence, revisions, sightings,
story and correlation, search with the CLI's query language, feed health, rules with hits over
time and precision from analyst feedback, and silences. Server-rendered HTML with one script
file and one style file served by the app itself: it works offline and under a strict
Content-Security-Policy. Read-only unless started with a token; then the actions (acknowledge,
verdict, silence) append events to the log.

Example::

    import uvicorn
    from monitor import Monitor
    from monitor.console import create_app

    with Monitor.open("news.db", rules="default") as m:
        uvicorn.run(create_app(m, token="s3cret"), host="127.0.0.1", port=8080)

Dependencies: console imports app, alerts, alerting, projections, search, rules, log and
events; only the CLI imports it.
"""

from ._app import HEARTBEAT, MAX_LIMIT, create_app
from ._feedback import AlertReview, precision
from ._live import BACKLOG, OVERFLOW, Broadcaster, Subscription, alert_message, read_alerts
from ._safety import CSP, SECURITY_HEADERS, TOKEN_FIELD, TOKEN_HEADER, neutralise, token_matches

__all__ = [
    "BACKLOG",
    "CSP",
    "HEARTBEAT",
    "MAX_LIMIT",
    "OVERFLOW",
    "SECURITY_HEADERS",
    "TOKEN_FIELD",
    "TOKEN_HEADER",
    "AlertReview",
    "Broadcaster",
    "Subscription",
    "alert_message",
    "create_app",
    "neutralise",
    "precision",
    "read_alerts",
    "token_matches",
]
