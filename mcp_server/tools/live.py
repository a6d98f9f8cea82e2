"""Taking part in the live rooms: `who_is_here`, and editing an issue together with the
people in it (`live_join_issue`, `live_read_draft`, `live_edit`, `live_save`,
`live_leave`). The agent's edits reach the people in the room as another participant's
do, and a save goes through the same conflict checks as theirs."""

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from mcp_server.github import ToolFailure
from mcp_server.live import LiveRooms
from mcp_server.services import Services
from mcp_server.shaping import clean, result
from mcp_server.tools.params import Offset, Owner, Repo
from mcp_server.toolsets import ToolDef, guarded

Handle = Annotated[
    str, Field(description="The handle live_join_issue returned", min_length=8, max_length=64)
]


class DraftEdit(BaseModel):
    """One change to the shared draft. Give the fields its `op` uses."""

    op: Literal[
        "set_title",
        "replace_in_body",
        "append_to_body",
        "splice_body",
        "add_label",
        "remove_label",
        "add_assignee",
        "remove_assignee",
        "set_state",
        "set_milestone",
    ]
    title: str | None = Field(None, description="set_title")
    old: str | None = Field(None, description="replace_in_body: text that occurs once")
    new: str | None = Field(None, description="replace_in_body: its replacement")
    text: str | None = Field(None, description="append_to_body")
    index: int | None = Field(None, description="splice_body: character position", ge=0)
    delete: int | None = Field(None, description="splice_body: characters removed", ge=0)
    insert: str | None = Field(None, description="splice_body: text inserted")
    label: str | None = Field(None, description="add_label / remove_label")
    login: str | None = Field(None, description="add_assignee / remove_assignee")
    state: Literal["open", "closed"] | None = Field(None, description="set_state")
    state_reason: Literal["completed", "not_planned", "reopened"] | None = None
    milestone: int | None = Field(None, description="set_milestone: number, or null")


def cleaned(answer: dict[str, Any]) -> dict[str, Any]:
    """The draft's text as people wrote it, without the characters that hide instructions."""
    draft = answer.get("draft")
    if isinstance(draft, dict):
        answer["draft"] = {key: clean(value) for key, value in draft.items()}
    return answer


def tools(s: Services) -> list[ToolDef]:
    def rooms() -> LiveRooms:
        if s.live is None:
            raise ToolFailure(
                "Live rooms run on Hubbub's persistent server; connect to its /mcp endpoint."
            )
        return s.live

    @guarded
    async def who_is_here(
        owner: Owner,
        repo: Repo,
        issue_number: Annotated[
            int | None, Field(description="Only this issue's room", ge=1)
        ] = None,
    ) -> CallToolResult:
        """Who is in a project's live room right now (people and agents), and what each is
        viewing or editing."""
        identity = await s.callers.identity()
        found = await rooms().who_is_here(identity, f"{owner}/{repo}", issue_number)
        return result(found, cap=s.cap)

    @guarded
    async def live_join_issue(
        owner: Owner,
        repo: Repo,
        issue_number: Annotated[int, Field(ge=1)],
        name: Annotated[
            str, Field(description="How people in the room see you", min_length=1, max_length=40)
        ] = "agent",
    ) -> CallToolResult:
        """Join an issue's live editing session; people in the room see you arrive. Returns
        a handle for the other live_ tools and the draft as it stands."""
        identity = await s.callers.identity()
        shown = clean(name).strip() or "agent"
        joined = await rooms().join(identity, f"{owner}/{repo}", issue_number, shown)
        return result({"item": cleaned(joined)}, cap=s.cap)

    @guarded
    async def live_read_draft(handle: Handle, offset: Offset = 0) -> CallToolResult:
        """The shared draft now: everyone's edits so far, saved or not."""
        identity = await s.callers.identity()
        found = cleaned(await rooms().draft(identity, handle))
        return result({"item": found}, cap=s.cap, offset=offset)

    @guarded
    async def live_edit(
        handle: Handle,
        ops: Annotated[list[DraftEdit], Field(min_length=1, max_length=20)],
    ) -> CallToolResult:
        """Change the shared draft; people see each change arrive live. Nothing reaches
        GitHub until live_save. Prefer replace_in_body (exact text that occurs once) to
        splice_body."""
        identity = await s.callers.identity()
        changes: list[dict[str, Any]] = [op.model_dump(exclude_none=True) for op in ops]
        edited = await rooms().propose(identity, handle, changes)
        return result({"item": cleaned(edited)}, cap=s.cap)

    @guarded
    async def live_save(handle: Handle) -> CallToolResult:
        """Save the shared draft to GitHub, with the same conflict checks people get: a
        change made on GitHub meanwhile is merged, never overwritten."""
        identity = await s.callers.identity()
        saved = await rooms().save(identity, handle)
        return result({"item": saved}, cap=s.cap)

    @guarded
    async def live_leave(handle: Handle) -> CallToolResult:
        """Leave the issue's live session; people see you go."""
        identity = await s.callers.identity()
        return result({"item": await rooms().leave(identity, handle)}, cap=s.cap)

    return [
        ToolDef(who_is_here, "live", "Who is here", read_only=True),
        # Not idempotent: each join is a participant of its own.
        ToolDef(live_join_issue, "live", "Join an issue's live editing", read_only=False),
        ToolDef(live_read_draft, "live", "Read the shared draft", read_only=True),
        ToolDef(live_edit, "live", "Edit the shared draft", read_only=False),
        ToolDef(live_save, "live", "Save the draft to GitHub", read_only=False),
        ToolDef(live_leave, "live", "Leave the live session", read_only=False, idempotent=True),
    ]
