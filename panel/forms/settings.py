from wtforms import EmailField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Length, Optional

from panel.forms import PanelForm

INVALID_EMAIL = "メールアドレスの形式が正しくありません(例: taro@example.jp)。"
EMAIL_TOO_LONG = "メールアドレスは254文字以内で入力してください。"


def stripped(value: str | None) -> str | None:
    return value.strip() if value else value


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
