"""The store stage: what ``data/`` holds and how both sides read and write it.

The harness (collecting) writes through this package; the generators (rendering) read through
it; it imports nothing else of ours, so the site can be built with only the docs requirements.

- ``vocabulary``: outcomes, scenario ids, profile names and the other enumerations, defined once;
- ``metrics``: the registry of benchmark metrics (unit, label, headline, compared);
- ``layout``: where each file lives under ``data/``;
- ``files``: the one JSON style and atomic writes;
- ``parsing``: a file's JSON, strictly (no repeated key, no NaN, sizes capped);
- ``schema`` and ``schemas/``: the JSON Schemas, current and frozen older versions;
- ``migrations``: named steps that upgrade an older file as it is read;
- ``documents``: reading (upgrade, then validate) and writing (validate, then write) one file;
- ``validation``: the whole directory read once, with every problem named by file and field;
- ``summaries``: a benchmark figure's summaries against its repeats, its values against the
  registry's bounds;
- ``compare``: what changed between two captures on one machine.
"""
