"""Stores keep what a pool learned across restarts."""

from .base import Group, Pending, Snapshot, Store

__all__ = ["Group", "Pending", "Snapshot", "Store"]
