"""Pull requests: `pull_request_read` with a `method`, `list_pull_requests`,
`merge_pull_request` (which asks the user first where the client can ask)."""

from typing import Annotated, Any, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from mcp_server.confirm import Confirm, ask, confirmed
from mcp_server.services import Services
from mcp_server.shaping import comment_view, commit_view, file_view, listing, pull_view, result
from mcp_server.subscriptions import issue_uri, pull_uri
from mcp_server.tools.params import Fields, Offset, Owner, Page, PerPage, Repo
from mcp_server.toolsets import ToolDef, guarded

PullNumber = Annotated[int, Field(description="Pull request number", ge=1)]
_DIFF = "application/vnd.github.diff"


def _merge_question(ctx: Context, owner: str, repo: str, pullNumber: int) -> Any:
    return ask(ctx, f"Merge {owner}/{repo} pull request #{pullNumber} on GitHub?")


def tools(s: Services) -> list[ToolDef]:
    @guarded
    async def pull_request_read(
        owner: Owner,
        repo: Repo,
        pullNumber: PullNumber,
        method: Annotated[
            Literal["get", "get_diff", "get_files", "get_commits", "get_reviews", "get_comments"],
            Field(
                description="What to read: the pull request, its diff, files, commits,"
                " reviews or review comments"
            ),
        ] = "get",
        page: Page = 1,
        perPage: PerPage = 20,
        offset: Offset = 0,
    ) -> CallToolResult:
        """Read a pull request or one of its parts."""
        identity = await s.callers.identity()
        base = f"/repos/{owner}/{repo}/pulls/{pullNumber}"
        subject = f"{owner}/{repo} pull request #{pullNumber}"
        paging = {"page": page, "per_page": perPage}
        if method == "get":
            answer = await s.github.get(identity, base, subject=subject)
            return result(
                {"item": pull_view(answer.data)}, cap=s.cap, notes=[answer.note], offset=offset
            )
        if method == "get_diff":
            # Raw diff text: JSON-escaping a diff inside GitHub's objects would double it.
            answer = await s.github.get(identity, base, accept=_DIFF, subject=subject)
            return result(
                {"item": {"diff": answer.text}}, cap=s.cap, notes=[answer.note], offset=offset
            )
        path, view = {
            "get_files": ("files", file_view),
            "get_commits": ("commits", commit_view),
            "get_reviews": ("reviews", comment_view),
            "get_comments": ("comments", comment_view),
        }[method]
        answer = await s.github.get(identity, f"{base}/{path}", paging, subject=subject)
        return listing(answer, answer.data, view, per_page=perPage, cap=s.cap)

    @guarded
    async def list_pull_requests(
        owner: Owner,
        repo: Repo,
        state: Literal["open", "closed", "all"] = "open",
        head: Annotated[str | None, Field(description="user:branch")] = None,
        base: Annotated[str | None, Field(description="Base branch")] = None,
        sort: Literal["created", "updated", "popularity", "long-running"] = "created",
        direction: Literal["asc", "desc"] = "desc",
        page: Page = 1,
        perPage: PerPage = 20,
        fields: Fields = None,
    ) -> CallToolResult:
        """A repository's pull requests."""
        identity = await s.callers.identity()
        query = {
            "state": state,
            "head": head,
            "base": base,
            "sort": sort,
            "direction": direction,
            "page": page,
            "per_page": perPage,
        }
        answer = await s.github.get(
            identity, f"/repos/{owner}/{repo}/pulls", query, subject=f"{owner}/{repo}"
        )
        return listing(
            answer,
            answer.data,
            pull_view,
            per_page=perPage,
            cap=s.cap,
            fields=fields,
            keep=("number",),
        )

    @guarded
    async def merge_pull_request(
        owner: Owner,
        repo: Repo,
        pullNumber: PullNumber,
        confirmation: Annotated[ElicitationResult[Confirm], Resolve(_merge_question)],
        merge_method: Literal["merge", "squash", "rebase"] = "merge",
        commit_title: str | None = None,
        commit_message: str | None = None,
    ) -> CallToolResult:
        """Merge a pull request. It cannot be undone, so the user is asked first where the
        client can ask."""
        identity = await s.callers.identity()
        if not confirmed(confirmation):
            return result({"merged": False, "reason": "the user did not confirm"}, cap=s.cap)
        body = {
            "merge_method": merge_method,
            "commit_title": commit_title,
            "commit_message": commit_message,
        }
        answer = await s.github.request(
            identity,
            "PUT",
            f"/repos/{owner}/{repo}/pulls/{pullNumber}/merge",
            body={key: value for key, value in body.items() if value is not None},
            subject=f"{owner}/{repo} pull request #{pullNumber}",
        )
        await s.changed(pull_uri(owner, repo, pullNumber))
        await s.changed(issue_uri(owner, repo, pullNumber))
        return result(
            {"item": {"merged": answer.data.get("merged"), "sha": answer.data.get("sha")}},
            cap=s.cap,
        )

    return [
        ToolDef(pull_request_read, "pull_requests", "Read a pull request", read_only=True),
        ToolDef(list_pull_requests, "pull_requests", "List pull requests", read_only=True),
        ToolDef(
            merge_pull_request,
            "pull_requests",
            "Merge a pull request",
            read_only=False,
            destructive=True,
        ),
    ]
