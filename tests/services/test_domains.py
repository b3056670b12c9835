"""Domains: the policy at three levels, the locks and the AuthCode, the 10-year limit, and the
list of domains due for auto-renewal."""

import string
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.models import AuditEvent, Contract, Customer, DomainTldPolicy, User
from panel.models.domains import AUTH_CODE_SYMBOLS, DomainPolicy, PolicySource
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.contracts import domain_years_allowed, first_day_renewable_for_a_year
from panel.services.domains import (
    LOCKS,
    EffectivePolicy,
    change_domain_lock,
    domains_due_for_auto_renewal,
    domains_page,
    effective_domain_policies,
    effective_domain_policy,
    reveal_auth_code,
    set_account_domain_policy,
    set_domain_policy,
    set_tld_domain_policy,
)
from panel.services.renewal.page import plan_renewal_page
from panel.services.renewal.pricing import Selection, quote_renewal
from tests import factories
from tests.concurrency import as_a_request, run_together

TODAY = date(2026, 11, 21)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
RENEW, EXPIRE = DomainPolicy.AUTO_RENEW, DomainPolicy.AUTO_EXPIRE


@pytest.fixture
def customer():
    return factories.customer()


@pytest.fixture
def owner(customer):
    return factories.owner(customer)


@pytest.fixture
def domains(customer):
    """Two .net domains and a .com, expiring in 60, 90 and 120 days."""
    return {
        name: factories.domain(customer, name, TODAY + timedelta(days=days))
        for name, days in (("a.net", 60), ("b.net", 90), ("c.com", 120))
    }


def _policies(customer) -> dict[str, tuple[str, str]]:
    return {
        domain.name: (policy.policy, policy.source)
        for domain, policy in effective_domain_policies(customer)
    }


