"""Asking the person behind an agent before a write that cannot simply be undone.

Closing an issue, merging a pull request: the SDK asks through elicitation (a request
mid-call on the session-based protocol, an input-required round on the stateless one)
when the client can answer; a client that cannot is not asked.
"""

from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit
from pydantic import BaseModel, Field


class Confirm(BaseModel):
    confirm: bool = Field(description="Go ahead with the change")


GRANTED = Confirm(confirm=True)


def ask(ctx: Context, question: str) -> Elicit[Confirm] | Confirm:
    """A resolver's answer: the question, or (for a client that cannot be asked) a yes,
    which the SDK hands the tool as an accepted elicitation."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return GRANTED
    return Elicit(question, Confirm)


def confirmed(outcome: object) -> bool:
    return isinstance(outcome, AcceptedElicitation) and bool(outcome.data.confirm)
