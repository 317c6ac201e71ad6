"""Tests of the behaviour checks, each against deliberately misbehaving synthetic apps."""
