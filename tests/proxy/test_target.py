"""The guard's path rules: every known trick is refused, GitHub's real paths pass verbatim."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.target import Target, parse_target, split_reference, upstream_url
from shared.errors import PathRejected

API = "https://api.github.com"
GHES = "https://ghe.example.com/api/v3"

# (path, query, a fragment of the message naming the rule that must fire)
ATTACKS: list[tuple[str, str, str]] = [
    # Dot segments hidden behind encoded slashes: `/user` once GitHub decodes and resolves.
    ("/repos/a%2F..%2F..%2Fuser", "", ". or .."),
    ("/repos/a%2f.%2fb", "", ". or .."),
    ("/repos/a/b%2F%2E%2E", "", ". or .."),
    # Dot segments in every spelling.
    ("/repos/a/./b", "", ". or .."),
    ("/repos/a/../b", "", ". or .."),
    ("/repos/%2e%2e/user", "", ". or .."),
    ("/repos/%2E%2e/user", "", ". or .."),
    ("/repos/.%2E/x", "", ". or .."),
    ("/repos/%2e/x", "", ". or .."),
    ("/repos/a/..", "", ". or .."),
    ("/..", "", ". or .."),
    # Encoded `?`/`#`: GitHub would decode them into a query or fragment we never checked.
    ("/repos/a/b%3Fper_page=1", "", "encoded ? or #"),
    ("/repos/a/b%3fper_page=1", "", "encoded ? or #"),
    ("/repos/a%23b", "", "encoded ? or #"),
    # Another host or scheme.
    ("//evil.example/x", "", "empty segments"),
    ("/https://evil.example/", "", "scheme or host"),
    ("/https:", "", "scheme or host"),
    ("/evil.example:443/x", "", "scheme or host"),
    ("/%2F%2Fevil.example/x", "", "scheme or host"),
    ("/http%3A%2F%2Fevil.example", "", "scheme or host"),
    ("/@evil.example", "", "literal @"),
    ("/repos/a@evil.example/b", "", "literal @"),
    ("https://evil.example/x", "", "start with /"),
    ("evil.example", "", "start with /"),
    ("", "", "start with /"),
    # Backslashes, which some parsers read as `/`.
    ("/repos/a\\b", "", "backslash"),
    ("/\\evil.example", "", "backslash"),
    ("/repos/a%5Cb", "", "backslash"),
    ("/repos/a%5cb", "", "backslash"),
    # Control characters: truncation, header and log injection.
    ("/repos/a%00b", "", "control"),
    ("/repos/a%0d%0aHost:evil", "", "control"),
    ("/repos/a%0Ab", "", "control"),
    ("/repos/a%7Fb", "", "control"),
    ("/repos/a\r\nHost: evil", "", "printable ASCII"),
    ("/repos/a\x00b", "", "printable ASCII"),
    ("/repos/a\x7fb", "", "printable ASCII"),
    ("/repos/a\tb", "", "printable ASCII"),
    ("/repos/a b", "", "printable ASCII"),
    # Non-ASCII that a later layer might normalise (fullwidth dot, one-dot leader).
    ("/repos/caf\u00e9", "", "printable ASCII"),
    ("/repos/\uff0e\uff0e/user", "", "printable ASCII"),
    ("/repos/\u2024\u2024/user", "", "printable ASCII"),
    # Characters outside RFC 3986 that httpx would re-encode behind our back.
    ("/repos/a{b}", "", "must be percent-encoded"),
    ("/repos/a<b>", "", "must be percent-encoded"),
    ('/repos/a"b', "", "must be percent-encoded"),
    ("/repos/a`b", "", "must be percent-encoded"),
    ("/repos/a|b", "", "must be percent-encoded"),
    ("/repos/a[0]", "", "must be percent-encoded"),
    # Fragments and literal `?` in the path.
    ("/repos/a#frag", "", "fragment"),
    ("/repos/a?per_page=1", "", "the query is separate"),
    # Malformed escapes.
    ("/repos/%", "", "malformed"),
    ("/repos/%zz", "", "malformed"),
    ("/repos/%G1", "", "malformed"),
    ("/repos/%2", "", "malformed"),
    ("/repos/a%2/b", "", "malformed"),
    # Empty segments.
    ("/repos/a//b", "", "empty segments"),
    ("/repos/a/", "", "empty segments"),
    ("//", "", "empty segments"),
    # Length.
    ("/repos/" + "a" * 2048, "", "longer than 2048"),
    # Queries: credentials, control characters, fragments, malformed escapes, length.
    ("/user", "access_token=x", "credentials"),
    ("/user", "CLIENT_SECRET=y", "credentials"),
    ("/user", "code=z", "credentials"),
    ("/user", "page=1&client_id=abc", "credentials"),
    ("/user", "access%5Ftoken=x", "credentials"),
    ("/user", "Access_Token%5B%5D=x", "credentials"),
    ("/user", "+access_token+=x", "credentials"),
    ("/user", "page=1;access_token=x", "credentials"),
    ("/user", "access_token", "credentials"),
    ("/user", "a=%0d%0aX-Evil:1", "control"),
    ("/user", "a=1#frag", "fragment"),
    ("/user", "a=%zz", "malformed"),
    ("/user", "a=b c", "printable ASCII"),
    ("/user", 'q="quoted"', "must be percent-encoded"),
    ("/user", "q=<script>", "must be percent-encoded"),
    ("/user", "q=caf\u00e9", "printable ASCII"),
    ("/user", "q=" + "a" * 2048, "longer than 2048"),
]


@pytest.mark.parametrize(("path", "query", "rule"), ATTACKS)
def test_attacks_are_rejected_naming_the_rule(path: str, query: str, rule: str) -> None:
    with pytest.raises(PathRejected) as raised:
        parse_target(path, query)
    assert rule in raised.value.message
    assert raised.value.status == 400
    assert raised.value.code == "path_rejected"


@pytest.mark.parametrize(("path", "query", "rule"), ATTACKS)
def test_attacks_are_rejected_as_raw_bytes_too(path: str, query: str, rule: str) -> None:
    # What the HTTP app hands over: scope["raw_path"] and scope["query_string"].
    with pytest.raises(PathRejected):
        parse_target(path.encode("utf-8"), query.encode("utf-8"))


@pytest.mark.parametrize(("path", "query", "rule"), ATTACKS)
def test_attacks_cannot_reach_upstream_through_a_hand_built_target(
    path: str, query: str, rule: str
) -> None:
    with pytest.raises(PathRejected):
        upstream_url(API, Target(path, query))


def test_non_ascii_bytes_are_rejected() -> None:
    with pytest.raises(PathRejected, match="printable ASCII"):
        parse_target(b"/repos/\xc3\xa9")
    with pytest.raises(PathRejected, match="printable ASCII"):
        parse_target(b"/repos/a", b"q=\xff")


def test_rejection_messages_never_echo_a_credential() -> None:
    with pytest.raises(PathRejected) as raised:
        parse_target("/user", "access_token=ghp_SECRETSECRET")
    assert "ghp_SECRETSECRET" not in raised.value.message
    assert "ghp_SECRETSECRET" not in str(raised.value.as_json())


def test_the_api_root_is_accepted() -> None:
    target = parse_target(b"/")
    assert target == Target("/", "")
    assert str(upstream_url(API, target)) == "https://api.github.com/"


def test_an_encoded_slash_in_a_ref_is_forwarded_verbatim() -> None:
    target = parse_target(b"/repos/octo/hello/git/ref/heads%2Ffeature-x")
    assert target.path == "/repos/octo/hello/git/ref/heads%2Ffeature-x"
    url = upstream_url(API, target)
    assert b"heads%2Ffeature-x" in url.raw_path
    assert url.raw_path == b"/repos/octo/hello/git/ref/heads%2Ffeature-x"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/repositories/123/issues", "page=2&per_page=100"),
        ("/users/octocat", ""),
        ("/repos/o/r/contents/docs%40v1.md", ""),
        ("/repos/o/r/contents/%E2%9C%93%20done.md", "ref=main"),
        ("/repos/o/r/git/matching-refs/heads%2Frelease%2F", ""),
        ("/repos/o/r/compare/main...feature", ""),
        ("/repos/o/r/contents/.github/workflows/ci.yml", ""),
        ("/repos/o/r/contents/..hidden", ""),
        ("/search/issues", "q=repo:octo/hello+is:open+label:%22good%20first%20issue%22"),
        ("/search/code", "q=%23include+in:file"),
        ("/repos/o/r/issues", "state=all&sort=updated&direction=desc&since=2024-01-01T00:00:00Z"),
        ("/rate_limit", ""),
        ("/graphql", ""),
    ],
)
def test_real_github_paths_pass_unchanged(path: str, query: str) -> None:
    target = parse_target(path.encode("ascii"), query.encode("ascii"))
    assert target == Target(path, query)
    url = upstream_url(API, target)
    assert (url.scheme, url.host, url.port) == ("https", "api.github.com", None)
    assert url.raw_path == (target.path_and_query).encode("ascii")


def test_path_and_query() -> None:
    assert Target("/user", "").path_and_query == "/user"
    assert Target("/repositories/1/issues", "page=2").path_and_query == (
        "/repositories/1/issues?page=2"
    )


def test_canonical_sorts_query_parameters_on_their_raw_form() -> None:
    assert Target("/r", "b=2&a=1").canonical() == Target("/r", "a=1&b=2").canonical()
    assert Target("/r", "b=2&a=1").canonical() == "/r?a=1&b=2"
    assert Target("/r", "a=2&a=1").canonical() == "/r?a=1&a=2"
    assert Target("/r", "").canonical() == "/r"
    assert Target("/r", "a=1&&b=2&").canonical() == "/r?a=1&b=2"
    # Different requests stay different keys.
    assert Target("/r", "a=1").canonical() != Target("/r", "a=2").canonical()
    assert Target("/r", "a").canonical() != Target("/r", "a=").canonical()
    assert Target("/r", "a=%2F").canonical() != Target("/r", "a=/").canonical()
    assert Target("/r", "a=1").canonical() != Target("/s", "a=1").canonical()


def test_ghes_base_path_is_a_prefix() -> None:
    assert str(upstream_url(GHES, parse_target("/user"))) == "https://ghe.example.com/api/v3/user"
    assert str(upstream_url(GHES + "/", parse_target("/user"))) == (
        "https://ghe.example.com/api/v3/user"
    )
    url = upstream_url(GHES, parse_target("/repositories/1/issues", "page=2"))
    assert url.raw_path == b"/api/v3/repositories/1/issues?page=2"
    assert url.host == "ghe.example.com"


def test_base_port_is_kept() -> None:
    url = upstream_url("http://127.0.0.1:8081", parse_target("/user"))
    assert (url.scheme, url.host, url.port) == ("http", "127.0.0.1", 8081)
    url = upstream_url("http://[::1]:8081/api", parse_target("/user"))
    assert (url.host, url.port, url.raw_path) == ("::1", 8081, b"/api/user")


def test_upstream_url_is_absolute_and_overrides_no_base() -> None:
    # Handed to a client with a different base_url, the URL still goes to GitHub.
    client = httpx.Client(base_url="https://elsewhere.test")
    request = client.build_request("GET", upstream_url(API, parse_target("/user")))
    client.close()
    assert request.url.host == "api.github.com"


@pytest.mark.parametrize("base", ["ftp://api.github.com", "https://user:pw@api.github.com"])
def test_a_bad_api_base_is_a_configuration_error(base: str) -> None:
    with pytest.raises(ValueError):
        upstream_url(base, Target("/user", ""))


def test_split_reference() -> None:
    assert split_reference("/repos/a/b/issues?state=all") == Target(
        "/repos/a/b/issues", "state=all"
    )
    assert split_reference("/user") == Target("/user", "")
    assert split_reference("/search/code?q=a?b") == Target("/search/code", "q=a?b")


@pytest.mark.parametrize(
    ("reference", "rule"),
    [
        ("https://evil/x", "start with /"),
        ("https://api.github.com/user", "start with /"),
        ("//evil/x", "name a host"),
        ("//api.github.com/user", "name a host"),
        ("/repos/a/b#frag", "fragment"),
        ("/repos/a/b?x=1#frag", "fragment"),
        ("repos/a/b", "start with /"),
        ("", "start with /"),
        ("/repos/a%2F..%2F..%2Fuser", ". or .."),
        ("/user?access_token=x", "credentials"),
        ("/@evil/x", "literal @"),
    ],
)
def test_split_reference_rejects(reference: str, rule: str) -> None:
    with pytest.raises(PathRejected) as raised:
        split_reference(reference)
    assert rule in raised.value.message


def test_split_reference_rejects_a_non_string() -> None:
    with pytest.raises(PathRejected):
        split_reference(["/user"])  # type: ignore[arg-type]


# --- property: whatever the path, the upstream URL stays on the configured origin ---

# Fragments of known attacks, glued together in any order.
# fmt: off
_FRAGMENTS = [
    "/", "//", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%3f", "%3F", "%23",
    "%40", "%00", "%0d%0a", "%25", "%", "%2", "@", ":", "\\", "?", "#", "http:", "https:",
    "evil.example", "api.github.com", "a", "repos", "x-y_z", "~", "{", " ", "\t",
    "\u00e9", "\uff0e",
]
_QUERY_FRAGMENTS = ["a=1", "&", "=", "%2F", "#", "@", "/", "..", "%0a", "?", "access_token"]
# fmt: on
_DANGEROUS = st.sampled_from(_FRAGMENTS)
# Segments built from the fragments, so that a fair share of paths passes the guard and
# the property is checked on URLs, not only on rejections.
_SEGMENT = st.lists(
    st.sampled_from(["a", "repos", "x-y_z", "~", ".", "..", "%2e", "%2F", "%40", "%3A", ":"]),
    min_size=1,
    max_size=4,
).map("".join)
_PATHS = st.one_of(
    st.lists(_SEGMENT, min_size=1, max_size=6).map(lambda segments: "/" + "/".join(segments)),
    st.lists(_DANGEROUS, min_size=1, max_size=12).map("".join),
    st.lists(_DANGEROUS, max_size=12).map(lambda parts: "/" + "".join(parts)),
    st.text(max_size=40).map(lambda text: "/" + text),
    st.text(max_size=40),
)
_QUERIES = st.one_of(
    st.just(""),
    st.lists(st.sampled_from(_QUERY_FRAGMENTS), max_size=5).map("".join),
)
_BASES = [
    ("https://api.github.com", ("https", "api.github.com", None), b""),
    ("https://ghe.example.com/api/v3", ("https", "ghe.example.com", None), b"/api/v3"),
    ("http://127.0.0.1:8081", ("http", "127.0.0.1", 8081), b""),
]


def _segments_after(prefix: bytes, raw_path: bytes) -> list[bytes]:
    path = raw_path.split(b"?", 1)[0][len(prefix) :]
    return path.split(b"/")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=_PATHS, query=_QUERIES, base=st.sampled_from(_BASES))
def test_upstream_url_never_leaves_the_configured_origin(
    path: str, query: str, base: tuple[str, tuple[str, str, int | None], bytes]
) -> None:
    api_base, origin, prefix = base
    try:
        target = parse_target(path, query)
    except PathRejected:
        return
    url = upstream_url(api_base, target)
    assert (url.scheme, url.host, url.port) == origin
    assert url.userinfo == b""
    assert url.fragment == ""
    assert url.raw_path.startswith(prefix + b"/")
    segments = _segments_after(prefix, url.raw_path)
    assert b"." not in segments and b".." not in segments
    # Decoded once (as GitHub does), no dot segment appears behind an encoded slash either.
    decoded = [piece for s in segments for piece in unquote_to_bytes(s).split(b"/")]
    assert b"." not in decoded and b".." not in decoded
    # The path reaches GitHub exactly as the caller sent it.
    assert url.raw_path == prefix + target.path_and_query.encode("ascii")


@settings(max_examples=200, deadline=None)
@given(path=_PATHS, query=_QUERIES)
def test_str_and_bytes_inputs_agree(path: str, query: str) -> None:
    def outcome(raw_path: bytes | str, raw_query: bytes | str) -> Target | None:
        try:
            return parse_target(raw_path, raw_query)
        except PathRejected:
            return None

    # latin-1 is how the HTTP app turns raw bytes into text; non-latin-1 text has no bytes form.
    try:
        raw_path, raw_query = path.encode("latin-1"), query.encode("latin-1")
    except UnicodeEncodeError:
        assert outcome(path, query) is None
        return
    assert outcome(path, query) == outcome(raw_path, raw_query)
