"""What a person reads: report plots and the CSVs behind the DVC plots, and the comparison in words (Markdown).

May import: `core`, `data`, `generators`, `quality`, `experiment`.
"""
