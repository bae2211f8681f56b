"""The events that make up the log, and how they become bytes and back.

Every fact the system knows is one of these immutable events. Each type has a stable name and a
schema version; `encode` turns an event into canonical JSON (sorted keys, no insignificant
whitespace, UTC ISO-8601 times ending in ``Z``) so the same event always yields the same bytes,
which is what the log's hash chain is computed over. `decode` reverses it, upcasting records
written by older schema versions and refusing versions newer than this program knows.

Adding an event type: define an ``@event(name, version)`` frozen class with keyword-only fields
whose converters accept both Python values and their JSON forms (so ``cls(**json)`` works).
Changing one: bump its version and register an ``@upcaster(name, from_version)`` that rewrites the
old JSON mapping into the next version's shape.
"""

from ._codec import (
    Event,
    decode,
    encode,
    event,
    event_class,
    format_time,
    parse_time,
    registered_types,
    to_plain,
    upcaster,
)
from ._feedback import VERDICTS, AlertAcknowledged, AlertFeedback
from ._identity import canonical_url, item_id, normalize_url
from ._sightings import canonical_digest, item_canonical_url, sighting_of
from ._silences import (
    MATCH_KEYS,
    MATCH_OPS,
    Matcher,
    SilenceCreated,
    SilenceExpired,
    alert_values,
    check_match_key,
    parse_matcher,
    silence_applies,
)
from ._types import (
    AlertRaised,
    AlertSuperseded,
    AlertSuppressed,
    CheckpointSigned,
    EntitiesExtracted,
    Evidence,
    FeedDisabled,
    FeedFailed,
    FeedMoved,
    FeedPolled,
    FoldedMatch,
    ItemEntities,
    ItemReceived,
    ItemRevised,
    ItemSighted,
    Media,
    RepeatsFolded,
    RuleRef,
    RulesetLoaded,
    event_time,
)
from ._versions import content_hash, revised_item, revision_of

__all__ = [
    "MATCH_KEYS",
    "MATCH_OPS",
    "VERDICTS",
    "AlertAcknowledged",
    "AlertFeedback",
    "AlertRaised",
    "AlertSuperseded",
    "AlertSuppressed",
    "CheckpointSigned",
    "EntitiesExtracted",
    "Event",
    "Evidence",
    "FeedDisabled",
    "FeedFailed",
    "FeedMoved",
    "FeedPolled",
    "FoldedMatch",
    "ItemEntities",
    "ItemReceived",
    "ItemRevised",
    "ItemSighted",
    "Matcher",
    "Media",
    "RepeatsFolded",
    "RuleRef",
    "RulesetLoaded",
    "SilenceCreated",
    "SilenceExpired",
    "alert_values",
    "canonical_digest",
    "canonical_url",
    "check_match_key",
    "content_hash",
    "decode",
    "encode",
    "event",
    "event_class",
    "event_time",
    "format_time",
    "item_canonical_url",
    "item_id",
    "normalize_url",
    "parse_matcher",
    "parse_time",
    "registered_types",
    "revised_item",
    "revision_of",
    "sighting_of",
    "silence_applies",
    "to_plain",
    "upcaster",
]
