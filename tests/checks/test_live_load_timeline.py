"""The live-load figures from per-request records: failures by kind, which failures were in
flight at the event, the p99 windows, and when every request was on time again."""

from __future__ import annotations

import pytest

from harness.benchmarks.openload.records import RequestRecord, parse_records
from harness.checks.operations import live_load_timeline as timeline


def answered(due: float, latency: float, sent: float | None = None) -> RequestRecord:
    return RequestRecord(due, due if sent is None else sent, due + latency, "200", 40000)


def test_records_are_read_in_due_order_with_missing_times_as_none() -> None:
    text = "20.000 21.000 25.500 200 40001\n10.000 - - unanswered -\n15 15 16 errored 40002\n"
    records = parse_records(text)
    assert [record.due_ms for record in records] == [10.0, 15.0, 20.0]
    assert records[0] == RequestRecord(10.0, None, None, "unanswered", None)
    assert records[2].latency_ms == 5.5 and records[2].answered and records[2].port == 40001
    assert records[1].latency_ms is None and not records[1].answered


@pytest.mark.parametrize("line", ["1 2 3 200", "1 2 3 maybe -", "- 1 2 200 -", "1 2 3 200 x"])
def test_a_line_that_is_not_a_record_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_records(line)


def test_failures_are_named_by_kind() -> None:
    records = [
        RequestRecord(900.0, 950.0, 1001.0, "errored", 1),
        RequestRecord(1010.0, 1010.0, 1011.0, "errored", 2),
        RequestRecord(1020.0, 1020.0, 1030.0, "502", 3),
        RequestRecord(1030.0, None, None, "unanswered", None),
    ]
    assert timeline.failures_by_kind(records) == {
        "HTTP 502": 1,
        "connection lost (reset or closed by the server)": 2,
        "unanswered when the run ended": 1,
    }


def test_requests_lost_with_the_worker_are_those_on_its_connections() -> None:
    records = [
        RequestRecord(900.0, 950.0, 1001.0, "errored", 1),  # in flight on its connection
        RequestRecord(1010.0, 1010.0, 1011.0, "errored", 1),  # sent after, on its connection
        RequestRecord(990.0, 995.0, 1005.0, "errored", 2),  # in flight on another worker's
        RequestRecord(1020.0, 1020.0, 1030.0, "200", 1),  # answered: not lost
    ]
    lost = [timeline.lost_with_the_worker(record, 1000.0, [1]) for record in records]
    assert lost == [True, True, False, False]


def test_without_client_connections_the_requests_in_flight_at_the_event_are_lost() -> None:
    records = [
        RequestRecord(900.0, 950.0, 1001.0, "502", 7),  # in flight at the event
        RequestRecord(800.0, 850.0, 900.0, "502", 7),  # ended before it
        RequestRecord(1010.0, 1010.0, 1011.0, "502", 7),  # sent after it
    ]
    lost = [timeline.lost_with_the_worker(record, 1000.0, []) for record in records]
    assert lost == [True, False, False]


def test_windows_count_by_due_time_and_give_the_p99_of_the_answered() -> None:
    records = [answered(float(due), 10.0) for due in range(0, 1000, 10)]
    records += [answered(1000.0, 500.0), RequestRecord(1100.0, 1100.0, 1101.0, "errored", 1)]
    records += [answered(float(due), 20.0) for due in range(2000, 3000, 100)]
    windows = timeline.windows(records, event_ms=1000.0, around_ms=1000.0, end_ms=3000.0)
    assert [(w["name"], w["due"], w["answered"], w["failed"]) for w in windows] == [
        ("before", 100, 100, 0),
        ("around", 2, 1, 1),
        ("after", 10, 10, 0),
    ]
    assert [w["p99_ms"] for w in windows] == [10.0, 500.0, 20.0]


def test_back_to_normal_is_after_the_last_late_or_failed_request() -> None:
    records = [answered(float(due), 5.0) for due in range(0, 10_000, 100)]
    records[55] = answered(5500.0, 900.0)  # late: due 0.5 s after the event at 5 s
    records[60] = RequestRecord(6000.0, 6000.0, 6001.0, "errored", 1)  # failed, due 1 s after
    back = timeline.back_to_normal_s(
        records, event_ms=5000.0, bound_ms=100.0, interval_ms=100.0, end_ms=10_000.0, tail_ms=1000
    )
    assert back == 1.1


def test_one_late_request_in_a_second_is_the_machine_not_the_event() -> None:
    records = [answered(float(due), 5.0) for due in range(0, 10_000, 10)]  # 100 a second
    records[650] = answered(6500.0, 900.0)  # one late in the second after the event
    assert timeline.back_to_normal_s(records, 5000.0, 100.0, 10.0, 10_000.0, 1000.0) == 0.0
    records[651] = answered(6510.0, 900.0)  # a second late one in that second is too many
    assert timeline.back_to_normal_s(records, 5000.0, 100.0, 10.0, 10_000.0, 1000.0) == 1.52


def test_nothing_late_after_the_event_is_back_at_once() -> None:
    records = [answered(float(due), 5.0) for due in range(0, 10_000, 100)]
    assert timeline.back_to_normal_s(records, 5000.0, 100.0, 100.0, 10_000.0, 1000.0) == 0.0


def test_a_failure_in_the_last_seconds_is_not_back() -> None:
    records = [answered(float(due), 5.0) for due in range(0, 10_000, 100)]
    records[95] = RequestRecord(9500.0, None, None, "unanswered", None)
    assert timeline.back_to_normal_s(records, 5000.0, 100.0, 100.0, 10_000.0, 1000.0) is None


def test_a_request_late_before_the_event_and_done_before_it_does_not_count() -> None:
    records = [answered(float(due), 5.0) for due in range(0, 10_000, 100)]
    records[10] = answered(1000.0, 800.0)  # done at 1.8 s, long before the event
    assert timeline.back_to_normal_s(records, 5000.0, 100.0, 100.0, 10_000.0, 1000.0) == 0.0
