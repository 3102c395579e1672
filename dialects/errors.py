"""The one exception type users see from optc: a sentence that names the cause."""


class OptcError(Exception):
    """A user-facing error: bad model, bad IR, unsupported op. Printed without a traceback."""