def _audit(action: str) -> list[str]:
    db.session.commit()
    return list(
        db.session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


# The policy at three levels


def test_an_account_with_nothing_set_renews_every_domain(customer, domains):
    assert customer.domain_policy == RENEW
    assert set(_policies(customer).values()) == {(RENEW, PolicySource.ACCOUNT)}


@pytest.mark.parametrize(
    ("account", "net", "own", "expected"),
    [
        (EXPIRE, None, None, (EXPIRE, PolicySource.ACCOUNT)),
        (RENEW, EXPIRE, None, (EXPIRE, PolicySource.TLD)),
        (EXPIRE, RENEW, None, (RENEW, PolicySource.TLD)),
        (RENEW, EXPIRE, RENEW, (RENEW, PolicySource.DOMAIN)),
        (EXPIRE, None, RENEW, (RENEW, PolicySource.DOMAIN)),
        (RENEW, RENEW, EXPIRE, (EXPIRE, PolicySource.DOMAIN)),
    ],
)
def test_the_most_specific_level_wins(customer, owner, domains, account, net, own, expected):
    set_account_domain_policy(customer, account, TODAY, owner, CLIENT)
    set_tld_domain_policy(customer, "net", net, TODAY, owner, CLIENT)
    set_domain_policy(domains["a.net"], own, TODAY, owner, CLIENT)
    db.session.commit()
    policies = _policies(customer)
    assert policies["a.net"] == expected
    assert effective_domain_policy(domains["a.net"]) == EffectivePolicy(*expected)
    # b.net has no setting of its own: its TLD's, else the account's.
    assert policies["b.net"] == (
        (net, PolicySource.TLD) if net else (account, PolicySource.ACCOUNT)
    )
    assert policies["c.com"] == (account, PolicySource.ACCOUNT)


def test_a_change_tells_which_domains_it_changed(customer, owner, domains):
    net = set_tld_domain_policy(customer, "net", EXPIRE, TODAY, owner, CLIENT)
    assert net.setting_changed
    assert [(c.name, c.before, c.after) for c in net.changes] == [
        ("a.net", RENEW, EXPIRE),
        ("b.net", RENEW, EXPIRE),
    ]
    # b.net keeps 自動更新 on its own; the account's change reaches c.com only.
    set_domain_policy(domains["b.net"], RENEW, TODAY, owner, CLIENT)
    account = set_account_domain_policy(customer, EXPIRE, TODAY, owner, CLIENT)
    assert [change.name for change in account.changes] == ["c.com"]
    # The same choice again changes nothing and is not audited again.
    again = set_account_domain_policy(customer, EXPIRE, TODAY, owner, CLIENT)
    assert (again.setting_changed, again.changes) == (False, [])
    assert _audit("domain_policy_changed") == [
        ".net: 自動失効",
        "b.net: 自動更新",
        "アカウント全体: 自動失効",
    ]


def test_following_the_account_again_removes_the_tlds_setting(customer, owner, domains):
    set_tld_domain_policy(customer, ".NET", EXPIRE, TODAY, owner, CLIENT)
    assert db.session.scalar(select(DomainTldPolicy.tld)) == "net"
    update = set_tld_domain_policy(customer, "ｎｅｔ", None, TODAY, owner, CLIENT)
    assert {change.name for change in update.changes} == {"a.net", "b.net"}
    assert db.session.scalar(select(func.count()).select_from(DomainTldPolicy)) == 0
    assert _audit("domain_policy_changed")[-1] == ".net: アカウント全体に従う"


@pytest.mark.parametrize("tld", ["org", "", "net\x00", "n" * 300])
def test_a_tld_the_customer_has_no_domain_under_is_refused(customer, owner, domains, tld):
    with pytest.raises(DomainError, match="このTLDのドメインはご契約にありません") as refused:
        set_tld_domain_policy(customer, tld, EXPIRE, TODAY, owner, CLIENT)
    assert refused.value.field == "tld"


def test_another_customers_tld_is_not_ours_to_set(customer, owner, domains):
    other = factories.customer("hanako")
    factories.domain(other, "hanako.org", TODAY + timedelta(days=30))
    with pytest.raises(DomainError):
        set_tld_domain_policy(customer, "org", EXPIRE, TODAY, owner, CLIENT)


@pytest.mark.parametrize("policy", ["", "auto", "AUTO_RENEW", None])
def test_a_policy_that_is_no_policy_is_refused(customer, owner, domains, policy):
    with pytest.raises(DomainError, match="自動更新か自動失効を選んでください"):
        set_account_domain_policy(customer, policy, TODAY, owner, CLIENT)
    if policy is not None:
        with pytest.raises(DomainError):
            set_domain_policy(domains["a.net"], policy, TODAY, owner, CLIENT)


def test_an_expired_domain_keeps_its_settings(customer, owner):
    old = factories.domain(customer, "old.net", TODAY - timedelta(days=8))
    with pytest.raises(DomainError, match="期限切れ"):
        set_domain_policy(old, EXPIRE, TODAY, owner, CLIENT)
    with pytest.raises(DomainError, match="期限切れ"):
        change_domain_lock(old, dict.fromkeys(LOCKS, False), TODAY, owner, CLIENT)
    # A domain in its grace period can still be set.
    grace = factories.domain(customer, "grace.net", TODAY - timedelta(days=7))
    assert set_domain_policy(grace, EXPIRE, TODAY, owner, CLIENT).changes


def test_two_changes_of_one_tlds_setting_at_once_both_succeed(app, customer, owner, domains):
    customer_id, owner_id = customer.id, owner.id

    def change(policy):
        def work():
            account = db.session.get(Customer, customer_id)
            by = db.session.get(User, owner_id)
            return set_tld_domain_policy(account, "net", policy, TODAY, by, CLIENT).setting_changed

        return lambda: as_a_request(app, work)

    results = run_together([change(EXPIRE), change(RENEW)])
    assert results == [True, True], results  # neither a unique-constraint error
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(DomainTldPolicy)) == 1


