from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from panel.forms import PanelForm
from panel.forms.settings import email_field, stripped
from panel.models import Role
from panel.services.users import ROLE_LABELS


def role_field() -> SelectField:
    return SelectField(
        "役割",
        default=Role.READ_ONLY,  # the least a new user can do, until the owner chooses more
        choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()],
        # The role is checked by the service, with a Japanese message.
        validate_choice=False,
    )


class SubUserForm(PanelForm):
    login_id = StringField(
        "ログインID",
        filters=[stripped],
        validators=[
            InputRequired("ログインIDを入力してください。"),
            Length(max=64, message="ログインIDは64文字以内で入力してください。"),
        ],
    )
    email = email_field("メールアドレス", required="メールアドレスを入力してください。")
    role = role_field()
    password = PasswordField(
        "初期パスワード", validators=[InputRequired("初期パスワードを入力してください。")]
    )


class RoleForm(PanelForm):
    role = role_field()
