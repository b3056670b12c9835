from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from panel.forms import PanelForm


class LoginForm(PanelForm):
    login_id = StringField(
        "会員ID",
        validators=[
            InputRequired("会員IDを入力してください。"),
            Length(max=64, message="会員IDは64文字以内で入力してください。"),
        ],
    )
    password = PasswordField(
        "パスワード",
        validators=[
            InputRequired("パスワードを入力してください。"),
            Length(max=128, message="パスワードは128文字以内で入力してください。"),
        ],
    )
    remember = BooleanField("ログイン状態を保持する")
