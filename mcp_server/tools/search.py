"""Search across GitHub: `search_code`, `search_repositories` (issues: tools/issues.py)."""

from typing import Annotated, Literal

from mcp.types import CallToolResult
from pydantic import Field

from mcp_server.services import Services
from mcp_server.shaping import listing, repo_view
from mcp_server.tools.params import Fields, Page, PerPage
from mcp_server.toolsets import ToolDef, guarded

Query = Annotated[str, Field(description="GitHub search syntax", min_length=1, max_length=256)]


def _code_hit(item: dict) -> dict:
    return {
        "repository": (item.get("repository") or {}).get("full_name"),
        "path": item.get("path"),
        "sha": item.get("sha"),
        "url": item.get("html_url"),
    }


def tools(s: Services) -> list[ToolDef]:
    @guarded
    async def search_code(
        query: Query,
        page: Page = 1,
        perPage: PerPage = 20,
        fields: Fields = None,
    ) -> CallToolResult:
        """Find code: e.g. 'useState repo:owner/name language:ts'. Read a hit with
        get_file_contents."""
        identity = await s.callers.identity()
        answer = await s.github.get(
            identity,
            "/search/code",
            {"q": query, "page": page, "per_page": perPage},
            subject="the code search",
        )
        return listing(
            answer,
            answer.data.get("items", []),
            _code_hit,
            per_page=perPage,
            cap=s.cap,
            fields=fields,
            keep=("path",),
            total_count=answer.data.get("total_count"),
        )

    @guarded
    async def search_repositories(
        query: Query,
        sort: Literal["best-match", "stars", "forks", "updated"] = "best-match",
        page: Page = 1,
        perPage: PerPage = 20,
        fields: Fields = None,
    ) -> CallToolResult:
        """Find repositories: e.g. 'topic:mcp language:python stars:>100'."""
        identity = await s.callers.identity()
        params = {
            "q": query,
            "sort": None if sort == "best-match" else sort,
            "page": page,
            "per_page": perPage,
        }
        answer = await s.github.get(
            identity, "/search/repositories", params, subject="the repository search"
        )
        return listing(
            answer,
            answer.data.get("items", []),
            repo_view,
            per_page=perPage,
            cap=s.cap,
            fields=fields,
            keep=("full_name",),
            total_count=answer.data.get("total_count"),
        )

    return [
        ToolDef(search_code, "search", "Search code", read_only=True),
        ToolDef(search_repositories, "search", "Search repositories", read_only=True),
    ]
