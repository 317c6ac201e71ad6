"""Per-CPU busy and steal shares from /proc/stat: a SYNTHETIC text, then this machine's own."""

from __future__ import annotations

import os
import re
import time

import pytest

from harness.benchmarks.proc_stat import (
    CpuShare,
    ProcStatError,
    parse_proc_stat,
    read_proc_stat,
    shares_between,
)

# SYNTHETIC readings, 1,000 ticks apart on each CPU. CPU 0: 900 busy (600 user, 50 nice,
# 200 system, 30 irq, 20 softirq), 40 stolen, 60 idle or waiting. CPU 1: idle but for 10 stolen.
BEFORE = """cpu  2000 0 1000 10000 100 0 0 0 0 0
cpu0 1000 0 500 5000 50 0 0 0 0 0
cpu1 1000 0 500 5000 50 0 0 0 0 0
intr 12345 0 0
ctxt 999
"""
AFTER = """cpu  2600 50 1200 11050 110 30 20 50 7 0
cpu0 1600 50 700 5050 60 30 20 40 7 0
cpu1 1000 0 500 5990 50 0 0 10 0 0
intr 22345 0 0
ctxt 1999
"""


def test_busy_and_steal_are_shares_of_each_cpu_s_elapsed_ticks() -> None:
    shares = shares_between(parse_proc_stat(BEFORE), parse_proc_stat(AFTER))
    # The total line is left out: it would average the saturated CPU with the idle one.
    assert shares == {
        0: CpuShare(busy_percent=90.0, steal_percent=4.0),
        1: CpuShare(busy_percent=0.0, steal_percent=1.0),
    }


def test_guest_time_is_not_counted_twice() -> None:
    # cpu0's guest column (7) is already inside its user time; adding it would make 907 busy.
    ticks = parse_proc_stat(AFTER)[0]
    assert ticks.busy == 1600 + 50 + 700 + 30 + 20
    assert ticks.total == ticks.busy + 5050 + 60 + 40


def test_an_old_kernel_s_short_lines_count_the_missing_counters_as_zero() -> None:
    assert parse_proc_stat("cpu0 10 0 5 100\n")[0].steal == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cpu0 10 0 x 100\n", "synthetic-stat, line 1: not a CPU line: 'cpu0 10 0 x 100'"),
        ("cpuX 10 0 5 100\n", "synthetic-stat, line 1: not a CPU line"),
        ("cpu 1 2 3 4\ncpu0 10 0\n", "synthetic-stat, line 2: fewer than 4 counters"),
        ("cpu 1 2 3 4\nintr 5\n", "synthetic-stat: no cpuN line"),
    ],
)
def test_a_malformed_text_is_refused_naming_the_source_and_line(text: str, problem: str) -> None:
    with pytest.raises(ProcStatError, match="^" + re.escape(problem)):
        parse_proc_stat(text, "synthetic-stat")


def test_a_cpu_on_which_no_tick_passed_has_no_share() -> None:
    assert shares_between(parse_proc_stat(BEFORE), parse_proc_stat(BEFORE)) == {}


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux only")
def test_this_machine_s_proc_stat_has_a_share_for_every_cpu_we_may_run_on() -> None:
    before = read_proc_stat()
    # Until every CPU has counted a tick (10 ms at USER_HZ 100); the deadline only keeps a
    # broken /proc/stat from hanging the suite, it judges no speed.
    deadline = time.monotonic() + 30
    while True:
        after = read_proc_stat()
        assert before is not None and after is not None
        shares = shares_between(before, after)
        if set(shares) >= os.sched_getaffinity(0) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert set(shares) >= os.sched_getaffinity(0)
    for share in shares.values():
        assert 0 <= share.busy_percent <= 100 and 0 <= share.steal_percent <= 100
        assert share.busy_percent + share.steal_percent <= 100
