"""What a person reads: report plots and the CSVs behind the DVC plots.

May import: `core`, `data`, `generators`, `quality`, `experiment`.
"""
