import re
import unicodedata

from wtforms import EmailField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from panel.forms import PanelForm

INVALID_EMAIL = "メールアドレスの形式が正しくありません(例: taro@example.jp)。"
EMAIL_TOO_LONG = "メールアドレスは254文字以内で入力してください。"


def stripped(value: str | None) -> str | None:
    return value.strip() if value else value


def katakana(value: str | None) -> str | None:
    """A reading as typed (half-width kana, hiragana, full-width spaces) in full-width katakana
    with single spaces."""
    if not value:
        return value
    text = unicodedata.normalize("NFKC", value)
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return " ".join(text.split())


def half_width(value: str | None) -> str | None:
    """Full-width digits and hyphens as half-width (０３ー１２３４ → 03-1234), spaces trimmed."""
    if not value:
        return value
    text = unicodedata.normalize("NFKC", value).strip()
    return re.sub("[‐‑‒–—―−ー]", "-", text)


def _phone_number(form, field) -> None:
    digits = [c for c in field.data or "" if c.isdigit()]
    if field.data and not (10 <= len(digits) <= 15 and re.fullmatch(r"\+?[0-9()\- ]+", field.data)):
        raise ValidationError("電話番号は数字とハイフンで入力してください(例: 03-1234-5678)。")


def _address_complete(form, field) -> None:
    if bool(form.postal_code.data) != bool(form.postal_address.data):
        raise ValidationError("郵便番号と住所は両方入力してください(紙面の請求書の郵送先です)。")


def email_field(label: str, *, required: str | None) -> EmailField:
    """An e-mail address field; `required` is the message when it is left empty (None: it may
    be left empty)."""
    presence = DataRequired(required) if required else Optional()
    return EmailField(
        label,
        filters=[stripped],
        validators=[presence, Length(max=254, message=EMAIL_TOO_LONG), Email(INVALID_EMAIL)],
    )


class ProfileForm(PanelForm):
    name = StringField(
        "お名前(法人の場合は法人名)",
        filters=[stripped],
        validators=[
            DataRequired("お名前を入力してください。"),
            Length(max=100, message="お名前は100文字以内で入力してください。"),
        ],
    )
    contact_name = StringField(
        "ご担当者名(任意)",
        filters=[stripped],
        validators=[
            Optional(),
            Length(max=60, message="ご担当者名は60文字以内で入力してください。"),
        ],
    )
    contract_email = email_field(
        "ご契約者メールアドレス", required="ご契約者メールアドレスを入力してください。"
    )
    sub_email = email_field("サブメールアドレス(任意)", required=None)
    name_kana = StringField(
        "フリガナ(任意)",
        filters=[katakana],
        validators=[
            Optional(),
            Length(max=100, message="フリガナは100文字以内で入力してください。"),
            Regexp(r"^[ァ-ヶー・ ]+$", message="フリガナはカタカナで入力してください。"),
        ],
    )
    phone = StringField(
        "電話番号(任意)",
        filters=[half_width],
        validators=[
            Length(max=20, message="電話番号は20文字以内で入力してください。"),
            _phone_number,
        ],
    )
    postal_code = StringField(
        "郵便番号",
        filters=[half_width],
        validators=[
            Optional(),
            Regexp(
                r"^[0-9]{3}-?[0-9]{4}$",
                message="郵便番号は7桁の数字で入力してください(例: 150-0001)。",
            ),
        ],
    )
    postal_address = StringField(
        "住所",
        filters=[stripped],
        validators=[
            Length(max=200, message="住所は200文字以内で入力してください。"),
            _address_complete,
        ],
    )
    notify_40_days_before = RadioField(
        "サーバー更新日40日前のお知らせメール",
        choices=[SelectChoice("yes", "受信する"), SelectChoice("no", "受信しない")],
        # The choice is checked by AnyOf below, with a Japanese message.
        validate_choice=False,
        validators=[
            InputRequired("受信するか受信しないかを選んでください。"),
            AnyOf(["yes", "no"], message="受信するか受信しないかを選んでください。"),
        ],
    )
