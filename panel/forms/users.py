from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from panel import labels
from panel.forms import PanelForm
from panel.forms.settings import email_field, stripped
from panel.models import Role
from panel.services.users import login_id_prefix


def role_field() -> SelectField:
    return SelectField(
        "役割",
        default=Role.READ_ONLY,  # the least a new user can do, until the owner chooses more
        choices=[SelectChoice(value, label) for value, label in labels.ROLE.items()],
        # The role is checked by the service, with a Japanese message.
        validate_choice=False,
    )


class SubUserForm(PanelForm):
    #: only the owner's part of the login ID, typed after the account's prefix shown beside it;
    #: its length and characters are the service's to judge, with a Japanese message
    login_id = StringField(
        "ログインID",
        filters=[stripped],
        validators=[InputRequired("ログインIDを入力してください。")],
    )
    email = email_field("メールアドレス", required="メールアドレスを入力してください。")
    role = role_field()
    password = PasswordField(
        "初期パスワード", validators=[InputRequired("初期パスワードを入力してください。")]
    )

    #: what the template shows before the login ID field
    login_id_prefix = staticmethod(login_id_prefix)


class RoleForm(PanelForm):
    role = role_field()
