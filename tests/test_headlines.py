"""The benchmark index's rankings: ties come from overlapping ranges, never from names, and the
takeaways are computed from the same figures."""

from __future__ import annotations

from pathlib import Path

from evidence.validation import load_evidence
from generators.render import render_pages
from tests import synthetic


def _index(tmp_path: Path, figures: list[dict]) -> tuple[str, str]:
    rounds = synthetic.interleaved(
        [synthetic.interleaved_figure("ref-wsgi", "wsgi", [5000.0] * 3), *figures]
    )
    runs = [synthetic.run(server) for server in ("gunicorn-sync", "uwsgi-threads", "uvicorn")]
    synthetic.write_data(tmp_path, runs, [rounds])
    pages = render_pages(load_evidence(tmp_path))
    chart = next(svg for name, svg in pages.items() if name.endswith("index-1.svg"))
    return pages["benchmarks/index.md"], chart


def test_overlapping_ranges_share_a_rank_whatever_the_names(tmp_path: Path) -> None:
    # uWSGI's median is higher; Gunicorn's range reaches into it: a tie, shown as one.
    index, chart = _index(
        tmp_path,
        [
            synthetic.interleaved_figure(
                "gunicorn-sync", "wsgi", [1000.0, 1100.0, 1200.0], [0.2] * 3
            ),
            synthetic.interleaved_figure(
                "uwsgi-threads", "wsgi", [1150.0, 1180.0, 1300.0], [0.2] * 3
            ),
            synthetic.interleaved_figure("uvicorn", "asgi", [300.0, 310.0, 320.0], [0.1] * 3),
        ],
    )
    assert chart.index("1 (tie). uWSGI (threads)") < chart.index("1 (tie). Gunicorn (sync workers)")
    assert "3. Uvicorn" in chart
    takeaway = next(line for line in index.splitlines() if line.startswith("- Most requests"))
    assert "uWSGI \\(threads\\) and Gunicorn \\(sync workers\\) \\(tied" in takeaway
    assert "1,180 answered/s" in takeaway


def test_ranges_apart_give_ranks_apart(tmp_path: Path) -> None:
    index, chart = _index(
        tmp_path,
        [
            synthetic.interleaved_figure(
                "gunicorn-sync", "wsgi", [1400.0, 1500.0, 1600.0], [0.3] * 3
            ),
            synthetic.interleaved_figure(
                "uwsgi-threads", "wsgi", [1150.0, 1180.0, 1300.0], [0.2] * 3
            ),
            synthetic.interleaved_figure("uvicorn", "asgi", [300.0, 310.0, 320.0], [0.1] * 3),
        ],
    )
    assert "(tie)" not in chart
    assert chart.index("1. Gunicorn (sync workers)") < chart.index("2. uWSGI (threads)")
    assert "answered 4\\.8x as many requests as the fastest ASGI one" in index


def _two_captures(tmp_path: Path, later_rates: dict[str, list[float]]) -> str:
    earlier_rates = {"gunicorn-sync": [1400.0, 1500.0, 1600.0], "uwsgi-threads": [900.0] * 3}
    documents = []
    for capture, rates in (("20260101T000000Z", earlier_rates), ("20260101T020000Z", later_rates)):
        figures = [
            synthetic.interleaved_figure(server, "wsgi", values, [0.2] * len(values))
            for server, values in rates.items()
        ]
        documents.append(synthetic.interleaved(figures, capture=capture))
    runs = [synthetic.run(server) for server in ("gunicorn-sync", "uwsgi-threads")]
    synthetic.write_data(tmp_path, runs, documents)
    return render_pages(load_evidence(tmp_path))["benchmarks/interleaved.md"]


def test_two_interleaved_captures_that_agree_say_so(tmp_path: Path) -> None:
    page = _two_captures(
        tmp_path, {"gunicorn-sync": [1450.0, 1500.0, 1550.0], "uwsgi-threads": [950.0] * 3}
    )
    assert "2\\.0 h apart" in page
    assert "WSGI at 200 clients: the same ranks in both (1. Gunicorn" in page


def test_two_interleaved_captures_that_disagree_show_where_and_by_how_much(
    tmp_path: Path,
) -> None:
    page = _two_captures(
        tmp_path, {"gunicorn-sync": [700.0, 750.0, 800.0], "uwsgi-threads": [950.0] * 3}
    )
    line = next(line for line in page.splitlines() if "the ranks differ" in line)
    assert "Gunicorn (sync workers) 1 → 2 (1,500 → 750 answered/s, -50.0 %)" in line.replace(
        "\\", ""
    )
