"""The address guard: internal destinations are refused, on the first request and every redirect.

There is no network here, so "public" cannot be a real public host. The tests allow exactly
127.0.0.1 (where the test server listens) and show that every *other* internal address is refused:
another loopback address (127.0.0.2, ::1), a name that resolves to 169.254.169.254 or to a mix
of allowed and refused addresses. Name resolution is replaced by patching
``socket.getaddrinfo`` itself, so a connect that resolved the name again would see the patched
answer too: what is tested is what runs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer as PytestHTTPServer

from monitor.cli import cli
from monitor.errors import ConfigError, FeedError
from monitor.feeds import FeedConfig, Fetcher, load_feeds, poll_feed
from monitor.feeds._netguard import AddressPolicy, address_problem

from .conftest import LOCAL, rss, wire_items

_real_getaddrinfo = socket.getaddrinfo


def fake_dns(monkeypatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Patch ``socket.getaddrinfo``: each name in `answers` gets its next answer (the last one
    repeats); other names resolve for real. Returns the names looked up, in order."""
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        asked.append(host)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        out = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def internal(httpserver):
    """A second server on 127.0.0.2, same port as `httpserver`: the "internal" host."""
    server = PytestHTTPServer(host="127.0.0.2", port=httpserver.port)
    server.expect_request("/secret").respond_with_data(rss(wire_items(1, start=99)))
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback, inside the IPv6 address"),
        ("::ffff:169.254.169.254", "link-local, inside the IPv6 address"),
        ("64:ff9b::a00:1", "private, inside the IPv6 address"),
        ("2002:7f00:1::", "loopback, inside the IPv6 address"),
    ],
)
def test_non_public_addresses_are_named(address, problem):
    """Each internal category, IPv4 and IPv6 (embedded IPv4 included), is refused by name."""
    assert address_problem(ipaddress.ip_address(address)) == problem
    assert AddressPolicy().problem(ipaddress.ip_address(address)) == problem


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "151.101.1.69", "2606:4700::1111"])
def test_public_addresses_pass(address):
    """Public unicast addresses have no problem under the default policy."""
    assert AddressPolicy().problem(ipaddress.ip_address(address)) is None


def test_an_allowed_network_covers_its_addresses_only():
    """`allow` lets exactly its networks through (an IPv4-mapped form included)."""
    policy = AddressPolicy((ipaddress.ip_network("127.0.0.1/32"),))
    assert policy.problem(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.problem(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert policy.problem(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert policy.problem(ipaddress.ip_address("::1")) == "loopback"


def test_the_default_fetcher_refuses_a_loopback_feed(httpserver):
    """With no allowance the first request to 127.0.0.1 is refused before connecting."""
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(1)))
    with Fetcher(trust_env=False) as fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "blocked_address"
    assert "127.0.0.1" in str(info.value) and "loopback" in str(info.value)
    assert len(httpserver.log) == 0


def test_an_allowance_lets_the_local_server_be_fetched(httpserver):
    """The same fetch succeeds when 127.0.0.1 is allowed, by the fetcher or for one fetch."""
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(1)))
    with Fetcher(trust_env=False, allow_networks=LOCAL) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/feed.xml")).status == 200
    with Fetcher(trust_env=False) as fetcher:
        result = fetcher.fetch(httpserver.url_for("/feed.xml"), allow_networks=["127.0.0.0/8"])
        assert result.status == 200
        with pytest.raises(FeedError):  # the per-fetch allowance does not stick
            fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert len(httpserver.log) == 2


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/secret", "http://[::1]:{port}/x"])
def test_a_redirect_to_another_internal_address_is_refused(httpserver, internal, target):
    """A 302 from the allowed host to a loopback address it does not allow is not followed."""
    location = target.format(port=httpserver.port)
    httpserver.expect_request("/feed.xml").respond_with_data(
        "", status=302, headers={"Location": location}
    )
    fetcher = Fetcher(trust_env=False, allow_networks=LOCAL)
    with fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "blocked_address" and "loopback" in str(info.value)
    assert len(httpserver.log) == 1 and len(internal.log) == 0


def test_a_redirect_to_a_name_for_the_metadata_service_is_refused(httpserver, monkeypatch):
    """The check runs after DNS: a name resolving to 169.254.169.254 is refused on redirect."""
    asked = fake_dns(monkeypatch, {"metadata.test": [["169.254.169.254"]]})
    httpserver.expect_request("/feed.xml").respond_with_data(
        "", status=302, headers={"Location": "http://metadata.test/latest/meta-data/"}
    )
    fetcher = Fetcher(trust_env=False, allow_networks=LOCAL)
    with fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch(httpserver.url_for("/feed.xml"))
    assert info.value.kind == "blocked_address"
    assert "'metadata.test' (169.254.169.254)" in str(info.value) and "link-local" in str(
        info.value
    )
    assert asked == ["metadata.test"]


def test_a_name_with_one_refused_address_among_allowed_ones_is_refused(httpserver, monkeypatch):
    """Every resolved address is checked: one internal address among good ones refuses all."""
    fake_dns(monkeypatch, {"mixed.test": [["127.0.0.1", "10.0.0.7"]]})
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(1)))
    fetcher = Fetcher(trust_env=False, allow_networks=LOCAL)
    with fetcher, pytest.raises(FeedError) as info:
        fetcher.fetch(f"http://mixed.test:{httpserver.port}/feed.xml")
    assert info.value.kind == "blocked_address" and "10.0.0.7" in str(info.value)
    assert len(httpserver.log) == 0


