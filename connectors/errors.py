"""The one exception family connectors raise.

A connector reports everything it can work around (a binary file, a scanned page, a wrong
PDF password) as a `Skipped` record in its stream, so that one bad file never stops a run.
`SourceError` is for what it cannot work around: the source the user named as a whole.
Callers catch `SourceError` alone and turn it into a one-line message.
"""


class SourceError(Exception):
    """The source as a whole cannot be read: missing, unreadable, or asked for wrongly."""


class UnknownConnectorError(SourceError, LookupError):
    """No connector is registered under the requested name."""


class OptionError(SourceError, TypeError):
    """A connector option is unknown or has a value of the wrong kind."""
