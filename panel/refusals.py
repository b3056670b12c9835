"""The refusals, below every layer that raises them: `DomainError`, the one error type a rule
refuses with (raised by services, and by gateways through `PaymentRefused`), and
`RefusedInput`, a request refused before any form could show why (forms, request guards).
"""

from werkzeug.exceptions import BadRequest


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


class RefusedInput(BadRequest):
    """A request refused before any form could show why (a 400); `description` is the
    Japanese reason shown on the page (`panel.errors`)."""