def test_dns_rebinding_cannot_move_the_connection(httpserver, internal, monkeypatch):
    """A name that answers 127.0.0.1 (allowed) and then 127.0.0.2 (refused) is resolved once and
    the connection goes to the vetted 127.0.0.1: the internal server sees nothing."""
    asked = fake_dns(monkeypatch, {"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    httpserver.expect_request("/secret").respond_with_data(rss(wire_items(2)))
    with Fetcher(trust_env=False, allow_networks=LOCAL) as fetcher:
        result = fetcher.fetch(f"http://rebind.test:{httpserver.port}/secret")
    assert result.status == 200 and b"wire-1" in result.body
    assert asked == ["rebind.test"]
    assert len(httpserver.log) == 1 and len(internal.log) == 0


def test_a_refusal_is_a_failed_poll_with_a_clear_message(httpserver, log):
    """poll_feed records the refusal as FeedFailed (kind blocked_address), never raising."""
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(1)))
    feed = FeedConfig(id="wire", url=httpserver.url_for("/feed.xml"), interval=600)
    with Fetcher(trust_env=False) as fetcher:
        report = poll_feed(log, feed, None, fetcher=fetcher, clock=lambda: dt.datetime.now(dt.UTC))
        assert not report.ok and report.error_kind == "blocked_address"
        allowed = FeedConfig(
            id="wire2", url=httpserver.url_for("/feed.xml"), interval=600, allow_networks=LOCAL
        )
        report = poll_feed(
            log, allowed, None, fetcher=fetcher, clock=lambda: dt.datetime.now(dt.UTC)
        )
        assert report.ok and report.new_items == 1
    failed = [e for _, e in log.iter_events(types=["FeedFailed"])]
    assert [(e.feed_id, e.error_kind) for e in failed] == [("wire", "blocked_address")]
    assert "allow_networks" in failed[0].message


def test_watch_once_and_feeds_status_show_the_refusal(tmp_path, httpserver):
    """`watch --once` reports the refused feed as failed (no traceback), `feeds status --json`
    names the kind and the fix, and the feed with `allow_networks` is fetched."""
    httpserver.expect_request("/feed.xml").respond_with_data(rss(wire_items(2)))
    url = httpserver.url_for("/feed.xml")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        f"  - {{id: refused, url: '{url}'}}\n"
        f"  - {{id: allowed, url: '{url}', allow_networks: [127.0.0.1/32]}}\n"
    )
    db = str(tmp_path / "m.db")
    runner = CliRunner()
    once = runner.invoke(cli, ["--db", db, "watch", "--once", "--json", "--no-rules",
                                "--feeds", str(feeds)])  # fmt: skip
    assert once.exit_code == 0 and "Traceback" not in once.output, once.output
    polls = {p["feed_id"]: p for p in json.loads(once.output)["polls"]}
    assert polls["refused"]["error_kind"] == "blocked_address" and polls["allowed"]["ok"]
    status = runner.invoke(cli, ["--db", db, "feeds", "status", "--json", "--feeds", str(feeds)])
    rows = {r["feed_id"]: r for r in json.loads(status.output)}
    assert rows["refused"]["last_error_kind"] == "blocked_address"
    assert "loopback" in rows["refused"]["last_error"]
    assert rows["allowed"]["items"] == 2


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        ("    allow_networks: [not-a-net]\n", 4, "not a network like"),
        ("    allow_networks: [0.0.0.0/0]\n", 4, "switch the guard off"),
        ("    allow_networks: [10.0.0.1/8]\n", 4, "host bits set"),
        ("    allow_networks: {a: 1}\n", 4, "must be a list"),
    ],
)
def test_bad_allow_networks_name_the_line(tmp_path, entry, line, message):
    """A wrong `allow_networks` stops the load with file:line and what to write instead."""
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - id: a\n    url: http://10.0.0.1/feed\n" + entry)
    with pytest.raises(ConfigError) as info:
        load_feeds(path)
    assert f":{line}:" in str(info.value) and message in str(info.value)


def test_allow_networks_in_defaults_apply_to_every_feed(tmp_path):
    """`defaults: allow_networks` reaches every feed that does not set its own."""
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "defaults: {allow_networks: [10.0.0.0/8]}\n"
        "feeds:\n"
        "  - {id: a, url: 'http://10.0.0.1/f'}\n"
        "  - {id: b, url: 'http://192.168.0.1/f', allow_networks: [192.168.0.0/24]}\n"
    )
    a, b = load_feeds(path).feeds
    assert a.allow_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert b.allow_networks == (ipaddress.ip_network("192.168.0.0/24"),)


def _tls_server(tmp_path, name: str):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for `name` only (no IP
    SAN); returns (server, CA file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    body = rss(wire_items(1))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, cert_file


def test_tls_checks_the_host_name_not_the_vetted_address(tmp_path, monkeypatch):
    """Connecting to the vetted IP keeps SNI and certificate checks on the URL's host name: a
    certificate for the name is accepted, and the same server under another name is not."""
    server, ca = _tls_server(tmp_path, "feed.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    fake_dns(monkeypatch, {"feed.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    port = server.server_address[1]
    try:
        with Fetcher(trust_env=True, allow_networks=LOCAL) as fetcher:
            assert fetcher.fetch(f"https://feed.test:{port}/feed.xml").status == 200
            with pytest.raises(FeedError) as info:
                fetcher.fetch(f"https://other.test:{port}/feed.xml")
        assert info.value.kind == "connection" and "other.test" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()
