"""The calibration's progress lines: every figure's answered rate, or why it failed."""

from harness.benchmarks.calibration import progress_text
from harness.benchmarks.figures import figure_record
from harness.benchmarks.measurement import Measurement


def test_a_locust_calibration_figure_shows_its_answered_rate():
    # Locust figures carry answered_per_s and no requests_per_s; the line once read the
    # missing metric and printed "FAILED: None" for a figure that had not failed.
    repeats = [
        Measurement(metrics={"answered_per_s": rate, "failures_percent": 0.0})
        for rate in (6602.0, 6681.0, 6732.0)
    ]
    record = figure_record("calibration", "locust http/1.1 nginx", {}, repeats)

    assert progress_text(record) == "6681 answered/s"


def test_a_failed_calibration_figure_shows_its_reason():
    record = figure_record(
        "calibration", "h2load h2c nginx", {}, [Measurement(failure="nginx did not start")]
    )

    assert progress_text(record) == "FAILED: nginx did not start"
