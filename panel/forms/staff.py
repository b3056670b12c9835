"""The staff console's forms: login, payment confirmation, flagged money, mail, staff members."""

from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from panel import labels
from panel.forms import PanelForm
from panel.forms.bills import JapaneseDateField, YenField, normalised
from panel.forms.security import password_field
from panel.forms.settings import stripped
from panel.models import StaffRole


class StaffLoginForm(PanelForm):
    login_id = StringField(
        "ログインID",
        filters=[stripped],
        validators=[
            InputRequired("ログインIDを入力してください。"),
            Length(max=64, message="ログインIDは64文字以内で入力してください。"),
        ],
    )
    password = password_field("パスワード")


def note_field(label: str, required: str | None = None) -> StringField:
    """A staff member's short note (up to 200 characters); `required` is the message when it is
    left empty (None: it may be)."""
    presence = [InputRequired(required)] if required else []
    return StringField(
        label,
        filters=[normalised],
        validators=[*presence, Length(max=200, message="メモは200文字以内で入力してください。")],
    )


def _confirmation_number(form, field) -> None:
    """The bill's n-th confirmation, as the page wrote it: 1 to 9999 in ASCII digits."""
    value = field.data or ""
    if not (value.isascii() and value.isdigit() and 0 < len(value) <= 4 and int(value) > 0):
        raise ValidationError("ページの内容が古くなっています。ページを開き直してください。")


class PaymentConfirmationForm(PanelForm):
    """What the bank statement (or the store's report) shows for one bill."""

    amount = YenField("入金額(円)", validators=[InputRequired("入金額を入力してください。")])
    received_on = JapaneseDateField(
        "入金日", validators=[InputRequired("入金日を入力してください。")]
    )
    note = note_field("メモ(金額が異なるときは必須)")
    #: the bill's confirmation this form is (see services/staff/money.py)
    confirmation = HiddenField(validators=[_confirmation_number])

    @property
    def confirmation_number(self) -> int:
        """Once the form is valid: the confirmation this form is."""
        return int(self.confirmation.data)


class ApplyFlaggedForm(PanelForm):
    bill_no = StringField(
        "充当する請求No.",
        filters=[normalised],
        validators=[
            InputRequired("請求No.を入力してください。"),
            Length(max=20, message="請求No.を正しく入力してください(例: 20261121-0001)。"),
        ],
    )
    note = note_field("メモ(任意)")


class RefundForm(PanelForm):
    note = note_field("返金の方法と日付", required="返金の方法と日付を入力してください。")


class CreditForm(PanelForm):
    note = note_field("メモ(任意)")


class DropMailForm(PanelForm):
    reason = note_field("中止する理由", required="送信を中止する理由を入力してください。")


class StaffMemberForm(PanelForm):
    login_id = StringField(
        "ログインID",
        filters=[stripped],
        validators=[
            InputRequired("ログインIDを入力してください。"),
            Length(max=64, message="ログインIDは64文字以内で入力してください。"),
        ],
    )
    name = StringField(
        "名前",
        filters=[stripped],
        validators=[
            InputRequired("名前を入力してください。"),
            Length(max=100, message="名前は100文字以内で入力してください。"),
        ],
    )
    role = SelectField(
        "役割",
        choices=[SelectChoice(role.value, labels.STAFF_ROLE[role]) for role in StaffRole],
        # The role is checked by the service, with a Japanese message.
        validate_choice=False,
    )
    password = PasswordField(
        "初期パスワード", validators=[InputRequired("初期パスワードを入力してください。")]
    )
