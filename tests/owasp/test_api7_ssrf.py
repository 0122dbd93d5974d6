"""OWASP API7:2023 Server Side Request Forgery: webhook URLs.

The one place Backcare fetches a URL a caller chose is webhook delivery (practice/webhooks.py).
A URL is vetted when a subscription is created or changed and again before every delivery
(`check_url`): http(s) only, and every address the host resolves to must be public: loopback,
private, link-local (cloud metadata 169.254.169.254), shared (100.64/10, 100.100.100.200),
unspecified, reserved and multicast space are refused, in any spelling (IPv6, IPv4-mapped,
decimal, hex, octal, short forms), and so are IPv6 addresses that carry such an IPv4 address
(6to4 2002::/16, NAT64 64:ff9b::/96, Teredo). Redirects are never followed (a 3xx is a failed
delivery), answers are read up to 64 KiB with a 5 s timeout. WEBHOOK_ALLOW_PRIVATE_HOSTS (off by
default) lifts the address rule for local testing only.

Delivery connects to the address the check vetted (DNS rebinding: a name answering a public
address to the check and an internal one to the connection reaches the public one).

Holes found and fixed here: a delivery resolved the name a second time to connect (rebinding);
6to4 addresses embedding a private IPv4 (`http://[2002:7f00:1::]/`,
`http://[2002:a9fe:a9fe::]/` for 127.0.0.1 and the metadata address) passed the check, since
Python's `ipaddress` calls 2002::/16 global.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from practice import webhooks
from practice.models import WebhookSubscription
from tests.factories import WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

HOOKS = "/api/v1/webhooks/"

REFUSED_HOSTS = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",  # AWS/GCP/Azure instance metadata
    "100.100.100.200",  # Alibaba metadata, shared address space
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - it is the point
    "224.0.0.1",
    "240.0.0.1",
    "198.18.0.1",  # benchmarking space
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd00:ec2::254]",  # AWS IPv6 metadata
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[0:0:0:0:0:ffff:a9fe:a9fe]",
    "[::127.0.0.1]",
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254
    "[2002:c0a8:1::]",  # 6to4 of 192.168.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[64:ff9b::7f00:1]",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
    "localhost",
    "localhost.",
]

# Spellings a URL validator may already refuse; the address rule must hold on its own too.
ODD_SPELLINGS = [
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "017700000001",
    "0177.0.0.1",
    "127.1",
    "0",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS + ODD_SPELLINGS)
def test_check_url_refuses_every_non_public_address_form(host):
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url(f"http://{host}/hook")
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url(f"https://{host}:8443/hook")


@pytest.mark.parametrize(
    "host",
    ["93.184.215.14", "[2606:2800:220:1:248:1893:25c8:1946]", "[2002:5db8:d70e::1]", "1.1.1.1"],
)
def test_check_url_accepts_public_addresses(host):
    webhooks.check_url(f"https://{host}/hook")  # does not raise


@pytest.mark.parametrize("host", REFUSED_HOSTS + ODD_SPELLINGS)
def test_subscribing_to_a_non_public_address_is_400_and_stores_nothing(owner, host):
    response = owner.api.post(
        HOOKS, {"url": f"http://{host}/hook", "events": ["client.created"]}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert [e["field"] for e in response.json()["errors"]] == ["url"]
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://93.184.215.14/",
        "ftp://93.184.215.14/",
        "dict://1.1.1.1:11211/",
    ],
)
def test_only_http_schemes_are_fetched(url):
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url(url)


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    """DNS names are judged by what they resolve to: every answer must be public."""

    def resolve(host, port, *args, **kwargs):
        answers = ["93.184.215.14", "10.0.0.5"]  # one public, one private answer
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url("https://hooks.attacker.example/")


def test_a_stored_url_that_now_resolves_privately_is_not_contacted(monkeypatch, practice):
    """Vetted again at send time: a name that later points inside (DNS rebinding) is refused."""
    contacted = []
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))
        ],
    )
    monkeypatch.setattr(webhooks._OPENER, "open", lambda *a, **k: contacted.append(a))

    code, _, error = webhooks.post("https://hooks.partner.example/in", b"{}", {})

    assert code is None
    assert "non-public" in error
    assert contacted == []


class _Recording(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_POST(self):
        _Recording.hosts.append(self.headers["Host"])
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"internal data")

    def log_message(self, *args):
        pass


@pytest.fixture
def internal_server():
    """A service only this machine reaches (what a rebinding attacker aims at)."""
    _Recording.hosts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_dns_rebinding_between_the_check_and_the_connection_reaches_nothing_inside(
    monkeypatch, internal_server
):
    """The name answers a public address to the check, then 127.0.0.1: the delivery connects to
    the address that was checked, never to the second answer."""
    answers = iter(["93.184.215.14"])  # first answer public, every later one loopback

    def resolve(host, port, *args, **kwargs):
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    real_connect = socket.create_connection
    connected_to = []

    def connect(address, *args, **kwargs):
        connected_to.append(address[0])
        if address[0] == "93.184.215.14":  # the outside world: unreachable from the test
            raise OSError("Network is unreachable")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "create_connection", connect)

    code, snippet, error = webhooks.post(
        f"http://hooks.rebind.example:{internal_server}/in", b"{}", {}
    )

    assert (code, snippet) == (None, "")
    assert "unreachable" in error
    assert connected_to == ["93.184.215.14"]
    assert _Recording.hosts == []  # the internal service was never reached


def test_a_pinned_connection_still_names_the_host(internal_server):
    """Pinning changes where the socket goes, not the Host header (nor SNI and the certificate
    check for https, which use the same host name)."""
    opener = webhooks._pinned_opener("127.0.0.1")
    request = urllib.request.Request(
        f"http://hooks.partner.example:{internal_server}/in", data=b"{}", method="POST"
    )

    with opener.open(request, timeout=5) as response:
        assert response.status == 200

    assert _Recording.hosts == [f"hooks.partner.example:{internal_server}"]


class _Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):
        _Redirecting.hits.append(self.path)
        if self.path == "/start":
            self.send_response(307)
            self.send_header("Location", "/internal-only")
            self.end_headers()
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"internal data")

    def log_message(self, *args):
        pass


def test_redirects_are_not_followed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver is local; the redirect is the point
    _Redirecting.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        code, snippet, error = webhooks.post(f"http://127.0.0.1:{port}/start", b"{}", {})
    finally:
        server.shutdown()
        server.server_close()

    assert code == 307
    assert error
    assert "internal data" not in snippet
    assert _Redirecting.hits == ["/start"]


def test_private_hosts_are_refused_unless_the_deployment_allows_them(settings):
    assert settings.WEBHOOK_ALLOW_PRIVATE_HOSTS is False
    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url("http://10.0.0.1/hook")

    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    webhooks.check_url("http://10.0.0.1/hook")


def test_patching_a_subscription_to_a_metadata_address_is_refused(owner, practice):
    hook = WebhookSubscriptionFactory(practice=practice, url="https://93.184.215.14/in")

    response = owner.api.patch(
        f"{HOOKS}{hook.pk}/", {"url": "http://[::ffff:169.254.169.254]/latest/"}, format="json"
    )

    assert response.status_code == 400, response.content
    hook.refresh_from_db()
    assert hook.url == "https://93.184.215.14/in"
