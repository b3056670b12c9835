"""The one error type services raise when a rule refuses."""


class DomainError(Exception):
    """A rule refused the request. `message` is Japanese and safe to show the user; `field`
    names the form field it concerns, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
