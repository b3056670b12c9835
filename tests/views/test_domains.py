"""ドメイン一覧・設定 and ドメインロックの詳細設定: what each role sees, the policy changed by a
plain post and by htmx, the locks and the AuthCode behind the step-up, hostile input."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import AuditEvent, Contract, DomainTldPolicy, Role
from tests import factories
from tests.conftest import csrf_token

PAGE = "/domains"
HTMX = {"HX-Request": "true"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _row(page: str, domain: Contract) -> str:
    match = re.search(rf'<tr id="domain-{domain.id}".*?</tr>', page, re.S)
    assert match, f"no row for {domain.name}"
    return match.group(0)


def _policy(page: str, domain: Contract) -> tuple[str, str]:
    row = _row(page, domain)
    policy = re.search(r'data-policy="([a-z_]+)"', row)
    source = re.search(r'data-source="([a-z]+)"', row)
    assert policy and source, row
    return policy.group(1), source.group(1)


@pytest.fixture
def customer():
    return factories.customer()


@pytest.fixture
def domains(customer):
    today = today_in_japan()
    return {
        name: factories.domain(customer, name, today + timedelta(days=days))
        for name, days in (("a.net", 40), ("b.net", 80), ("c.com", 120))
    }


@pytest.fixture
def owner_client(client, login_as, customer):
    return login_as(factories.owner(customer))


def _post(client, path, data, htmx=False, token_from=PAGE):
    return client.post(
        path,
        data=data | {"csrf_token": csrf_token(client, token_from)},
        headers=HTMX if htmx else {},
    )


def test_the_page_is_in_the_navigation_and_shows_each_domain(owner_client, domains):
    assert 'href="/domains"' in owner_client.get("/").get_data(as_text=True)
    response = owner_client.get(PAGE)
    page = response.get_data(as_text=True)
    assert "<h1>ドメイン一覧・設定</h1>" in page
    for domain in domains.values():
        assert _policy(page, domain) == ("auto_renew", "account")
        assert "移管ロック ON" in _row(page, domain)
    assert "アカウント全体の設定" in _text(response)
    assert "有効期限の30日前に、アカウント残高から1年分をお支払いして自動で更新します" in page
    # No AuthCode is ever part of the list.
    assert not any(domain.auth_code in page for domain in domains.values())


@pytest.mark.parametrize("htmx", [False, True])
def test_a_tlds_setting_changes_every_domain_under_it_at_once(owner_client, domains, htmx):
    response = _post(
        owner_client, f"{PAGE}/tld-policy", {"tld": "net", "policy": "auto_expire"}, htmx
    )
    if htmx:
        # The whole list comes back, the rows that changed marked.
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert page.startswith('<div id="domains">') or '<div id="domains">' in page[:400]
        assert "<html" not in page
        assert (
            response.headers["Vary"] == "Cookie, HX-Request"
            or "HX-Request" in (response.headers["Vary"])
        )
    else:
        assert response.status_code == 302 and response.headers["Location"] == PAGE
        page = owner_client.get(PAGE).get_data(as_text=True)
    assert "2件のドメインが変わりました: a.net(自動失効)、b.net(自動失効)" in page
    for name in ("a.net", "b.net"):
        assert _policy(page, domains[name]) == ("auto_expire", "tld")
    assert _policy(page, domains["c.com"]) == ("auto_renew", "account")
    if htmx:
        assert 'class="is-changed"' in _row(page, domains["a.net"])
        assert "is-changed" not in _row(page, domains["c.com"])


def test_a_domain_of_its_own_wins_over_its_tld_and_the_account(owner_client, domains):
    _post(owner_client, f"{PAGE}/policy", {"policy": "auto_expire"})
    _post(owner_client, f"{PAGE}/tld-policy", {"tld": ".net", "policy": "auto_renew"})
    response = _post(
        owner_client, f"{PAGE}/{domains['a.net'].id}/policy", {"policy": "auto_expire"}, True
    )
    page = response.get_data(as_text=True)
    assert "1件のドメインが変わりました: a.net(自動失効)" in page
    assert _policy(page, domains["a.net"]) == ("auto_expire", "domain")
    assert _policy(page, domains["b.net"]) == ("auto_renew", "tld")
    assert _policy(page, domains["c.com"]) == ("auto_expire", "account")
    # Following the TLD again.
    page = _post(
        owner_client, f"{PAGE}/{domains['a.net'].id}/policy", {"policy": "inherit"}, True
    ).get_data(as_text=True)
    assert _policy(page, domains["a.net"]) == ("auto_renew", "tld")


def test_a_setting_overridden_everywhere_says_that_nothing_changed(owner_client, domains):
    for domain in domains.values():
        page = _text(
            _post(owner_client, f"{PAGE}/{domain.id}/policy", {"policy": "auto_renew"}, True)
        )
        saved = f"{domain.name} の設定を保存しました。"
        assert f"{saved}自動更新・自動失効が変わったドメインはありません。" in page
    page = _text(_post(owner_client, f"{PAGE}/policy", {"policy": "auto_expire"}, True))
    assert (
        "アカウント全体の設定を保存しました。TLDごと・ドメインごとの設定が優先されるため、"
        "自動更新・自動失効が変わったドメインはありません。" in page
    )
    page = _text(_post(owner_client, f"{PAGE}/policy", {"policy": "auto_expire"}, True))
    assert "アカウント全体の設定は変わっていません。" in page


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("/policy", {"policy": "x" * 5000}, "自動更新か自動失効を選んでください。"),
        ("/policy", {}, "自動更新か自動失効を選んでください。"),
        ("/policy", {"policy": "auto_renew\x00"}, "使用できない文字"),
        ("/tld-policy", {"tld": "org", "policy": "auto_expire"}, "このTLDのドメインはご契約に"),
        ("/tld-policy", {"tld": "ｎｅｔ", "policy": "①"}, "設定を選んでください。"),
        ("/tld-policy", {"tld": "n" * 300, "policy": "inherit"}, "TLDが長すぎます。"),
        ("/tld-policy", {"tld": "net\u202e", "policy": "inherit"}, "使用できない文字"),
    ],
)
def test_hostile_input_gets_a_japanese_message(owner_client, domains, path, data, message):
    for htmx in (False, True):
        response = _post(owner_client, f"{PAGE}{path}", data, htmx)
        assert response.status_code == 200
        assert message in _text(response)
    db.session.rollback()
    assert db.session.scalar(select(DomainTldPolicy)) is None


def test_a_full_width_tld_is_the_tld(owner_client, domains):
    response = _post(
        owner_client, f"{PAGE}/tld-policy", {"tld": "．ＮＥＴ", "policy": "auto_expire"}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(DomainTldPolicy.tld)) == "net"


@pytest.mark.parametrize("domain_id", ["0", "99999999999999999999", "-1", "1.5", "a.net"])
def test_a_domain_id_that_is_none_of_ours_is_a_404(owner_client, domains, domain_id):
    for path in (f"{PAGE}/{domain_id}", f"{PAGE}/{domain_id}/policy"):
        method = owner_client.get if path.endswith(domain_id) else owner_client.post
        response = method(path, data={"csrf_token": csrf_token(owner_client, PAGE)})
        assert response.status_code == 404


def test_a_servers_id_is_no_domain(owner_client, customer, domains):
    server = factories.server(customer, "taro.jp", factories.plan(), today_in_japan())
    assert owner_client.get(f"{PAGE}/{server.id}").status_code == 404


@pytest.mark.parametrize("role", [Role.BILLING, Role.READ_ONLY])
def test_billing_and_read_only_see_the_pages_without_forms(
    client, login_as, customer, domains, role
):
    domains["a.net"].transfer_locked = False
    db.session.commit()
    login_as(factories.sub_user(customer, f"taro-{role}", role))
    page = client.get(PAGE).get_data(as_text=True)
    assert "<form" not in page.split('<main id="main"', 1)[1]
    assert "設定の変更は、管理者または技術担当の方が行えます。" in page
    assert _policy(page, domains["a.net"]) == ("auto_renew", "account")
    detail = client.get(f"{PAGE}/{domains['a.net'].id}").get_data(as_text=True)
    assert "<form" not in detail.split('<main id="main"', 1)[1]
    assert "AuthCodeの表示は、管理者または技術担当の方が行えます。" in detail
    refused = _post(client, f"{PAGE}/tld-policy", {"tld": "net", "policy": "auto_expire"})
    assert refused.status_code == 403


def test_technical_manages_domains(client, login_as, customer, domains):
    login_as(factories.sub_user(customer, "taro-tech", Role.TECHNICAL))
    assert 'href="/domains"' in client.get("/").get_data(as_text=True)
    response = _post(client, f"{PAGE}/tld-policy", {"tld": "net", "policy": "auto_expire"})
    assert response.status_code == 302
    user = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "domain_policy_changed"))
    assert user.user.login_id == "taro-tech"


# ドメインロックの詳細設定


def _locks(transfer="on", update="on", delete="on") -> dict:
    return {"transfer_locked": transfer, "update_locked": update, "delete_locked": delete}


@pytest.fixture
def clock():
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        yield traveller


def test_turning_the_transfer_lock_off_then_reading_the_authcode(owner_client, domains):
    domain = domains["a.net"]
    detail = f"{PAGE}/{domain.id}"
    page = owner_client.get(detail).get_data(as_text=True)
    assert "移管ロックがONのため、AuthCodeは表示されません。" in page
    assert 'id="auth-code-form"' not in page
    assert domain.auth_code not in page

    locked = _post(owner_client, f"{detail}/auth-code", {}, token_from=detail)
    assert "移管ロックがONのため、AuthCodeは表示できません。" in _text(locked)
    assert domain.auth_code not in locked.get_data(as_text=True)

    response = _post(owner_client, f"{detail}/lock", _locks(transfer="off"), True, detail)
    assert "ドメインロックの設定を保存しました。" in _text(response)
    page = owner_client.get(detail).get_data(as_text=True)
    assert 'id="auth-code-form"' in page
    assert domain.auth_code not in page  # still not until asked for

    shown = _post(owner_client, f"{detail}/auth-code", {}, True, detail)
    assert f'<code id="auth-code">{domain.auth_code}</code>' in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    events = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.customer_id == domain.customer_id)
    ).all()
    assert events.count("domain_lock_changed") == 1
    assert events.count("domain_auth_code_shown") == 1
    assert "移管ロック OFF" in _text(owner_client.get(f"{PAGE}"))


def test_locking_again_hides_the_authcode_and_makes_a_new_one(owner_client, domains):
    domain = domains["a.net"]
    detail = f"{PAGE}/{domain.id}"
    _post(owner_client, f"{detail}/lock", _locks(transfer="off"), token_from=detail)
    old = domain.auth_code
    done = _post(owner_client, f"{detail}/lock", _locks(), token_from=detail)
    assert done.status_code == 302 and done.headers["Location"] == detail
    assert "AuthCodeを新しくしました" in _text(owner_client.get(detail))
    db.session.refresh(domain)
    assert domain.auth_code != old and domain.transfer_locked


@pytest.mark.parametrize(
    "data",
    [
        {},
        _locks(transfer="maybe"),
        _locks(update="x" * 5000),
        _locks(delete="on\x00"),
        {"transfer_locked": "off"},
    ],
)
def test_a_lock_form_that_is_no_choice_changes_nothing(owner_client, domains, data):
    domain = domains["a.net"]
    detail = f"{PAGE}/{domain.id}"
    response = _post(owner_client, f"{detail}/lock", data, token_from=detail)
    assert response.status_code == 200
    assert "入力内容をご確認ください。" in _text(response)
    db.session.refresh(domain)
    assert domain.transfer_locked and domain.update_locked and domain.delete_locked


def test_after_ten_minutes_a_lock_and_the_authcode_need_the_password_again(
    owner_client, clock, domains
):
    domain = domains["a.net"]
    detail = f"{PAGE}/{domain.id}"
    _post(owner_client, f"{detail}/lock", _locks(transfer="off"), token_from=detail)
    clock.shift(timedelta(minutes=10, seconds=1))
    token = csrf_token(owner_client, detail)  # looking needs no step-up
    referer = {"Referer": f"http://localhost{detail}"}
    for path in (f"{detail}/lock", f"{detail}/auth-code"):
        asked = owner_client.post(path, data=_locks() | {"csrf_token": token}, headers=referer)
        assert asked.headers["Location"] == f"/settings/confirm?next={detail}"
        htmx = owner_client.post(path, data={"csrf_token": token}, headers=HTMX | referer)
        assert htmx.headers["HX-Redirect"] == f"/settings/confirm?next={detail}"
    db.session.refresh(domain)
    assert not domain.transfer_locked  # nothing changed
    confirmed = owner_client.post(
        f"/settings/confirm?next={detail}",
        data={"password": factories.PASSWORD, "csrf_token": token},
    )
    assert confirmed.headers["Location"] == detail
    shown = owner_client.post(f"{detail}/auth-code", data={"csrf_token": token})
    assert domain.auth_code in shown.get_data(as_text=True)


def test_an_expired_domain_is_shown_without_forms(owner_client, customer):
    old = factories.domain(customer, "old.net", today_in_japan() - timedelta(days=8))
    page = owner_client.get(PAGE).get_data(as_text=True)
    assert f'id="domain-policy-{old.id}"' not in page
    assert f'href="/domains/{old.id}"' not in page
    detail = owner_client.get(f"{PAGE}/{old.id}").get_data(as_text=True)
    assert "期限切れのドメインの設定は変更できません。" in detail
    refused = _post(owner_client, f"{PAGE}/{old.id}/lock", _locks(transfer="off"))
    assert "期限切れのドメインの設定は変更できません。" in _text(refused)