def test_the_page_lists_each_tld_with_its_setting(customer, owner, domains):
    set_tld_domain_policy(customer, "net", EXPIRE, TODAY, owner, CLIENT)
    factories.domain(customer, "d.co.jp", TODAY + timedelta(days=10))
    factories.domain(customer, "e.jp", TODAY + timedelta(days=10))
    page = domains_page(customer, TODAY)
    assert [(tld.tld, tld.policy, tld.domains) for tld in page.tlds] == [
        ("com", None, 1),
        ("jp", None, 1),
        ("co.jp", None, 1),
        ("net", EXPIRE, 2),
    ]
    assert [row.domain.name for row in page.rows] == ["d.co.jp", "e.jp", "a.net", "b.net", "c.com"]


# Locks and the AuthCode


def test_a_new_domain_is_locked_with_an_authcode_of_its_own(customer, domains):
    codes = {domain.auth_code for domain in domains.values()}
    assert len(codes) == 3
    for domain in domains.values():
        assert (domain.transfer_locked, domain.update_locked, domain.delete_locked) == (
            True,
            True,
            True,
        )
        code = domain.auth_code
        assert len(code) == 16
        assert any(c in string.ascii_letters for c in code)
        assert any(c in string.digits for c in code)
        assert any(c in AUTH_CODE_SYMBOLS for c in code)


def test_the_authcode_is_shown_only_while_the_transfer_lock_is_off(customer, owner, domains):
    domain = domains["a.net"]
    with pytest.raises(DomainError, match="移管ロックがONのため"):
        reveal_auth_code(domain, TODAY, owner, CLIENT)
    assert _audit("domain_auth_code_shown") == []

    update = change_domain_lock(
        domain,
        {"transfer_locked": False, "update_locked": True, "delete_locked": True},
        TODAY,
        owner,
        CLIENT,
    )
    assert update.changed == ["transfer_locked"]
    code = reveal_auth_code(domain, TODAY, owner, CLIENT)
    assert code == domain.auth_code
    assert _audit("domain_lock_changed") == ["a.net: 移管ロック OFF"]
    shown = _audit("domain_auth_code_shown")
    assert shown == ["a.net"]
    # The code itself is never written to the audit log.
    assert not any(code in detail for detail in _audit("domain_lock_changed") + shown)


def test_locking_again_gives_the_domain_a_new_authcode(customer, owner, domains):
    domain = domains["a.net"]
    unlocked = dict.fromkeys(LOCKS, False)
    change_domain_lock(domain, unlocked, TODAY, owner, CLIENT)
    shown = reveal_auth_code(domain, TODAY, owner, CLIENT)
    # Other locks on again: the code stays.
    change_domain_lock(domain, unlocked | {"delete_locked": True}, TODAY, owner, CLIENT)
    assert domain.auth_code == shown
    change_domain_lock(domain, dict.fromkeys(LOCKS, True), TODAY, owner, CLIENT)
    assert domain.auth_code != shown
    assert _audit("domain_lock_changed") == [
        "a.net: 移管ロック OFF、更新ロック OFF、削除ロック OFF",
        "a.net: 削除ロック ON",
        "a.net: 移管ロック ON、更新ロック ON",
    ]


def test_the_same_locks_again_change_nothing(customer, owner, domains):
    update = change_domain_lock(domains["a.net"], dict.fromkeys(LOCKS, True), TODAY, owner, CLIENT)
    assert update.changed == []
    assert _audit("domain_lock_changed") == []
    with pytest.raises(DomainError, match="ロックのONかOFF"):
        change_domain_lock(domains["a.net"], {"transfer_locked": False}, TODAY, owner, CLIENT)


# The 10-year limit


