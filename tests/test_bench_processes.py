"""What the ingest benchmark reads off /proc (bench/_processes.py): the RabbitMQ server is told
from a ``rabbitmqctl`` VM, and CPU used between two readings counts only processes read both
times (a process that ended in between once made the broker's figure negative)."""

from __future__ import annotations

import os

import pytest

from bench._processes import (
    cpu_by_process,
    cpu_seconds,
    cpu_used,
    is_rabbit_server,
    run_generator,
)


def test_the_rabbit_server_is_the_vm_that_boots_rabbit() -> None:
    server = [b"beam.smp", b"--", b"-noshell", b"-s", b"rabbit", b"boot", b"-boot", b"start_sasl"]
    control = [b"beam.smp", b"--", b"-noshell", b"-s", b"elixir", b"start_cli", b"rabbitmqctl"]
    assert is_rabbit_server(server)
    assert not is_rabbit_server(control)
    assert not is_rabbit_server([b"beam.smp", b"-s", b"rabbit"])


def test_a_process_that_ended_between_the_readings_is_not_counted() -> None:
    before = {1: 10.0, 2: 5.0}
    after = {1: 10.25}  # process 2 ended, taking its 5 s out of /proc
    assert cpu_used(before, after) == 0.25


def test_a_process_first_read_after_the_start_is_not_counted_whole() -> None:
    assert cpu_used({1: 1.0}, {1: 1.5, 3: 40.0}) == 0.5
    assert cpu_used({}, {3: 40.0}) is None  # nothing read both times: no figure


def test_this_process_is_read_and_gone_processes_are_left_out() -> None:
    own = os.getpid()
    readings = cpu_by_process([own, 2**22 + 1])  # beyond any pid_max: never running
    assert set(readings) == {own}
    assert 0 <= readings[own] <= (cpu_seconds(own) or 0)


@pytest.mark.slow
async def test_a_generator_that_used_less_than_a_tick_has_a_share_of_zero_not_none() -> None:
    # `sleep` uses no measurable CPU: its share is 0.0 (a reading), which a tiny benchmark run's
    # load generator can be too; None would mean it was never read.
    output, share = await run_generator("sleep", "0.3", env=dict(os.environ))
    assert output == ""
    assert share == 0.0
