from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import InputRequired, Length


class LoginForm(FlaskForm):
    login_id = StringField(
        "会員ID",
        validators=[InputRequired("会員IDを入力してください。"), Length(max=64)],
    )
    password = PasswordField(
        "パスワード",
        validators=[InputRequired("パスワードを入力してください。"), Length(max=128)],
    )
    remember = BooleanField("ログイン状態を保持する")
