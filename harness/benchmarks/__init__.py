"""Benchmarks: load tests against each server configuration, measured with real load tools.

A *scenario* (``calibration``, ``h2load``, ``locust-polls``, ...) produces *figures*; each figure
is measured several times (*repeats*) and published as the median with its spread. The modules
here each do one job: drive one tool and read its output (``h2load``, ``locust``), hold idle
connections (``idle``), sample memory (``resources``), front a server with nginx (``nginx``),
pin processes to CPUs (``pinning``), and turn repeats into a figure (``measurement``).
"""
