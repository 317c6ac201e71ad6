"""How parallel captures share the machine: timed checks overlap, installs wait for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from harness.scheduling import MachineLock

DEADLOCK_GUARD_S = 10  # waits here only guard against hangs; nothing asserts a duration
SETTLE_S = 0.3  # long enough for a thread that was wrongly let in to have got in


class Holder:
    """A thread that enters a turn of the lock and stays inside until released."""

    def __init__(self, turn: Callable[[], AbstractContextManager[None]]) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(turn,), daemon=True)
        self.thread.start()

    def _run(self, turn: Callable[[], AbstractContextManager[None]]) -> None:
        with turn():
            self.inside.set()
            self.release.wait(DEADLOCK_GUARD_S)

    def finish(self) -> None:
        self.release.set()
        self.thread.join(DEADLOCK_GUARD_S)


def test_timed_checks_of_two_servers_run_at_the_same_time() -> None:
    lock = MachineLock()
    first = Holder(lock.timed_check)
    assert first.inside.wait(DEADLOCK_GUARD_S)
    second = Holder(lock.timed_check)
    assert second.inside.wait(DEADLOCK_GUARD_S)  # while the first is still inside
    first.finish()
    second.finish()


def test_an_install_waits_for_running_timed_checks_and_holds_new_ones_back() -> None:
    lock = MachineLock()
    timed = Holder(lock.timed_check)
    assert timed.inside.wait(DEADLOCK_GUARD_S)
    install = Holder(lock.install)
    time.sleep(SETTLE_S)
    assert not install.inside.is_set()  # a timed check is running
    later = Holder(lock.timed_check)
    time.sleep(SETTLE_S)
    assert not later.inside.is_set()  # an install is waiting: it goes first

    timed.finish()
    assert install.inside.wait(DEADLOCK_GUARD_S)
    time.sleep(SETTLE_S)
    assert not later.inside.is_set()  # the install is running
    install.finish()
    assert later.inside.wait(DEADLOCK_GUARD_S)
    later.finish()
    assert lock.install_s > 0


def test_a_heavy_check_takes_the_install_turn() -> None:
    lock = MachineLock()
    timed = Holder(lock.timed_check)
    assert timed.inside.wait(DEADLOCK_GUARD_S)
    heavy = Holder(lock.heavy_check)
    time.sleep(SETTLE_S)
    assert not heavy.inside.is_set()  # it waits for the timed check
    timed.finish()
    assert heavy.inside.wait(DEADLOCK_GUARD_S)
    install = Holder(lock.install)
    time.sleep(SETTLE_S)
    assert not install.inside.is_set()  # one exclusive turn at a time
    heavy.finish()
    assert install.inside.wait(DEADLOCK_GUARD_S)
    install.finish()


def test_each_check_takes_the_turn_its_kind_needs() -> None:
    from harness.checks import all_checks, turn_for

    lock = MachineLock()
    by_id = {check.id: check for check in all_checks()}
    assert turn_for(by_id["overload"], lock) == lock.heavy_check
    assert turn_for(by_id["http2-frames"], lock) == lock.heavy_check
    # One at a time also keeps its cluster-wide idle timeout away from another server's run.
    assert turn_for(by_id["database-connections"], lock) == lock.heavy_check
    assert turn_for(by_id["slow-client"], lock) == lock.timed_check
    assert turn_for(by_id["head-request"], lock) is not lock.timed_check
