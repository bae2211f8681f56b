"""Projections: named, versioned folds of the event log into queryable views.

A `Projection` folds events into JSON values under string keys, stored in the log's own
database; a `ProjectionRunner` catches projections up page by page, committing each page's
state together with the checkpoint in one transaction, so the effect is exactly-once after any
crash and a rebuild from position 0 equals the incremental result. The built-in views
(`FeedStatus`, `ItemsByFeedDay`, `ItemVersions`, `AlertTimeline`, `RuleHits`,
`EntityMentions`, `Stories`) expose query class methods that take the log and read it a page
of keys at a time.

Example::

    runner = ProjectionRunner(log)          # the built-in projections
    runner.run()                            # catch up
    FeedStatus.get(log, "reuters-world")    # query
"""

from ._alerts import AlertTimeline, RuleHits
from ._base import Projection, StateView, iter_from, iter_scan, key, sortable_time, utc_day
from ._builtins import BUILTIN_PROJECTIONS, builtin_projections
from ._entities import EntityMentions
from ._feeds import FEED_STATUS_KEYS, FeedStatus, ItemsByFeedDay
from ._items import ItemVersions
from ._parallel import rebuild_in_processes
from ._runner import DEFAULT_PAGE_SIZE, ProgressCallback, ProjectionRunner, ProjectionStatus
from ._silences import Silences
from ._stories import Stories

__all__ = [
    "BUILTIN_PROJECTIONS",
    "DEFAULT_PAGE_SIZE",
    "FEED_STATUS_KEYS",
    "AlertTimeline",
    "EntityMentions",
    "FeedStatus",
    "ItemVersions",
    "ItemsByFeedDay",
    "ProgressCallback",
    "Projection",
    "ProjectionRunner",
    "ProjectionStatus",
    "RuleHits",
    "Silences",
    "StateView",
    "Stories",
    "builtin_projections",
    "iter_from",
    "iter_scan",
    "key",
    "rebuild_in_processes",
    "sortable_time",
    "utc_day",
]
