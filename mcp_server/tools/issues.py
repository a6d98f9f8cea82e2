"""Issues, named and shaped after GitHub's own MCP server: `issue_read` with a `method`,
`list_issues`, `search_issues`, `issue_write`, `add_issue_comment`."""

from typing import Annotated, Any, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from mcp_server.confirm import GRANTED, Confirm, ask, confirmed
from mcp_server.github import ToolFailure
from mcp_server.services import Services
from mcp_server.shaping import (
    comment_view,
    issue_view,
    label_view,
    listing,
    result,
    select,
)
from mcp_server.subscriptions import issue_uri
from mcp_server.tools.params import Fields, Offset, Owner, Page, PerPage, Repo
from mcp_server.toolsets import ToolDef, guarded

Number = Annotated[int, Field(description="Issue number", ge=1)]


def _close_question(
    ctx: Context,
    owner: str,
    repo: str,
    method: str = "create",
    issue_number: int | None = None,
    state: str | None = None,
) -> Any:
    if method == "update" and state == "closed":
        return ask(ctx, f"Close {owner}/{repo}#{issue_number} on GitHub?")
    return GRANTED


def tools(s: Services) -> list[ToolDef]:
    @guarded
    async def issue_read(
        owner: Owner,
        repo: Repo,
        issue_number: Number,
        method: Annotated[
            Literal["get", "get_comments", "get_labels"],
            Field(description="get: the issue; get_comments: its comments; get_labels"),
        ] = "get",
        page: Page = 1,
        perPage: PerPage = 20,
        offset: Offset = 0,
    ) -> CallToolResult:
        """Read one issue of a GitHub repository, its comments or its labels."""
        identity = await s.callers.identity()
        base = f"/repos/{owner}/{repo}/issues/{issue_number}"
        subject = f"{owner}/{repo}#{issue_number}"
        if method == "get":
            answer = await s.github.get(identity, base, subject=subject)
            return result(
                {"item": issue_view(answer.data)}, cap=s.cap, notes=[answer.note], offset=offset
            )
        if method == "get_labels":
            answer = await s.github.get(
                identity, f"{base}/labels", {"page": page, "per_page": perPage}, subject=subject
            )
            return listing(answer, answer.data, label_view, per_page=perPage, cap=s.cap)
        answer = await s.github.get(
            identity, f"{base}/comments", {"page": page, "per_page": perPage}, subject=subject
        )
        return listing(answer, answer.data, comment_view, per_page=perPage, cap=s.cap)

    @guarded
    async def list_issues(
        owner: Owner,
        repo: Repo,
        state: Literal["open", "closed", "all"] = "open",
        labels: Annotated[
            list[str] | None, Field(description="Only issues with all of these")
        ] = None,
        sort: Literal["created", "updated", "comments"] = "created",
        direction: Literal["asc", "desc"] = "desc",
        since: Annotated[
            str | None, Field(description="Only issues updated after (ISO 8601)")
        ] = None,
        page: Page = 1,
        perPage: PerPage = 20,
        fields: Fields = None,
    ) -> CallToolResult:
        """List a repository's issues (pull requests left out), newest first by default."""
        identity = await s.callers.identity()
        query = {
            "state": state,
            "labels": ",".join(labels) if labels else None,
            "sort": sort,
            "direction": direction,
            "since": since,
            "page": page,
            "per_page": perPage,
        }
        answer = await s.github.get(
            identity, f"/repos/{owner}/{repo}/issues", query, subject=f"{owner}/{repo}"
        )
        issues = [item for item in answer.data if not item.get("pull_request")]
        return listing(
            answer,
            issues,
            issue_view,
            per_page=perPage,
            cap=s.cap,
            fields=fields,
            keep=("number",),
        )

    @guarded
    async def search_issues(
        query: Annotated[str, Field(description="GitHub search syntax, e.g. 'is:open label:bug'")],
        owner: Annotated[str | None, Field(description="Limit to this owner")] = None,
        repo: Annotated[
            str | None, Field(description="Limit to this repository (with owner)")
        ] = None,
        sort: Literal["comments", "reactions", "created", "updated", "best-match"] = "best-match",
        order: Literal["asc", "desc"] = "desc",
        page: Page = 1,
        perPage: PerPage = 20,
        fields: Fields = None,
    ) -> CallToolResult:
        """Search issues and pull requests across GitHub."""
        identity = await s.callers.identity()
        terms = [query]
        if owner and repo:
            terms.append(f"repo:{owner}/{repo}")
        elif owner:
            terms.append(f"user:{owner}")
        params = {
            "q": " ".join(terms),
            "sort": None if sort == "best-match" else sort,
            "order": order,
            "page": page,
            "per_page": perPage,
        }
        answer = await s.github.get(identity, "/search/issues", params, subject="the search")
        return listing(
            answer,
            answer.data.get("items", []),
            issue_view,
            per_page=perPage,
            cap=s.cap,
            fields=fields,
            keep=("number", "url"),
            total_count=answer.data.get("total_count"),
        )

    @guarded
    async def issue_write(
        owner: Owner,
        repo: Repo,
        confirmation: Annotated[ElicitationResult[Confirm], Resolve(_close_question)],
        method: Annotated[
            Literal["create", "update"], Field(description="create a new issue or update one")
        ] = "create",
        issue_number: Annotated[int | None, Field(description="Required for update", ge=1)] = None,
        title: str | None = None,
        body: str | None = None,
        labels: Annotated[list[str] | None, Field(description="Replaces the labels")] = None,
        assignees: Annotated[list[str] | None, Field(description="Replaces the assignees")] = None,
        milestone: Annotated[
            int | None, Field(description="Milestone number; 0 removes the milestone", ge=0)
        ] = None,
        state: Literal["open", "closed"] | None = None,
        state_reason: Literal["completed", "not_planned", "reopened"] | None = None,
    ) -> CallToolResult:
        """Create an issue, or update one's title, body, labels, assignees, milestone or
        state. Closing asks the user first where the client can ask."""
        identity = await s.callers.identity()
        if not confirmed(confirmation):
            return result({"done": False, "reason": "the user did not confirm"}, cap=s.cap)
        fields: dict[str, Any] = {
            "title": title,
            "body": body,
            "labels": labels,
            "assignees": assignees,
            "milestone": milestone,
            "state": state,
            "state_reason": state_reason,
        }
        payload = {name: value for name, value in fields.items() if value is not None}
        if milestone == 0:
            payload["milestone"] = None
        if method == "create":
            if not title:
                raise ToolFailure("A new issue needs a title.")
            payload.pop("state", None)
            payload.pop("state_reason", None)
            answer = await s.github.request(
                identity,
                "POST",
                f"/repos/{owner}/{repo}/issues",
                body=payload,
                subject=f"{owner}/{repo}",
            )
        else:
            if issue_number is None:
                raise ToolFailure("Updating an issue needs issue_number.")
            if not payload:
                raise ToolFailure("Nothing to change: give at least one field to update.")
            answer = await s.github.request(
                identity,
                "PATCH",
                f"/repos/{owner}/{repo}/issues/{issue_number}",
                body=payload,
                subject=f"{owner}/{repo}#{issue_number}",
            )
        issue = issue_view(answer.data)
        await s.changed(issue_uri(owner, repo, issue["number"]))
        return result({"item": select(issue, [n for n in issue if n != "body"])}, cap=s.cap)

    @guarded
    async def add_issue_comment(
        owner: Owner,
        repo: Repo,
        issue_number: Number,
        body: Annotated[str, Field(description="The comment, in GitHub Markdown", min_length=1)],
    ) -> CallToolResult:
        """Comment on an issue or a pull request."""
        identity = await s.callers.identity()
        answer = await s.github.request(
            identity,
            "POST",
            f"/repos/{owner}/{repo}/issues/{issue_number}/comments",
            body={"body": body},
            subject=f"{owner}/{repo}#{issue_number}",
        )
        await s.changed(issue_uri(owner, repo, issue_number))
        comment = comment_view(answer.data)
        comment["url"] = answer.data.get("html_url")
        comment.pop("body", None)
        return result({"item": comment}, cap=s.cap)

    return [
        ToolDef(issue_read, "issues", "Read an issue", read_only=True),
        ToolDef(list_issues, "issues", "List issues", read_only=True),
        ToolDef(search_issues, "issues", "Search issues", read_only=True),
        ToolDef(issue_write, "issues", "Create or update an issue", read_only=False),
        ToolDef(add_issue_comment, "issues", "Comment on an issue", read_only=False),
    ]
