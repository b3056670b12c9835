import pytest

from panel.extensions import db
from tests import factories
from tests.conftest import csrf_token

PROFILE = "/settings/profile"
VALID = {
    "name": "山田 花子",
    "contract_email": "hanako@example.jp",
    "sub_email": "hanako@example.com",
    "notify_40_days_before": "yes",
}


@pytest.fixture
def customer():
    return factories.customer(sub_email="taro-sub@example.com")


@pytest.fixture
def owner_client(client, login_as, customer):
    return login_as(factories.owner(customer))


def _post(client, data, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        PROFILE, data=data | {"csrf_token": csrf_token(client, PROFILE)}, headers=headers
    )


def _saved(customer):
    db.session.refresh(customer)
    return (
        customer.name,
        customer.contract_email,
        customer.sub_email,
        customer.notify_40_days_before,
    )


def test_the_profile_page_shows_the_current_details(owner_client):
    page = owner_client.get(PROFILE).get_data(as_text=True)
    assert "<h1>会員登録情報変更</h1>" in page
    assert 'value="taro@example.jp"' in page
    assert "サーバー更新日40日前のお知らせメール" in page
    assert "受信する" in page and "受信しない" in page


def test_saving_with_a_plain_form_redirects_with_a_message(owner_client, customer):
    response = _post(owner_client, VALID)
    assert response.status_code == 302
    assert _saved(customer) == ("山田 花子", "hanako@example.jp", "hanako@example.com", True)
    assert "会員登録情報を変更しました。" in owner_client.get(PROFILE).get_data(as_text=True)


def test_saving_with_htmx_sends_the_browser_to_the_page_again(owner_client, customer):
    response = _post(owner_client, VALID, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == PROFILE
    assert _saved(customer)[0] == "山田 花子"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "お名前を入力してください。"),
        ({"name": "あ" * 101}, "お名前は100文字以内で入力してください。"),
        ({"contract_email": ""}, "ご契約者メールアドレスを入力してください。"),
        ({"contract_email": "hanako@"}, "メールアドレスの形式が正しくありません"),
        ({"sub_email": "not an address"}, "メールアドレスの形式が正しくありません"),
        ({"sub_email": "HANAKO@example.jp"}, "ご契約者メールアドレスと別のアドレス"),
        ({"notify_40_days_before": "maybe"}, "受信するか受信しないかを選んでください。"),
    ],
)
def test_a_bad_field_gets_a_japanese_message_and_nothing_is_saved(
    owner_client, customer, changes, message
):
    before = _saved(customer)
    response = _post(owner_client, VALID | changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in page
    assert "入力内容をご確認ください。" in page  # the summary at the top
    assert _saved(customer) == before


def test_an_invalid_htmx_post_gets_just_the_form_back(owner_client, customer):
    response = _post(owner_client, VALID | {"contract_email": "broken"}, htmx=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.lstrip().startswith('<form id="profile-form"')
    assert "<html" not in page
    assert "メールアドレスの形式が正しくありません" in page
    assert "HX-Request" in response.headers["Vary"]


def test_an_empty_sub_email_removes_it(owner_client, customer):
    _post(owner_client, VALID | {"sub_email": ""})
    assert _saved(customer)[2] is None


def test_a_post_without_the_csrf_token_is_refused(owner_client, customer):
    before = _saved(customer)
    assert owner_client.post(PROFILE, data=VALID).status_code == 400
    assert _saved(customer) == before


@pytest.mark.parametrize("role", ["billing", "technical", "read_only"])
def test_only_the_owner_changes_member_details(client, login_as, customer, role):
    login_as(factories.sub_user(customer, f"taro-{role}", role))
    assert client.get(PROFILE).status_code == 403
    assert "会員登録情報変更" not in client.get("/").get_data(as_text=True)


def test_a_company_names_its_contact_person_for_its_documents(client, login_as):
    company = factories.company_on_invoice_terms()
    owner = login_as(factories.owner(company))
    page = owner.get(PROFILE).get_data(as_text=True)
    assert "ご担当者名(任意)" in page and "ご利用中(月末締め翌月末払い)" in page
    data = VALID | {"name": "株式会社テスト", "contact_name": " 経理部 田中 一郎 "}
    assert _post(owner, data).status_code == 302
    db.session.refresh(company)
    assert company.contact_name == "経理部 田中 一郎"
    assert _post(owner, data | {"contact_name": "田" * 61}).status_code == 200
    assert _post(owner, data | {"contact_name": ""}).status_code == 302
    db.session.refresh(company)
    assert company.contact_name is None


def test_an_individual_has_no_contact_person_even_when_one_is_sent(owner_client, customer):
    assert "ご担当者名" not in owner_client.get(PROFILE).get_data(as_text=True)
    assert _post(owner_client, VALID | {"contact_name": "誰か"}).status_code == 302
    db.session.refresh(customer)
    assert customer.contact_name is None


def test_the_reading_phone_and_address_are_read_as_typed(owner_client, customer):
    typed = VALID | {
        "name_kana": "やまだ はなこ",
        "phone": "０３ー１２３４ー５６７８",
        "postal_code": "１５００００１",
        "postal_address": "東京都渋谷区神宮前1-2-3",
    }
    assert _post(owner_client, typed).status_code == 302
    db.session.refresh(customer)
    assert (customer.name_kana, customer.phone, customer.postal_code) == (
        "ヤマダ ハナコ",
        "03-1234-5678",
        "150-0001",
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name_kana", "Yamada", "フリガナはカタカナで入力してください。"),
        ("phone", "03-1234", "電話番号は数字とハイフンで入力してください"),
        ("postal_code", "150-00", "郵便番号は7桁の数字で入力してください"),
        ("postal_code", "150-0001", "郵便番号と住所は両方入力してください"),
    ],
)
def test_a_reading_phone_or_address_that_cannot_be_is_refused(owner_client, field, value, message):
    response = _post(owner_client, VALID | {field: value})
    assert message in response.get_data(as_text=True)
