"""`poll_feed` end to end against a local server: what each outcome leaves in the log, and how
the feed-status projection's `FeedState` drives the next poll (validators, moves, backoff)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.feeds import FeedConfig, FeedState, backoff_delay, poll_feed
from monitor.projections import FEED_STATUS_KEYS, FeedStatus, ProjectionRunner

from .conftest import SAMPLES, rss, wire_items

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def state_of(log, feed_id: str) -> FeedState | None:
    """Fold the log with the real feed-status projection and rebuild the poller's state."""
    ProjectionRunner(log, [FeedStatus()]).run()
    stored = FeedStatus.get(log, feed_id)
    return FeedState(**stored) if stored else None


def events(log, *types: str):
    return [e for _, e in log.iter_events(types=types or None)]


def poll(log, feed, fetcher, **kw):
    return poll_feed(log, feed, state_of(log, feed.id), fetcher=fetcher, clock=clock, **kw)


def http_feed(server, path="/feed.xml", **kw) -> FeedConfig:
    return FeedConfig(id="wire", url=server.url_for(path), interval=600, **kw)


def test_200_stores_items_and_feedpolled(httpserver, log, fetcher):
    """A 200 appends every item once, then a FeedPolled with the stored count and validators."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(wire_items(5)), content_type="application/rss+xml", headers={"ETag": '"a"'}
    )
    report = poll(log, http_feed(httpserver), fetcher)
    assert report.ok and report.status == 200 and report.new_items == 5 and report.seen_items == 5
    assert report.next_delay == 600
    assert [type(e).__name__ for e in events(log)] == ["ItemReceived"] * 5 + ["FeedPolled"]
    polled = events(log, "FeedPolled")[0]
    assert (polled.new_items, polled.etag, polled.status) == (5, '"a"', 200)


def test_same_items_served_again_store_nothing_new(httpserver, log, fetcher):
    """Re-serving the same items (no validators) stores no new ItemReceived: dedupe by id."""
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(4)))
    feed = http_feed(httpserver)
    poll(log, feed, fetcher)
    again = poll(log, feed, fetcher)
    assert again.ok and again.new_items == 0 and again.seen_items == 4
    assert len(events(log, "ItemReceived")) == 4


def test_new_items_among_old_ones_are_stored_alone(httpserver, log, fetcher):
    """A feed that gains two items stores exactly those two, whatever their dates."""
    feed = http_feed(httpserver)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(rss(wire_items(3)))
    poll(log, feed, fetcher)
    old_dated = wire_items(2, start=3)
    for item in old_dated:  # dated before the others: dedupe must not be by date
        item["pubDate"] = datetime(2020, 1, 1, tzinfo=UTC)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(rss(old_dated + wire_items(3)))
    assert poll(log, feed, fetcher).new_items == 2
    assert len(events(log, "ItemReceived")) == 5


def test_items_without_guid_are_stored_once(httpserver, log, fetcher):
    """Items with neither guid nor link are identified by their text and not duplicated."""
    items = [{"title": f"Untitled bulletin {i}", "description": "Plain text."} for i in range(3)]
    httpserver.expect_request("/feed.xml").respond_with_data(rss(items))
    feed = http_feed(httpserver)
    assert poll(log, feed, fetcher).new_items == 3
    assert poll(log, feed, fetcher).new_items == 0


def test_etag_roundtrip_gives_304(httpserver, log, fetcher):
    """The ETag from the first poll is sent on the next; a 304 that changes nothing is folded
    into a later heartbeat, not stored (see test_poll_volume)."""
    feed = http_feed(httpserver)
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data(
        b"", status=304
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(wire_items(2)), headers={"ETag": '"v1"'}
    )
    poll(log, feed, fetcher)
    report = poll(log, feed, fetcher)
    assert report.ok and report.status == 304 and report.new_items == 0
    assert [e.status for e in events(log, "FeedPolled")] == [200]
    assert report.state.unrecorded == 1 and report.state.etag == '"v1"'


def test_last_modified_roundtrip_gives_304(httpserver, log, fetcher):
    """Last-Modified from the first poll comes back as If-Modified-Since and earns a 304."""
    stamp = "Sun, 01 Mar 2026 10:00:00 GMT"
    feed = http_feed(httpserver)
    httpserver.expect_request("/feed.xml", headers={"If-Modified-Since": stamp}).respond_with_data(
        b"", status=304
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(wire_items(2)), headers={"Last-Modified": stamp}
    )
    poll(log, feed, fetcher)
    assert poll(log, feed, fetcher).status == 304
    assert state_of(log, "wire").last_modified == stamp


def test_301_records_a_move_and_later_polls_use_the_new_url(httpserver, log, fetcher):
    """A permanent redirect appends FeedMoved; the next poll goes straight to the new URL."""
    httpserver.expect_request("/old.xml").respond_with_data(
        b"", status=301, headers={"Location": "/new.xml"}
    )
    httpserver.expect_request("/new.xml").respond_with_data(rss(wire_items(2)))
    feed = http_feed(httpserver, "/old.xml")
    poll(log, feed, fetcher)
    [moved] = events(log, "FeedMoved")
    assert moved.new_url == httpserver.url_for("/new.xml")
    assert state_of(log, "wire").url == httpserver.url_for("/new.xml")
    httpserver.clear_log()
    report = poll(log, feed, fetcher)
    assert report.ok and report.url == httpserver.url_for("/new.xml")
    assert [r.path for r, _ in httpserver.log] == ["/new.xml"]


def test_an_edited_url_wins_over_an_earlier_move(httpserver, log, fetcher):
    """After a move, a feed list edited to name a third URL is polled there, not at the old
    move's target."""
    httpserver.expect_request("/old.xml").respond_with_data(
        b"", status=301, headers={"Location": "/new.xml"}
    )
    httpserver.expect_request("/new.xml").respond_with_data(rss(wire_items(2)))
    httpserver.expect_request("/edited.xml").respond_with_data(rss(wire_items(3)))
    poll(log, http_feed(httpserver, "/old.xml"), fetcher)
    assert state_of(log, "wire").moved_from == httpserver.url_for("/old.xml")
    httpserver.clear_log()
    report = poll(log, http_feed(httpserver, "/edited.xml"), fetcher)
    assert report.ok and report.url == httpserver.url_for("/edited.xml")
    assert [r.path for r, _ in httpserver.log] == ["/edited.xml"]
    state = state_of(log, "wire")
    assert (state.url, state.moved_from) == (httpserver.url_for("/edited.xml"), None)


