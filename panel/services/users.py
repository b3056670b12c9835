"""Sub-users and their roles (役割管理): the owner decides who may log in to the account and
what each login may do."""

import re
from datetime import datetime

from sqlalchemy import func, select

from panel import labels
from panel.extensions import db
from panel.models import Customer, Role, User
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.auth import end_sessions, hash_password, password_problem

#: Joins the member ID and the name the owner gives a sub-user into the sub-user's login ID
#: (`demo-corp+keiri`). A member ID cannot contain it (a check on the customers table), nor can
#: a name, nor the login IDs sub-users were given before (a–z 0–9 . _ -): so the text before
#: it names the one account the ID belongs to, and no sub-user's ID can be another account's.
LOGIN_ID_SEPARATOR = "+"
#: The owner's part of a sub-user's login ID; with a member ID of at most 32 characters, the
#: whole ID fits the login ID's 64.
SUB_USER_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,30}")
LAST_OWNER = "管理者が1人もいなくなるため、この変更はできません。先に別の管理者を設定してください。"


def _lock(customer: Customer) -> None:
    """Serialise changes to the account's users, so that two owners demoting each other at
    once cannot leave the account without one."""
    db.session.refresh(customer, with_for_update=True)


def _active_owners(customer: Customer) -> int:
    return db.session.scalars(
        select(func.count())
        .select_from(User)
        .where(
            User.customer_id == customer.id,
            User.role == Role.OWNER,
            User.disabled_at.is_(None),
        )
    ).one()


def _refuse_losing_last_owner(user: User) -> None:
    if user.is_owner and user.is_active and _active_owners(user.customer) <= 1:
        raise DomainError(LAST_OWNER)


def login_id_prefix(customer: Customer) -> str:
    """What the login ID of every sub-user the owner adds starts with."""
    return f"{customer.member_id}{LOGIN_ID_SEPARATOR}"


def sub_user_login_id(customer: Customer, name: str) -> str:
    """The login ID of the sub-user whom the owner names `name` (`keiri` → `demo-corp+keiri`);
    the whole ID with the account's own prefix is understood too."""
    name = name.strip().lower()
    prefix = login_id_prefix(customer)
    if name.startswith(prefix.lower()):
        name = name[len(prefix) :]
    if not SUB_USER_NAME_PATTERN.fullmatch(name):
        raise DomainError(
            f"ログインIDの「{prefix}」に続く部分は、半角英小文字・数字・記号(. _ -)の1〜31文字で、"
            "英数字で始めてください。",
            field="login_id",
        )
    return prefix + name


def add_sub_user(
    customer: Customer,
    *,
    login_id: str,
    email: str,
    role: str,
    password: str,
    by: User,
    client: Client,
) -> User:
    """Add a sub-user under `login_id`: the name the owner typed after the account's prefix.
    The ID lives in the account's own namespace, so "already used" can only mean one of its
    own users, and the answer tells nothing about any other account."""
    login_id = sub_user_login_id(customer, login_id)
    if role not in set(Role):
        raise DomainError("役割を選んでください。", field="role")
    _lock(customer)
    if db.session.scalar(
        select(User.id).where(User.customer_id == customer.id, User.login_id == login_id)
    ):
        raise DomainError(
            "このログインIDは、このアカウントで既に使われています。", field="login_id"
        )
    problem = password_problem(password, login_id, customer.member_id)
    if problem:
        raise DomainError(problem, field="password")
    user = User(
        customer=customer,
        login_id=login_id,
        email=email,
        role=role,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    record_event("user_added", client, user=by, detail=f"{login_id}({labels.ROLE[role]})")
    return user


def change_role(user: User, role: str, *, by: User, client: Client) -> None:
    """Give `user` another role; it applies from their next request."""
    if role not in set(Role):
        raise DomainError("役割を選んでください。", field="role")
    if role == user.role:
        return
    _lock(user.customer)
    db.session.refresh(user)
    if role != Role.OWNER:
        _refuse_losing_last_owner(user)
    record_event(
        "role_changed",
        client,
        user=by,
        detail=f"{user.login_id}: {labels.ROLE[user.role]} → {labels.ROLE[role]}",
    )
    user.role = role


def disable_user(user: User, *, by: User, client: Client, now: datetime) -> None:
    """Stop `user` logging in; their open sessions end at once."""
    if not user.is_active:
        return
    _lock(user.customer)
    db.session.refresh(user)
    _refuse_losing_last_owner(user)
    user.disabled_at = now
    end_sessions(user, now)
    record_event("user_disabled", client, user=by, detail=user.login_id)


def enable_user(user: User, *, by: User, client: Client) -> None:
    if user.is_active:
        return
    user.disabled_at = None
    record_event("user_enabled", client, user=by, detail=user.login_id)
