"""Helpers of datasets that are not part of the public surface."""
