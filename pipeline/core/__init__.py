"""Plumbing every other part of the package uses: errors, declarative value checks, paths, atomic file writes,
number formats, the prepared data's schema, the numeric feature encoding, the compute backend (where units of work
run) and provenance (commits, fingerprints, versions).

May import: nothing else in `pipeline` (only `core` itself).
"""