def test_302_does_not_move_the_feed(httpserver, log, fetcher):
    """A temporary redirect is followed without a FeedMoved."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        b"", status=302, headers={"Location": "/today.xml"}
    )
    httpserver.expect_request("/today.xml").respond_with_data(rss(wire_items(1)))
    assert poll(log, http_feed(httpserver), fetcher).new_items == 1
    assert events(log, "FeedMoved") == []


def test_404_is_a_feedfailed_with_backoff(httpserver, log, fetcher):
    """A 404 appends FeedFailed(kind http_status, status 404, attempt 1) and backs off."""
    httpserver.expect_request("/feed.xml").respond_with_data(b"", status=404)
    report = poll(log, http_feed(httpserver), fetcher, rng=random.Random(1))
    [failed] = events(log, "FeedFailed")
    assert (failed.error_kind, failed.status, failed.attempt) == ("http_status", 404, 1)
    assert not report.ok and report.next_delay is not None and report.next_delay >= 480


def test_410_disables_the_feed_and_it_is_not_fetched_again(httpserver, log, fetcher):
    """A 410 appends FeedFailed + FeedDisabled; the next poll does not touch the network."""
    httpserver.expect_request("/feed.xml").respond_with_data(b"", status=410)
    feed = http_feed(httpserver)
    report = poll(log, feed, fetcher)
    assert report.next_delay is None and report.error_kind == "gone"
    assert len(events(log, "FeedDisabled")) == 1
    assert state_of(log, "wire").disabled
    httpserver.clear_log()
    again = poll(log, feed, fetcher)
    assert not again.ok and again.error_kind == "disabled" and again.next_delay is None
    assert len(httpserver.log) == 0


def test_429_honours_retry_after(httpserver, log, fetcher):
    """A 429 with Retry-After 3600 puts the next poll at least an hour away."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        b"", status=429, headers={"Retry-After": "3600"}
    )
    report = poll(log, http_feed(httpserver), fetcher)
    [failed] = events(log, "FeedFailed")
    assert failed.retry_after == 3600 and failed.error_kind == "rate_limited"
    assert report.next_delay >= 3600


def test_500_then_recovery_with_growing_backoff(httpserver, log, fetcher):
    """Consecutive 500s raise the attempt count and the backoff; a success resets both."""
    feed = http_feed(httpserver)
    rng = random.Random(7)
    for _ in range(3):
        httpserver.expect_oneshot_request("/feed.xml").respond_with_data(b"", status=500)
    delays = [poll(log, feed, fetcher, rng=rng).next_delay for _ in range(3)]
    assert [e.attempt for e in events(log, "FeedFailed")] == [1, 2, 3]
    assert delays[0] < delays[1] < delays[2]
    assert state_of(log, "wire").failures == 3
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(2)))
    report = poll(log, feed, fetcher, rng=rng)
    assert report.ok and report.next_delay == 600 and state_of(log, "wire").failures == 0


