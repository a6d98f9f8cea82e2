"""The fake GitHub's state and the JSON GitHub would render from it.

Kept apart from `github.py`, which is about protocol (auth, ETags, rate limits, failure
injection), so that each file reads on its own. State is plain dataclasses and JSON is built
per request, because the URLs inside it depend on `FakeGitHub.public_origin`, which a test
may set only once it knows its port.

The objects carry the fields GitHub documents for them (and strict clients such as githubkit
validate), with API URLs under `api` (public origin + base path) and web URLs under `web`.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

DOCS = "https://docs.github.com/rest"
EPOCH_ISO = "2020-01-01T00:00:00Z"


@dataclass
class FakeComment:
    id: int
    body: str
    author: str
    created_at: int
    updated_at: int


@dataclass
class FakeIssue:
    id: int
    number: int
    title: str
    body: str
    state: str
    labels: list[str]
    author: str
    created_at: int
    updated_at: int
    closed_at: int | None = None
    state_reason: str | None = None
    comments: list[FakeComment] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    milestone: int | None = None


@dataclass
class FakeRepo:
    """A repository; `readers` are the logins that may see it when it is private."""

    id: int
    owner: str
    name: str
    private: bool
    readers: set[str]
    created_at: int
    writers: set[str] = field(default_factory=set)
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)  # name -> label id, in order made
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> sha
    milestones: dict[int, str] = field(default_factory=dict)  # number -> title

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def iso(stamp: int) -> str:
    """ISO 8601 in UTC with a `Z`, as GitHub writes `created_at` and friends."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def http_date(stamp: int) -> str:
    """An IMF-fixdate, as in `Last-Modified`."""
    return formatdate(stamp, usegmt=True)


@dataclass(frozen=True)
class Render:
    """Builds GitHub's JSON for one request.

    `media` is the `param` of an issue-body media type (raw, text, html, full) or None.
    """

    api: str
    web: str
    user_id: Callable[[str], int]
    media: str | None = None

    def root(self) -> dict[str, Any]:
        api = self.api
        return {
            "current_user_url": f"{api}/user",
            "issue_search_url": f"{api}/search/issues?q={{query}}{{&page,per_page,sort,order}}",
            "rate_limit_url": f"{api}/rate_limit",
            "repository_url": f"{api}/repos/{{owner}}/{{repo}}",
            "user_url": f"{api}/users/{{user}}",
        }

    def user(self, login: str, *, full: bool = False) -> dict[str, Any]:
        """The simple user inside other objects, or (`full`) the `/users/{login}` shape."""
        user_id = self.user_id(login)
        url = f"{self.api}/users/{login}"
        simple = {
            "login": login,
            "id": user_id,
            "node_id": f"U_fake{user_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.web}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": "User",
            "user_view_type": "public",
            "site_admin": False,
        }
        if not full:
            return simple
        return {
            **simple,
            "name": None,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": EPOCH_ISO,
            "updated_at": EPOCH_ISO,
        }

    def repo(self, repo: FakeRepo) -> dict[str, Any]:
        base = f"{self.api}/repos/{repo.full_name}"
        web = f"{self.web}/{repo.full_name}"
        templates = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "contributors_url": "/contributors",
            "deployments_url": "/deployments",
            "downloads_url": "/downloads",
            "events_url": "/events",
            "forks_url": "/forks",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "hooks_url": "/hooks",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "languages_url": "/languages",
            "merges_url": "/merges",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers",
            "subscription_url": "/subscription",
            "tags_url": "/tags",
            "teams_url": "/teams",
            "trees_url": "/git/trees{/sha}",
        }
        open_issues = sum(1 for issue in repo.issues.values() if issue.state == "open")
        updated = max((i.updated_at for i in repo.issues.values()), default=repo.created_at)
        return {
            "id": repo.id,
            "node_id": f"R_fake{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": web,
            "description": None,
            "fork": False,
            "url": base,
            **{name: base + suffix for name, suffix in templates.items()},
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "clone_url": f"{web}.git",
            "svn_url": web,
            "mirror_url": None,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "subscribers_count": 0,
            "network_count": 0,
            "size": 1,
            "default_branch": "main",
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "pushed_at": iso(repo.created_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(updated),
        }

    def issue(self, repo: FakeRepo, issue: FakeIssue) -> dict[str, Any]:
        base = f"{self.api}/repos/{repo.full_name}"
        url = f"{base}/issues/{issue.number}"
        return {
            "id": issue.id,
            "node_id": f"I_fake{issue.id}",
            "url": url,
            "repository_url": base,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.web}/{repo.full_name}/issues/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            **self._body(issue.body),
            "user": self.user(issue.author),
            "labels": [self.label(repo, name) for name in issue.labels],
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(login) for login in issue.assignees],
            "milestone": self.milestone(repo, issue.milestone),
            "locked": False,
            "active_lock_reason": None,
            "comments": len(issue.comments),
            "closed_at": None if issue.closed_at is None else iso(issue.closed_at),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_by": None,
            "author_association": "OWNER" if issue.author == repo.owner else "NONE",
            "reactions": {
                "url": f"{url}/reactions",
                "total_count": 0,
                **dict.fromkeys(
                    ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0
                ),
            },
            "timeline_url": f"{url}/timeline",
        }

    def milestone(self, repo: FakeRepo, number: int | None) -> dict[str, Any] | None:
        if number is None or number not in repo.milestones:
            return None
        return {
            "url": f"{self.api}/repos/{repo.full_name}/milestones/{number}",
            "number": number,
            "title": repo.milestones[number],
            "state": "open",
        }

    def comment(self, repo: FakeRepo, issue: FakeIssue, comment: FakeComment) -> dict[str, Any]:
        base = f"{self.api}/repos/{repo.full_name}"
        return {
            "id": comment.id,
            "node_id": f"IC_fake{comment.id}",
            "url": f"{base}/issues/comments/{comment.id}",
            "html_url": (
                f"{self.web}/{repo.full_name}/issues/{issue.number}#issuecomment-{comment.id}"
            ),
            "issue_url": f"{base}/issues/{issue.number}",
            **self._body(comment.body),
            "user": self.user(comment.author),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": "OWNER" if comment.author == repo.owner else "NONE",
        }

    def label(self, repo: FakeRepo, name: str) -> dict[str, Any]:
        label_id = repo.labels.get(name, 0)
        return {
            "id": label_id,
            "node_id": f"LA_fake{label_id}",
            "url": f"{self.api}/repos/{repo.full_name}/labels/{quote(name, safe='')}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def ref(self, repo: FakeRepo, ref: str, sha: str) -> dict[str, Any]:
        base = f"{self.api}/repos/{repo.full_name}/git"
        return {
            "ref": f"refs/{ref}",
            "node_id": f"REF_fake{repo.id}_{ref}",
            "url": f"{base}/refs/{ref}",
            "object": {"sha": sha, "type": "commit", "url": f"{base}/commits/{sha}"},
        }

    def _body(self, text: str) -> dict[str, Any]:
        """`body`, `body_text` and/or `body_html`, as the issue-body media type asks."""
        fields: dict[str, Any] = {}
        if self.media in (None, "raw", "full"):
            fields["body"] = text or None  # GitHub writes null for an empty body
        if self.media in ("text", "full"):
            fields["body_text"] = text
        if self.media in ("html", "full"):
            paragraphs = [part for part in text.split("\n\n") if part.strip()]
            fields["body_html"] = "".join(f"<p>{html.escape(part)}</p>" for part in paragraphs)
        return fields