@pytest.mark.parametrize(
    ("today", "expiry", "years"),
    [
        (TODAY, TODAY, 10),  # exactly 10 years from today
        (TODAY, TODAY + timedelta(days=1), 9),  # a day more would pass it
        (TODAY, TODAY - timedelta(days=3), 10),  # in the grace period
        (TODAY, date(2035, 11, 21), 1),  # nine years ahead: one more year
        (TODAY, date(2035, 11, 22), 0),  # at the limit: none
        (TODAY, date(2036, 11, 21), 0),
        # A leap day: the limit is February 28th ten years on (2038 is no leap year).
        (date(2028, 2, 29), date(2028, 2, 29), 10),  # + 10 years = 2038-02-28
        (date(2028, 2, 29), date(2028, 3, 1), 9),
        (date(2028, 2, 28), date(2028, 2, 29), 10),  # 2038-02-28 ≤ 2038-02-28
        (date(2027, 2, 28), date(2028, 2, 29), 9),  # + 9 years = 2037-02-28, the limit
    ],
)
def test_the_years_that_keep_a_domain_within_10_years(today, expiry, years):
    assert domain_years_allowed(expiry, today) == list(range(1, years + 1))


def test_the_first_day_a_domain_at_the_limit_can_be_renewed_for_a_year():
    expiry = date(2036, 5, 31)
    first = first_day_renewable_for_a_year(expiry)
    assert first == date(2027, 5, 31)
    assert domain_years_allowed(expiry, first) == [1]
    assert domain_years_allowed(expiry, first - timedelta(days=1)) == []


@pytest.fixture
def priced():
    factories.domain_price("com", 1_650)


def test_the_renewal_picker_offers_only_the_years_within_the_limit(customer, priced):
    domain = factories.domain(customer, "taro.com", date(2033, 11, 21))  # 7 years ahead
    page = plan_renewal_page(customer, frozenset(), {}, {}, False, TODAY)
    (row,) = page.rows
    assert row.period_options == [12, 24, 36]
    assert row.months == 12 and row.result.new_renewal_date == date(2034, 11, 21)
    # Asking for the page with a longer period (a forged picker) prices the default instead.
    page = plan_renewal_page(customer, frozenset(), {domain.id: 120}, {}, False, TODAY)
    assert page.rows[0].months == 12


def test_a_forged_period_past_the_limit_is_refused_with_the_most_allowed(customer, priced):
    domain = factories.domain(customer, "taro.com", date(2033, 11, 21))
    quote = quote_renewal(customer, [Selection(domain.id, 48)], False, TODAY)
    assert quote.renewals == []
    message = quote.refusals[domain.id].message
    assert "本日から10年後(2036年11月21日)まで" in message
    assert "3年までの期間をお選びください" in message
    # Applying it is refused too, whatever the form said.
    with pytest.raises(DomainError, match="3年まで"):
        factories.renewal_bill(customer, domain, months=48, today=TODAY)
    # Exactly at the limit is allowed.
    assert quote_renewal(customer, [Selection(domain.id, 36)], False, TODAY).renewals


def test_a_domain_at_the_limit_says_why_it_cannot_be_renewed_now(customer, priced):
    factories.domain(customer, "taro.com", date(2036, 2, 1))
    page = plan_renewal_page(customer, frozenset(), {}, {}, False, TODAY)
    (row,) = page.rows
    assert row.period_options == []
    assert row.refusal is not None
    assert "現在は更新できません" in row.refusal.message
    assert "2027年2月1日から1年の更新をお申込いただけます" in row.refusal.message


# The seam for auto-renewal from the balance


def test_the_domains_due_for_auto_renewal(customer, owner):
    due = {
        name: factories.domain(customer, name, TODAY + timedelta(days=days))
        for name, days in (
            ("in30.com", 30),  # the day: 30 days before
            ("in10.com", 10),  # a missed day catches up
            ("today.com", 0),
            ("in31.com", 31),  # not yet
            ("yesterday.com", -1),  # expired: renewed by hand in the grace period only
            ("expiring.net", 20),  # on 自動失効
            ("billed.com", 20),  # on a bill awaiting payment
        )
    }
    set_tld_domain_policy(customer, "net", EXPIRE, TODAY, owner, CLIENT)
    factories.domain_price("com", 1_650)
    factories.renewal_bill(customer, due["billed.com"], today=TODAY)
    db.session.commit()
    listed = {
        db.session.get(Contract, domain_id).name
        for _, domain_id in domains_due_for_auto_renewal(TODAY)
    }
    assert listed == {"in30.com", "in10.com", "today.com"}
