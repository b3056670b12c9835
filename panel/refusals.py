"""The one error type a rule refuses with: raised by services, and by gateways through
`PaymentRefused`, so it lives below both."""


class DomainError(Exception):
    """A rule refused the request. `message` is Japanese and safe to show the user; `field`
    names the form field it concerns, when there is one.

    A refusal undoes everything the refused request changed, unless `keeps_record`: the service
    recorded the refused attempt itself (an audited wrong password or code, a declined card) and
    changed nothing else, and that record must survive the refusal."""

    def __init__(self, message: str, field: str | None = None, *, keeps_record: bool = False):
        super().__init__(message)
        self.message = message
        self.field = field
        self.keeps_record = keeps_record
