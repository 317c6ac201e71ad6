"""The collecting side of Serving Django: start the sample project under each server, check
how it behaves, and record the evidence under ``data/``."""
