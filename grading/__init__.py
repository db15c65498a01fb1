"""Checks over a run's trace, shared by the project's tests and (later) the lab grader."""

from ._fates import check_message_fates

__all__ = ["check_message_fates"]