def test_backoff_delay_is_capped_and_jittered():
    """Backoff doubles per attempt within ±20 %, stops at the cap, and respects Retry-After."""
    rng = random.Random(3)
    assert 480 <= backoff_delay(600, 1, rng=rng) <= 720
    assert 960 <= backoff_delay(600, 2, rng=rng) <= 1440
    assert backoff_delay(600, 50, cap=3600, rng=rng) <= 3600 * 1.2
    assert backoff_delay(600, 1, retry_after=10_000, rng=rng) == 10_000
    assert backoff_delay(600, 1, retry_after=10**9, rng=rng) == 86400
    values = {round(backoff_delay(600, 3, rng=rng)) for _ in range(20)}
    assert len(values) > 1


def test_unparseable_body_is_a_parse_failure(httpserver, log, fetcher):
    """An HTML page instead of a feed is a FeedFailed(kind parse), nothing stored."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        b"<html><body>Maintenance</body></html>", content_type="text/html"
    )
    report = poll(log, http_feed(httpserver), fetcher)
    assert report.error_kind == "parse" and events(log, "ItemReceived") == []


def test_malformed_feed_is_stored_as_degraded(httpserver, log, fetcher):
    """A bozo feed with entries: its items are stored, FeedPolled is degraded with the problem."""
    body = rss(wire_items(3)).replace(b"Report 1:", b"Report 1 & more:")
    httpserver.expect_request("/feed.xml").respond_with_data(body)
    report = poll(log, http_feed(httpserver), fetcher)
    [polled] = events(log, "FeedPolled")
    assert report.ok and report.degraded and polled.degraded and polled.problem
    assert report.new_items == 3
    assert state_of(log, "wire").degraded


def test_local_sample_feed_is_read_from_disk(log, fetcher):
    """A `path:` feed is read from disk with status 0 and no network."""
    feed = FeedConfig(id="badia", path=SAMPLES / "badia_bulletin.rdf", interval=900)
    report = poll(log, feed, fetcher)
    assert report.ok and report.status == 0 and report.new_items == 14
    assert events(log, "FeedPolled")[0].url == str(SAMPLES / "badia_bulletin.rdf")


def test_missing_local_file_is_a_feedfailed(log, fetcher, tmp_path: Path):
    """A local feed file that disappeared becomes FeedFailed(kind io), never an exception."""
    feed = FeedConfig(id="gone", path=tmp_path / "nope.xml")
    report = poll(log, feed, fetcher)
    assert report.error_kind == "io" and len(events(log, "FeedFailed")) == 1


def test_disabled_in_config_is_not_polled(log, fetcher):
    """A feed switched off in the feed list is not fetched and nothing is appended."""
    feed = FeedConfig(id="off", url="https://wire.example/x", enabled=False)
    report = poll(log, feed, fetcher)
    assert report.error_kind == "disabled" and log.head() == 0


def test_unexpected_error_becomes_a_feedfailed(log, fetcher, monkeypatch):
    """A bug deep in parsing is recorded as FeedFailed(kind internal), not raised."""
    import monitor.feeds._poll as poll_module

    def boom(*args, **kwargs):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(poll_module, "parse_feed", boom)
    feed = FeedConfig(id="badia", path=SAMPLES / "badia_bulletin.rdf")
    report = poll(log, feed, fetcher)
    assert report.error_kind == "internal" and "parser exploded" in report.error


def test_feed_state_roundtrips_through_the_projection(httpserver, log, fetcher):
    """The projection stores exactly FeedState's fields, and to_dict() is its inverse."""
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(1)))
    poll(log, http_feed(httpserver), fetcher)
    state = state_of(log, "wire")
    assert set(state.to_dict()) == set(FEED_STATUS_KEYS)
    assert FeedState(**state.to_dict()) == state
    assert state.last_poll == NOW and state.items == 1 and state.polls == 1


@pytest.mark.parametrize("value", ["2026-03-01T12:00:00Z", "2026-03-01T12:00:00+00:00"])
def test_feed_state_accepts_iso_strings(value):
    """FeedState converts ISO-8601 strings to aware datetimes, and defaults the rest."""
    state = FeedState(feed_id="x", last_poll=value)
    assert state.last_poll == NOW and state.failures == 0 and not state.disabled


def test_a_200_without_validators_drops_the_old_ones(httpserver, log, fetcher):
    """When the server stops sending an ETag, the stale one is not sent again."""
    feed = http_feed(httpserver)
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(
        rss(wire_items(1)), headers={"ETag": '"old"'}
    )
    poll(log, feed, fetcher)
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(2)))
    poll(log, feed, fetcher)
    assert state_of(log, "wire").etag is None
    poll(log, feed, fetcher)
    assert "If-None-Match" not in httpserver.log[-1][0].headers
