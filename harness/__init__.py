"""Evaluation harness for math reward models (Yuan et al., 2024, "Free Process Rewards without Process Labels")."""

__version__ = "0.1.0"
