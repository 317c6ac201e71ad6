"""Benchmark figures as the pages show them, from the benchmark files of ``evidence``.

- ``figures``: the files and figures shown (latest per machine and server) and the load
  tools' ceilings they are compared with;
- ``scenario_pages``: the title and question of each scenario's page;
- ``cells``: how one number, one table cell, one headline is shown;
- ``figure_charts``: the bar charts of the scenario pages;
- ``methodology``: how the shown figures were measured, as their files record it;
- ``export``: the public ``data/benchmarks.json``.
"""
