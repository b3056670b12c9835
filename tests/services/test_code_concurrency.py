"""One two-factor code sent by two requests at the same moment logs in once (PostgreSQL and
SQLite)."""

import threading
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from panel.extensions import db
from panel.models import User
from panel.refusals import DomainError
from panel.services import auth, two_factor
from panel.services.audit import Client
from tests import factories
from tests.concurrency import as_a_request, loaded_together, run_together

NOW = datetime(2026, 11, 21, 3, 0, 10, tzinfo=UTC)
CLIENT = Client(ip_address="192.0.2.10", user_agent="pytest")
ATTEMPTS = 8


def _enrolled_user() -> tuple[int, pyotp.TOTP, list[str]]:
    user = factories.owner(factories.customer())
    auth.start_session(user, CLIENT, remember=False, now=NOW - timedelta(minutes=5))
    totp = pyotp.TOTP(two_factor.start_enrolment(user))
    codes = two_factor.enable_two_factor(
        user, totp.at(NOW - timedelta(minutes=5)), CLIENT, NOW - timedelta(minutes=5)
    )
    db.session.commit()
    return user.id, totp, codes


def _race(app, user_id: int, code: str) -> list[object]:
    barrier = threading.Barrier(ATTEMPTS)

    def attempt():
        def check():
            user = loaded_together(barrier, lambda: db.session.get(User, user_id))
            two_factor.check_code(user, code, CLIENT, NOW)
            return "accepted"

        return as_a_request(app, check)

    return run_together([attempt] * ATTEMPTS)


@pytest.mark.parametrize("kind", ["totp", "recovery code"])
def test_a_code_sent_by_several_requests_at_once_is_accepted_once(app, kind):
    user_id, totp, recovery_codes = _enrolled_user()
    code = totp.at(NOW) if kind == "totp" else recovery_codes[0]
    outcomes = _race(app, user_id, code)
    assert outcomes.count("accepted") == 1, outcomes
    refusals = [outcome for outcome in outcomes if outcome != "accepted"]
    assert all(isinstance(refusal, DomainError) for refusal in refusals), refusals
    messages = [refusal.message for refusal in refusals]
    # Each other request is refused as a replay; where the requests run one after the other
    # (SQLite), those after the user's limit of wrong codes are refused by the throttle first.
    replays = [message for message in messages if "既に使われています" in message]
    assert set(messages) - set(replays) <= {two_factor.TOO_MANY_CODES}, messages
    assert len(replays) >= min(len(messages), 5), messages
