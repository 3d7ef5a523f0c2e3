"""Synthetic fraud augmentation pipeline: does synthetic fraud help an XGBoost detector?"""

__version__ = "0.1.0"
