"""CPU sampling of real process trees (a busy child and an idle one)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from harness.benchmarks.cpu import CpuSampler, tree_cpu_seconds, window_percent

BUSY = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass"
IDLE = "import time; time.sleep(3)"
# The kernel reports user and system time in clock ticks, each rounded down, while the child
# measures its own CPU to the microsecond: the tree's figure may read up to a tick short of
# each (0.5 s counted as 0.50 against 0.500009 measured).
ROUNDING_S = 2 / os.sysconf("SC_CLK_TCK")


def test_a_busy_tree_uses_more_cpu_than_an_idle_one() -> None:
    # The busy loop runs in a grandchild, so only a sampler that sums the tree sees it.
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY!r}])",
        ]
    )
    idle = subprocess.Popen([sys.executable, "-c", IDLE])
    try:
        time.sleep(0.5)  # both children started
        with CpuSampler({"busy": busy.pid, "idle": idle.pid}, interval_s=0.1) as cpu:
            start = time.time()
            time.sleep(1.5)
            end = time.time()
        assert cpu.percent("busy", start, end) > cpu.percent("idle", start, end)
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()


def test_a_window_with_fewer_than_two_samples_has_no_figure() -> None:
    assert window_percent([(10.0, 1.0)], 9.0, 11.0) is None
    assert window_percent([(10.0, 1.0), (12.0, 2.0)], 9.0, 11.0) is None
    assert window_percent([(10.0, 1.0), (11.0, 1.5), (12.0, 2.0)], 10.0, 12.0) == 50.0


def test_a_tree_that_exits_keeps_its_samples() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    with CpuSampler({"child": child.pid}, interval_s=0.1) as cpu:
        child.wait()
        time.sleep(0.3)
    assert cpu.samples["child"]  # sampled while it ran, then left alone


def test_the_peak_of_a_tree_s_threads_is_kept() -> None:
    threaded = "import threading, time\n" + "\n".join(
        ["for _ in range(6): threading.Thread(target=time.sleep, args=(3,)).start()"]
    )
    child = subprocess.Popen([sys.executable, "-c", threaded])
    try:
        time.sleep(0.5)
        with CpuSampler({"server": child.pid}, interval_s=0.1) as cpu:
            start = time.time()
            time.sleep(0.5)
            end = time.time()
        assert cpu.peak_threads("server", start, end) == 7  # the main thread and six more
        assert cpu.peak_connections("server", start, end) == 0
        assert cpu.peak_threads("server", end + 10, end + 20) is None  # no sample there
    finally:
        child.kill()
        child.wait()


# A parent that waits for a line on stdin, then runs a child that burns half a second of CPU
# and exits, reaps it, and prints the CPU seconds the child measured for itself.
REAPING_PARENT = """
import subprocess, sys
sys.stdin.readline()
burn = "import time\\nwhile time.process_time() < 0.5: pass\\nprint(time.process_time())"
child = subprocess.run([sys.executable, "-c", burn], capture_output=True, text=True, check=True)
print(child.stdout.strip(), flush=True)
sys.stdin.readline()
"""


def _samples_after(cpu: CpuSampler, role: str, moment: float) -> None:
    while not any(at > moment for at, _ in cpu.samples[role]):
        time.sleep(0.05)


def test_the_cpu_of_a_child_that_exited_stays_in_its_tree() -> None:
    # PostgreSQL's postmaster reaps a backend per connection: the backend's CPU must not
    # vanish from the tree's figure when it exits between two samples.
    parent = subprocess.Popen(
        [sys.executable, "-c", REAPING_PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdin is not None and parent.stdout is not None
    try:
        with CpuSampler({"tree": parent.pid}, interval_s=0.05) as cpu:
            _samples_after(cpu, "tree", 0.0)  # one sample before the child exists
            before = cpu.samples["tree"][-1]
            parent.stdin.write("go\n")
            parent.stdin.flush()
            child_cpu_s = float(parent.stdout.readline())  # the child has exited, reaped
            reaped_at = time.time()
            _samples_after(cpu, "tree", reaped_at)
            after = cpu.samples["tree"][-1]
        assert after[1] - before[1] >= child_cpu_s - ROUNDING_S
        assert tree_cpu_seconds(parent.pid) - before[1] >= child_cpu_s - ROUNDING_S
    finally:
        parent.kill()
        parent.wait()
