"""Exceptions raised by the compiled core; the façade re-exports and extends them."""


class WkError(Exception):
    """Base class of every error wkpy raises on purpose."""


class CorruptFileError(WkError, ValueError):
    """A file's bytes contradict its format: bad header, table, index, or codec stream."""


class UnsupportedError(WkError, ValueError, NotImplementedError):
    """A valid file or request that wkpy does not handle (unknown codec, voxel type, a
    remote path, ...); webknossos raises `ValueError` or `NotImplementedError` there."""
