"""File formats: what mtpipe reads cells from and writes translations into.

``catalog`` is the contract every localization catalog implements (gettext,
XLIFF, Android, Apple, ARB, i18next); each format is one module beside it.
"""
