"""GitHub's API URLs in answers point back at the proxy; nothing else is touched."""

from __future__ import annotations

import json

import pytest

from proxy.link_rewrite import UrlRewriter

API = "https://api.github.com"
GHES = "https://ghe.example.com/api/v3"
PUBLIC = "https://hubbub.example.com/api/github"


@pytest.fixture
def github() -> UrlRewriter:
    return UrlRewriter(API, PUBLIC)


@pytest.fixture
def ghes() -> UrlRewriter:
    return UrlRewriter(GHES, PUBLIC)


# --- Link ---


def test_link_next_and_last_are_rewritten(github: UrlRewriter) -> None:
    link = (
        '<https://api.github.com/repos/octo/hello/issues?per_page=10&page=2>; rel="next", '
        '<https://api.github.com/repos/octo/hello/issues?per_page=10&page=8>; rel="last"'
    )
    assert github.link(link) == (
        f'<{PUBLIC}/repos/octo/hello/issues?per_page=10&page=2>; rel="next", '
        f'<{PUBLIC}/repos/octo/hello/issues?per_page=10&page=8>; rel="last"'
    )


def test_link_on_repositories_id_form_is_rewritten(github: UrlRewriter) -> None:
    link = (
        '<https://api.github.com/repositories/1296269/issues?page=1>; rel="prev", '
        '<https://api.github.com/repositories/1296269/issues?page=3>; rel="next", '
        '<https://api.github.com/repositories/1296269/issues?page=1>; rel="first"'
    )
    rewritten = github.link(link)
    assert "api.github.com" not in rewritten
    assert rewritten.count(f"<{PUBLIC}/repositories/1296269/issues?page=") == 3
    assert 'rel="prev"' in rewritten and 'rel="first"' in rewritten


def test_link_with_encoded_parts_is_kept_verbatim(github: UrlRewriter) -> None:
    link = '<https://api.github.com/search/code?q=%23include+in%3Afile&page=2>; rel="next"'
    assert github.link(link) == f'<{PUBLIC}/search/code?q=%23include+in%3Afile&page=2>; rel="next"'


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo/hello/issues?page=2",
        "https://uploads.github.com/repos/octo/hello/releases/1/assets",
        "https://api.github.com.evil.test/repos/octo/hello",
        "https://api.github.com:8443/repos/octo/hello",
        "https://api.github.com@evil.test/repos/octo/hello",
        "https://evil.test\\@api.github.com/repos/octo/hello",
        "http://api.github.com/repos/octo/hello",
        "https://evil.test/https://api.github.com/repos",
        "https://api.github.com/repos/../../evil",
        "//api.github.com/repos/octo/hello",
        "repos/octo/hello",
    ],
)
def test_link_to_anything_else_is_untouched(github: UrlRewriter, url: str) -> None:
    link = f'<{url}>; rel="next"'
    assert github.link(link) == link


def test_link_mixed_keeps_foreign_entries(github: UrlRewriter) -> None:
    link = (
        '<https://api.github.com/user/repos?page=2>; rel="next", '
        '<https://example.org/docs>; rel="help"'
    )
    assert github.link(link) == (
        f'<{PUBLIC}/user/repos?page=2>; rel="next", <https://example.org/docs>; rel="help"'
    )


def test_link_host_comparison_ignores_case_and_default_port(github: UrlRewriter) -> None:
    link = '<https://API.GitHub.com:443/user/repos?page=2>; rel="next"'
    assert github.link(link) == f'<{PUBLIC}/user/repos?page=2>; rel="next"'


def test_link_relative_to_the_api_is_rewritten(github: UrlRewriter) -> None:
    assert (
        github.link('</user/repos?page=2>; rel="next"')
        == f'<{PUBLIC}/user/repos?page=2>; rel="next"'
    )


def test_link_ghes_prefix(ghes: UrlRewriter) -> None:
    link = (
        '<https://ghe.example.com/api/v3/repositories/42/issues?page=2>; rel="next", '
        '<https://ghe.example.com/octo/hello/issues>; rel="alternate", '
        '<https://ghe.example.com/api/v3x/issues>; rel="other", '
        '<https://ghe.example.com/api/uploads/repos/o/r/releases/1/assets>; rel="upload"'
    )
    assert ghes.link(link) == (
        f'<{PUBLIC}/repositories/42/issues?page=2>; rel="next", '
        '<https://ghe.example.com/octo/hello/issues>; rel="alternate", '
        '<https://ghe.example.com/api/v3x/issues>; rel="other", '
        '<https://ghe.example.com/api/uploads/repos/o/r/releases/1/assets>; rel="upload"'
    )


def test_link_ghes_prefix_escape_by_dot_segments_is_untouched(ghes: UrlRewriter) -> None:
    link = '<https://ghe.example.com/api/v3/../../login>; rel="next"'
    assert ghes.link(link) == link
    link = '<https://ghe.example.com/api/v3/%2e%2e/login>; rel="next"'
    assert ghes.link(link) == link


def test_a_trailing_slash_on_the_bases_is_ignored() -> None:
    rewriter = UrlRewriter(API + "/", PUBLIC + "/")
    assert (
        rewriter.link('<https://api.github.com/user>; rel="self"') == f'<{PUBLIC}/user>; rel="self"'
    )


# --- body ---


def _issue_body(base: str, web: str) -> bytes:
    return json.dumps(
        {
            "url": f"{base}/repos/octo/hello/issues/1",
            "repository_url": f"{base}/repos/octo/hello",
            "labels_url": f"{base}/repos/octo/hello/issues/1/labels{{/name}}",
            "html_url": f"{web}/octo/hello/issues/1",
            "user": {"avatar_url": "https://avatars.githubusercontent.com/u/1?v=4"},
            "root": base,
            "lookalike": "https://api.github.com.evil.test/repos/octo/hello",
            "other_port": "https://api.github.com:8443/x",
            "body": "see https://api.github.com/repos/octo/hello/issues/2 in the text",
        }
    ).encode()


