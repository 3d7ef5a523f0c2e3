"""The data a run starts from: sources (CSV, Parquet, the built-in simulator), the input contract (types, number
formats, categories, likely leaks), features and the time-ordered split - everything `prepare` does - and the
fraud segments (rows grouped by a column's values) that generators, the comparison and retraining share.

May import: `core`.
"""
