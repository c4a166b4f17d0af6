"""Refusals that come from the database's own constraints."""


class SlotOverlap(Exception):
    """The store refused a slot that overlaps another slot-holding request."""