def test_body_rewrites_api_urls_and_keeps_html_url(github: UrlRewriter) -> None:
    rewritten = json.loads(github.body(_issue_body(API, "https://github.com")))
    assert rewritten["url"] == f"{PUBLIC}/repos/octo/hello/issues/1"
    assert rewritten["repository_url"] == f"{PUBLIC}/repos/octo/hello"
    assert rewritten["labels_url"] == f"{PUBLIC}/repos/octo/hello/issues/1/labels{{/name}}"
    assert rewritten["root"] == PUBLIC
    assert rewritten["body"] == f"see {PUBLIC}/repos/octo/hello/issues/2 in the text"
    assert rewritten["html_url"] == "https://github.com/octo/hello/issues/1"
    assert rewritten["user"]["avatar_url"] == "https://avatars.githubusercontent.com/u/1?v=4"


def test_body_leaves_a_lookalike_host_and_another_port_alone(github: UrlRewriter) -> None:
    rewritten = json.loads(github.body(_issue_body(API, "https://github.com")))
    assert rewritten["lookalike"] == "https://api.github.com.evil.test/repos/octo/hello"
    assert rewritten["other_port"] == "https://api.github.com:8443/x"
    assert github.body(b"https://api.github.com.evil.test") == b"https://api.github.com.evil.test"
    assert (
        github.body(b'"https://api.github.com@evil.test/"')
        == b'"https://api.github.com@evil.test/"'
    )


def test_body_at_the_end_of_the_text(github: UrlRewriter) -> None:
    assert github.body(b"https://api.github.com") == PUBLIC.encode()
    assert github.body(b"x https://api.github.com") == b"x " + PUBLIC.encode()


def test_body_with_json_escaped_slashes(github: UrlRewriter) -> None:
    body = b'{"url":"https:\\/\\/api.github.com\\/user","html_url":"https:\\/\\/github.com\\/x"}'
    assert json.loads(github.body(body)) == {
        "url": f"{PUBLIC}/user",
        "html_url": "https://github.com/x",
    }


def test_body_without_api_urls_is_returned_as_is(github: UrlRewriter) -> None:
    body = b'{"html_url": "https://github.com/octo/hello"}'
    assert github.body(body) is body
    assert github.body(b"") == b""


def test_body_ghes_rewrites_only_under_the_prefix(ghes: UrlRewriter) -> None:
    body = json.dumps(
        {
            "url": f"{GHES}/repos/octo/hello",
            "html_url": "https://ghe.example.com/octo/hello",
            "upload_url": "https://ghe.example.com/api/uploads/repos/octo/hello/releases/1/assets",
            "longer": "https://ghe.example.com/api/v3x/repos",
        }
    ).encode()
    rewritten = json.loads(ghes.body(body))
    assert rewritten == {
        "url": f"{PUBLIC}/repos/octo/hello",
        "html_url": "https://ghe.example.com/octo/hello",
        "upload_url": "https://ghe.example.com/api/uploads/repos/octo/hello/releases/1/assets",
        "longer": "https://ghe.example.com/api/v3x/repos",
    }


# --- Location ---


def test_location_same_host_is_rewritten(github: UrlRewriter) -> None:
    assert github.location("https://api.github.com/repositories/1296269") == (
        f"{PUBLIC}/repositories/1296269"
    )
    assert github.location("https://api.github.com/repos/new/name/issues?state=all") == (
        f"{PUBLIC}/repos/new/name/issues?state=all"
    )


def test_location_relative_is_rewritten(github: UrlRewriter) -> None:
    assert github.location("/repositories/1") == f"{PUBLIC}/repositories/1"
    assert github.location(" /repositories/1 ") == f"{PUBLIC}/repositories/1"


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.test/repositories/1",
        "https://github.com/login",
        "https://api.github.com.evil.test/repositories/1",
        "https://api.github.com@evil.test/repositories/1",
        "https://api.github.com:8443/repositories/1",
        "http://api.github.com/repositories/1",
        "//evil.test/repositories/1",
        "javascript:alert(1)",
        "repositories/1",
        "https://api.github.com/repositories/1\r\nSet-Cookie: x=1",
        "/repositories/../../x",
        "",
    ],
)
def test_location_to_anything_else_is_refused(github: UrlRewriter, location: str) -> None:
    assert github.location(location) is None


def test_location_ghes(ghes: UrlRewriter) -> None:
    assert ghes.location("https://ghe.example.com/api/v3/repositories/7") == (
        f"{PUBLIC}/repositories/7"
    )
    assert ghes.location("/api/v3/repositories/7") == f"{PUBLIC}/repositories/7"
    # The rest of the GHES host is the web UI, not the API.
    assert ghes.location("https://ghe.example.com/login") is None
    assert ghes.location("/login") is None


def test_location_with_an_empty_public_base_is_a_path() -> None:
    # How the upstream stage uses it: only to decide whether a redirect is the API's own.
    rewriter = UrlRewriter(API, "")
    assert rewriter.location("https://api.github.com/repositories/1") == "/repositories/1"
    assert rewriter.location("https://evil.test/") is None


def test_location_ipv6_loopback_base() -> None:
    rewriter = UrlRewriter("http://[::1]:8081", PUBLIC)
    assert rewriter.location("http://[::1]:8081/user") == f"{PUBLIC}/user"
    assert rewriter.location("http://[::1]:8082/user") is None
    assert rewriter.location("http://[::1]x/user") is None


def test_a_bad_api_base_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        UrlRewriter("ftp://api.github.com", PUBLIC)
