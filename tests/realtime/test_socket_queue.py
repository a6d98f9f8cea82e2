"""SocketQueue (realtime/socket_queue.py) keeps asyncio.Queue's behaviour for an unbounded
queue: the same answers to any sequence of operations, a waiting getter woken by a put,
a woken getter that is cancelled handing the item on, and join/task_done."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.socket_queue import SocketQueue

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers()),
        st.tuples(st.just("get"), st.none()),
        st.tuples(st.just("done"), st.none()),
    ),
    max_size=60,
)


def outcome(queue: object, name: str, value: object) -> object:
    try:
        if name == "put":
            return queue.put_nowait(value)  # type: ignore[attr-defined]
        if name == "get":
            return queue.get_nowait()  # type: ignore[attr-defined]
        return queue.task_done()  # type: ignore[attr-defined]
    except (asyncio.QueueEmpty, ValueError) as error:
        return type(error)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_any_sequence_of_operations_answers_as_asyncio_queue_does(operations) -> None:
    ours, theirs = SocketQueue(), asyncio.Queue()
    for name, value in operations:
        assert outcome(ours, name, value) == outcome(theirs, name, value)
        assert (ours.qsize(), ours.empty(), ours.full()) == (
            theirs.qsize(),
            theirs.empty(),
            theirs.full(),
        )


async def test_a_waiting_getter_gets_what_is_put_in_order() -> None:
    queue = SocketQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert queue._getters, "parked in get(): what the direct write checks"
    await queue.put("a")
    queue.put_nowait("b")
    assert await getter == "a"
    assert not queue._getters
    assert await queue.get() == "b"
    assert queue.empty()


async def test_a_cancelled_getter_leaves_no_trace() -> None:
    queue = SocketQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert not queue._getters
    queue.put_nowait(1)
    assert await queue.get() == 1


async def test_a_getter_cancelled_after_its_wake_up_hands_the_item_on() -> None:
    queue = SocketQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("only")  # wakes the first getter
    first.cancel()  # before it ran to take the item
    with pytest.raises(asyncio.CancelledError):
        await first
    async with asyncio.timeout(5):
        assert await second == "only"


async def test_join_waits_until_every_item_is_done() -> None:
    queue = SocketQueue()
    await queue.join()  # nothing unfinished: returns at once
    queue.put_nowait(1)
    queue.put_nowait(2)
    joiner = asyncio.ensure_future(queue.join())
    queue.get_nowait()
    queue.task_done()
    await asyncio.sleep(0)
    assert not joiner.done()
    queue.get_nowait()
    queue.task_done()
    async with asyncio.timeout(5):
        await joiner
    with pytest.raises(ValueError):
        queue.task_done()
