"""tree_memory and MemorySampler against real process trees started here."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest

from harness.benchmarks.resources import MemorySampler, tree_memory

WAIT_S = 20.0
# A parent that forks CHILDREN sleeping children, then sleeps. On SIGUSR1 the parent fills
# 64 MB it did not have before.
FORKING_PARENT = """
import os, signal, sys, time
for _ in range(int(sys.argv[1])):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
grown = []
signal.signal(signal.SIGUSR1, lambda *_: grown.append(b"x" * (64 * 1024 * 1024)))
time.sleep(60)
"""
# A parent whose only child exits at once and is never waited for: a zombie.
ZOMBIE_PARENT = """
import os, time
if os.fork() == 0:
    os._exit(0)
time.sleep(60)
"""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def start_python() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(code: str, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            for child in children_of(process.pid):
                child.kill()
            process.kill()
        process.wait()


def children_of(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("memory-sampler-")]


def test_tree_memory_sums_a_parent_and_its_forked_children(start_python) -> None:
    parent = start_python(FORKING_PARENT, "3")
    wait_for(lambda: len(children_of(parent.pid)) == 3, "three children")

    memory = tree_memory(parent.pid)

    assert memory["processes"] == 4
    assert memory["memory_pss_bytes"] > 0
    # Forked children share the interpreter's pages: RSS counts them four times, PSS once.
    assert memory["memory_pss_bytes"] < memory["memory_rss_bytes"]
    alone = psutil.Process(parent.pid).memory_full_info()
    assert memory["memory_rss_bytes"] > alone.rss


def test_tree_memory_skips_a_child_that_has_exited(start_python) -> None:
    parent = start_python(ZOMBIE_PARENT)
    wait_for(
        lambda: [c.status() for c in children_of(parent.pid)] == [psutil.STATUS_ZOMBIE],
        "a zombie child",
    )

    assert tree_memory(parent.pid)["processes"] == 1


def test_tree_memory_of_a_process_that_is_gone_raises_process_lookup_error(
    start_python,
) -> None:
    process = start_python("pass")
    # Not waited for yet: a zombie, as a crashed server is until the harness polls it.
    wait_for(lambda: psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE, "a zombie")
    with pytest.raises(ProcessLookupError):
        tree_memory(process.pid)

    process.wait()
    with pytest.raises(ProcessLookupError):
        tree_memory(process.pid)


def test_sampler_peak_catches_growth_during_the_block(start_python) -> None:
    parent = start_python(FORKING_PARENT, "1")
    wait_for(lambda: len(children_of(parent.pid)) == 1, "one child")
    before = tree_memory(parent.pid)

    with MemorySampler(parent.pid, interval_s=0.05) as sampler:
        parent.send_signal(signal.SIGUSR1)
        wait_for(
            lambda: (
                sampler.peak is not None
                and sampler.peak["memory_pss_bytes"] > before["memory_pss_bytes"] + 32 * 2**20
            ),
            "a sample taken after the parent grew",
        )

    assert sampler.peak is not None
    assert sampler.peak["processes"] == 2
    assert sampler.samples >= 2
    assert sampler.stopped_because is None
    assert sampler_threads() == []


def test_sampler_thread_is_joined_when_the_block_raises(start_python) -> None:
    parent = start_python(FORKING_PARENT, "0")

    with (
        pytest.raises(RuntimeError, match="load run failed"),
        MemorySampler(parent.pid, interval_s=0.05) as sampler,
    ):
        wait_for(lambda: sampler.samples > 0, "a first sample")
        raise RuntimeError("load run failed")

    assert sampler_threads() == []
    assert sampler.peak is not None


def test_sampler_stops_and_says_why_when_the_process_exits(start_python) -> None:
    parent = start_python(FORKING_PARENT, "0")

    with MemorySampler(parent.pid, interval_s=0.05) as sampler:
        wait_for(lambda: sampler.samples > 0, "a first sample")
        parent.kill()
        parent.wait()
        wait_for(lambda: sampler.stopped_because is not None, "the sampler to notice")

    assert sampler.stopped_because == f"process {parent.pid} exited"
    assert sampler.peak is not None
    assert sampler_threads() == []
