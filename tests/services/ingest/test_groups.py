"""The stage shape of ingest's group commit (services/ingest/_groups.py): items handled in
groups by a few workers, and a stage's ``linger`` gathering items that arrive one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from services.ingest._groups import Groups


class Recorder:
    def __init__(self, hold: float = 0.0) -> None:
        self.groups: list[list[int]] = []
        self.hold = hold

    async def __call__(self, group: list[int]) -> None:
        self.groups.append(list(group))
        await asyncio.sleep(self.hold)


async def put_apart(groups: Groups[int], items: range, gap: float) -> None:
    for item in items:
        groups.put([item])
        await asyncio.sleep(gap)


async def test_without_linger_a_lone_item_is_handled_at_once() -> None:
    handled = Recorder()
    groups = Groups(handled, workers=3)
    await put_apart(groups, range(4), 0.01)
    await groups.join()
    assert handled.groups == [[0], [1], [2], [3]]


async def test_items_arriving_within_the_linger_are_one_group_and_none_is_empty() -> None:
    handled = Recorder()
    groups = Groups(handled, workers=3, most=100, linger=0.2)
    await put_apart(groups, range(5), 0.01)
    await groups.join()
    assert handled.groups == [[0, 1, 2, 3, 4]]
    assert groups.busy == 0


async def test_a_full_group_is_handled_at_once_while_a_worker_lingers() -> None:
    handled = Recorder()
    groups = Groups(handled, workers=2, most=3, linger=1.0)
    groups.put([0])
    await asyncio.sleep(0.01)  # the first worker lingers
    groups.put([1, 2, 3])  # four queued: a full group
    await asyncio.wait_for(_until(lambda: len(handled.groups) == 1), 0.5)
    assert handled.groups == [[0, 1, 2]]
    await groups.join()  # what was left is one group more, and no empty one
    assert handled.groups == [[0, 1, 2], [3]]


async def test_a_stage_without_most_lingers_before_every_group() -> None:
    handled = Recorder(hold=0.05)
    groups = Groups(handled, workers=1, linger=0.1)
    await put_apart(groups, range(12), 0.02)
    await groups.join()
    assert [item for group in handled.groups for item in group] == list(range(12))
    assert len(handled.groups) <= 3  # 0.24 s of items, a group at most every 0.15 s


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


async def test_with_linger_under_only_a_lone_item_waits() -> None:
    handled = Recorder()
    groups = Groups(handled, workers=1, most=100, linger=0.3, linger_under=2)
    groups.put([0, 1])  # two together: handled at once
    await asyncio.wait_for(_until(lambda: len(handled.groups) == 1), 0.2)
    groups.put([2])  # a lone one waits for company
    await asyncio.sleep(0.1)
    groups.put([3])
    await groups.join()
    assert handled.groups == [[0, 1], [2, 3]]
