from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, EqualTo, InputRequired, Length

from panel.forms import PanelForm
from panel.forms.settings import stripped


def code_field(label: str = "確認コード") -> StringField:
    return StringField(
        label,
        validators=[
            InputRequired("確認コードを入力してください。"),
            Length(max=40, message="確認コードが正しくありません。"),
        ],
    )


def password_field(label: str = "現在のパスワード") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("パスワードを入力してください。"),
            Length(max=128, message="パスワードは128文字以内で入力してください。"),
        ],
    )


class CodeForm(PanelForm):
    """A code from the authenticator app, or a recovery code."""

    code = code_field()


class IdentityForm(PanelForm):
    """The password, and a code when two-factor login is on (the step-up, disabling two-factor
    login, new recovery codes). Views drop `code` for users without two-factor login."""

    password = password_field("パスワード")
    code = code_field()


class PasswordChangeForm(PanelForm):
    current_password = password_field()
    new_password = PasswordField(
        "新しいパスワード", validators=[InputRequired("新しいパスワードを入力してください。")]
    )
    new_password_again = PasswordField(
        "新しいパスワード(確認)",
        validators=[
            InputRequired("確認のため、新しいパスワードをもう一度入力してください。"),
            EqualTo("new_password", "新しいパスワードが一致しません。"),
        ],
    )


class AllowedNetworkForm(PanelForm):
    address = StringField(
        "IPアドレスまたは範囲(CIDR)",
        filters=[stripped],
        validators=[
            InputRequired("IPアドレスを入力してください。"),
            Length(max=64, message="IPアドレスは64文字以内で入力してください。"),
        ],
    )
    label = StringField(
        "名前(任意)",
        filters=[stripped],
        validators=[Length(max=50, message="名前は50文字以内で入力してください。")],
    )


class IpRestrictionForm(PanelForm):
    restricted = HiddenField(
        validators=[
            AnyOf(["on", "off"], message="IP制限を有効にするか無効にするかを選んでください。")
        ]
    )
