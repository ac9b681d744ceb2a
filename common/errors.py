"""Flat domain exceptions shared by the API, the workers and the CLI (rq style)."""


class TingshuError(Exception):
    """Base class for every domain error raised by tingshu."""


class ValidationError(TingshuError, ValueError):
    """A client-supplied value is invalid.

    Attributes:
        field: name of the offending request field (used in 4xx JSON bodies).
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TextTooLong(ValidationError):
    """The submitted text exceeds the configured limit."""


class JobNotFound(TingshuError):
    """No job with that id exists (or it has expired)."""


class InvalidJobOperation(TingshuError):
    """The job is in a state that does not allow the requested operation."""


class EngineUnavailable(TingshuError):
    """The configured engine cannot be loaded (missing extra, weights or device)."""


class SynthesisFailed(TingshuError):
    """An engine could not produce acceptable audio for a chunk, even after retries."""


class StorageError(TingshuError):
    """Reading or writing an object in the storage backend failed."""


class AccountNotFound(TingshuError):
    """No account with that id exists."""


class ApiKeyNotFound(TingshuError):
    """No API key matches that id, prefix or secret (or the match is ambiguous)."""


class InFlightLimitReached(TingshuError):
    """The account already has as many unfinished jobs as its limit allows."""

    def __init__(self, account: str, limit: int):
        super().__init__(f"account {account} has {limit} unfinished jobs; its limit is {limit}")
        self.account = account
        self.limit = limit
