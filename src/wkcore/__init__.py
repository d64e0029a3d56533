"""wkcore: the compiled kernels under wkpy (Morton order, codecs, WKW files)."""

from wkcore.errors import CorruptFileError, UnsupportedError, WkError

__all__ = ["CorruptFileError", "UnsupportedError", "WkError"]
