"""Tests of the benchmark modules, against real processes on 127.0.0.1."""
