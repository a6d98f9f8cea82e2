"""Writing a draft back to GitHub, as the person who saves it.

GitHub has no precondition on issue edits: whoever writes last wins, silently. So a save
is one writer per issue across the fleet (the writer lease), and that writer re-reads
the issue right before it writes (revalidated: free when unchanged). If GitHub's issue
moved past the draft's base, that change is merged into the draft first, as edits by
"github", and the merged result is what gets written. The write sends only the fields
that differ from GitHub's, and its answer becomes the draft's new base; the webhook it
causes is then recognised as current (its `updated_at` is the base) and merges nothing.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from proxy import GatewayRequest, GatewayResponse
from realtime.drafts.document import IssueValues
from realtime.drafts.leases import WriterLease
from realtime.replies import Ack, ok, refused
from realtime.rooms import issue_room
from shared.errors import RateLimited
from shared.events import Envelope
from shared.events.envelope import Repository, Subject

if TYPE_CHECKING:
    from realtime.drafts.replicas import Drafts, Replica
    from realtime.members import Member

# How long a save waits for another save or merge of the same issue to finish.
SAVE_WAIT_S = 5.0
# A save waits for updates held this recently (their senders are being asked to sync);
# older ones may never come, and must not block saving for good.
CATCH_UP_S = 5.0


async def save_issue(drafts: Drafts, member: Member, replica: Replica) -> Ack:
    metrics = drafts.hub.metrics
    try:
        async with WriterLease(
            drafts.store, drafts.keys, *replica.key, wait_s=SAVE_WAIT_S
        ) as lease:
            answer = await _write(drafts, member, replica, lease)
    except RateLimited as error:
        # The gateway's own protection of the saver's budget (or of GitHub's).
        answer = refused(
            "rate_limited",
            f"{error.message}; the draft is kept, save again later",
            retry_after_ms=int(error.retry_after_s * 1000),
        )
    except TimeoutError:
        answer = refused(
            "save_in_progress",
            "someone else is saving this issue; try again in a moment",
            retry_after_ms=1000,
        )
    if metrics is not None:
        outcome = "saved" if answer.get("saved") else "unchanged" if answer["ok"] else None
        metrics.draft_saves.labels(outcome or answer["error"]["code"]).inc()
    return answer


async def _write(drafts: Drafts, member: Member, replica: Replica, lease: WriterLease) -> Ack:
    # Never the gateway's old copy: GitHub itself confirms it, or the save fails.
    current = await drafts.read_issue(member.identity, replica)
    if current.status != 200:
        return _failure(current)
    issue = json.loads(current.body)
    merged = await drafts.merge_github(replica, issue, lease_held=True)
    if replica.draft.held_within(CATCH_UP_S):
        # Some of the draft (perhaps GitHub's change just merged) waits for an update
        # still on its way: what would be written is not yet the whole draft.
        return refused(
            "draft_catching_up",
            "the draft is still receiving edits; save again in a moment",
            retry_after_ms=500,
        )
    ours = replica.draft.values()
    written = replica.draft.state()  # the draft as GitHub will hold it after the write
    patch = ours.patch_against(IssueValues.from_github(issue))
    if not patch:
        return ok(
            saved=False,
            merged=merged,
            updated_at=issue.get("updated_at"),
            version=replica.version,
        )
    if lease.lost:
        # It ran out (GitHub was that slow): another writer may be at work; never two.
        return refused(
            "save_in_progress", "the save took too long; save again", retry_after_ms=1000
        )
    await drafts.storage.set_pending(*replica.key, written, ours.to_json())
    answer = await drafts.hub.gateway()(
        GatewayRequest(
            method="PATCH",
            path=f"/repos/{replica.full_name}/issues/{replica.number}",
            query="",
            identity=member.identity,
            headers={"content-type": "application/json"},
            body=json.dumps(patch).encode(),
        )
    )
    if answer.status != 200:
        return _failure(answer)
    saved = json.loads(answer.body)
    updated_at = str(saved.get("updated_at") or "")
    theirs = IssueValues.from_github(saved)
    logged = await drafts.adopt(replica, written, theirs, updated_at)
    fields = sorted(patch.keys() - {"state_reason"})
    # What GitHub was sent but did not keep (an assignee who cannot be assigned).
    dropped = [name for name in fields if getattr(theirs, name) != getattr(ours, name)]
    notice = {
        "repo": replica.full_name,
        "number": replica.number,
        "updated_at": updated_at,
        "fields": fields,
        "by": member.identity.login,
        "version": replica.version,
    }
    await drafts.hub.sio.emit(
        "issue_saved", notice, room=issue_room(replica.repository_id, replica.number)
    )
    if drafts.hub.bus is not None:
        await drafts.hub.bus.append(
            Envelope(
                type="hubbub.issue_saved",
                repository=Repository(replica.repository_id, replica.full_name),
                subject=Subject("issue", replica.number),
                actor=member.identity.login,
                time=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                data={"updated_at": updated_at, "fields": fields},
            )
        )
    return ok(
        saved=True,
        merged=merged,
        updated_at=updated_at,
        fields=fields,
        not_kept=dropped,
        version=replica.version,
        durable=logged.durable,
    )


def _failure(answer: GatewayResponse) -> Ack:
    """GitHub's refusal in words the saver can act on; the draft is kept either way."""
    status = answer.status
    message = _github_message(answer)
    if status == 429 or (status == 403 and _rate_limited(answer, message)):
        retry = _retry_after_ms(answer)
        return refused(
            "rate_limited",
            "GitHub's rate limit is spent; the draft is kept, save again later",
            retry_after_ms=retry,
        )
    if status in (401, 403):
        return refused("no_permission", f"GitHub refused the edit: {message}")
    if status in (404, 410):
        return refused("not_found", "GitHub no longer shows this issue to you")
    if status == 422:
        errors = _github_errors(answer)
        return refused("validation_failed", f"GitHub rejected the draft: {message}", details=errors)
    return refused(
        "github_unavailable",
        f"GitHub answered {status}; the draft is kept, save again shortly",
        retry_after_ms=5000,
    )


def _document(answer: GatewayResponse) -> dict[str, Any]:
    try:
        document = json.loads(answer.body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _github_message(answer: GatewayResponse) -> str:
    message = _document(answer).get("message")
    return message[:300] if isinstance(message, str) else f"HTTP {answer.status}"


def _github_errors(answer: GatewayResponse) -> list[dict[str, str]]:
    errors = _document(answer).get("errors")
    if not isinstance(errors, list):
        return []
    kept = []
    for error in errors[:10]:
        if isinstance(error, dict):
            kept.append(
                {
                    k: str(v)[:200]
                    for k, v in error.items()
                    if k in ("resource", "field", "code", "message")
                }
            )
    return kept


def _rate_limited(answer: GatewayResponse, message: str) -> bool:
    return answer.header("x-ratelimit-remaining") == "0" or "rate limit" in message.lower()


def _retry_after_ms(answer: GatewayResponse) -> int:
    retry_after = answer.header("retry-after")
    if retry_after and retry_after.isdigit():
        return int(retry_after) * 1000
    reset = answer.header("x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(1000, (int(reset) - int(time.time())) * 1000)
    return 60_000
