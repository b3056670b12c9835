"""staff console: staff roles, two-factor login and sessions; customer search terms, kana,
phone and postal address; staff notes and settling of flagged payments; dropped mail; the
awaiting bills and flagged payments indexed

Revision ID: 9a37c6c0eb07
Revises: b0334bbb4d1d
Create Date: 2026-11-22 08:00:00.000000

"""

import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "9a37c6c0eb07"
down_revision = "b0334bbb4d1d"
branch_labels = None
depends_on = None

AWAITING = sa.text("status = 'awaiting_payment'")
# As the queries say it on each database: SQLite's planner matches the text (`= 0`).
FLAGGED_SQLITE = sa.text("applied_to_bill = 0")
FLAGGED = sa.text("NOT applied_to_bill")
TERM = sa.String(length=254).with_variant(sa.String(length=254, collation="C"), "postgresql")


def upgrade():
    op.create_table(
        "customer_search_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("term", TERM, nullable=False),
        sa.Column("shown", sa.String(length=254), nullable=False),
        sa.CheckConstraint(
            "kind IN ('member_id', 'name', 'kana', 'email', 'phone', 'domain')",
            name=op.f("ck_customer_search_terms_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_search_terms_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_search_terms")),
    )
    with op.batch_alter_table("customer_search_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_search_terms_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_search_terms_term"), ["term"], unique=False)

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_factor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_totp_secret", sa.String(length=32), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("impersonated_user_id", sa.Integer(), nullable=True),
        sa.Column("impersonation_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.CheckConstraint(
            "(impersonated_user_id IS NULL) = (impersonation_started_at IS NULL)",
            name=op.f("ck_staff_sessions_impersonation_started_with_user"),
        ),
        sa.ForeignKeyConstraint(
            ["impersonated_user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_impersonated_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_sessions_staff_member_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_impersonated_user_id"),
            ["impersonated_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_staff_member_id"), ["staff_member_id"], unique=False
        )

    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bills_awaiting_due_date",
            ["due_date"],
            unique=False,
            sqlite_where=AWAITING,
            postgresql_where=AWAITING,
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_kana", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("postal_code", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("postal_address", sa.String(length=200), nullable=True))

    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("drop_reason", sa.String(length=200), nullable=True))

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_note", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolution_note", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("resolved_bill_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_payments_flagged",
            ["id"],
            unique=False,
            sqlite_where=FLAGGED_SQLITE,
            postgresql_where=FLAGGED,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_resolved_by_id_staff_members"),
            "staff_members",
            ["resolved_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_resolved_bill_id_bills"), "bills", ["resolved_bill_id"], ["id"]
        )
        batch_op.create_check_constraint(
            op.f("ck_payments_resolution"), "resolution IN ('applied', 'refunded', 'credited')"
        )
        batch_op.create_check_constraint(
            op.f("ck_payments_only_flagged_money_is_resolved"),
            "resolution IS NULL OR NOT applied_to_bill",
        )
        batch_op.create_check_constraint(
            op.f("ck_payments_resolved_at_iff_resolved"),
            "(resolution IS NULL) = (resolved_at IS NULL)",
        )
        batch_op.create_check_constraint(
            op.f("ck_payments_applied_names_its_bill"),
            "(resolution = 'applied') = (resolved_bill_id IS NOT NULL)",
        )

    # Staff who existed before roles are サポート: a 管理者 is named on purpose.
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="support", nullable=False)
        )
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_staff_members_role"), "role IN ('support', 'accounting', 'admin')"
        )

    _fill_search_terms()


# The customers already there get their search terms, made as services/staff/search.py made
# them when this revision was written (a copy: the app's code may change after it).

DASHES = str.maketrans("", "", "-‐‑‒–—―−")


def _normalised(text):
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return "".join(text.split()).translate(DASHES)[:254]


def _parts(text):
    if not text:
        return []
    words = unicodedata.normalize("NFKC", text).split()
    return [text, *words] if len(words) > 1 else [text]


def _terms(row, domains):
    found = [("member_id", row.member_id)]
    found += [("name", part) for part in _parts(row.name)]
    for email in filter(None, (row.contract_email, row.sub_email)):
        found += [("email", email), ("email", email.rpartition("@")[2])]
    found += [("domain", domain) for domain in domains]
    terms = {(kind, _normalised(text)): text[:254] for kind, text in found}
    return {key: shown for key, shown in terms.items() if key[1]}


def _fill_search_terms():
    connection = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id"),
        sa.column("member_id"),
        sa.column("name"),
        sa.column("contract_email"),
        sa.column("sub_email"),
    )
    contracts = sa.table("contracts", sa.column("customer_id"), sa.column("name"))
    terms = sa.table(
        "customer_search_terms",
        sa.column("customer_id"),
        sa.column("kind"),
        sa.column("term"),
        sa.column("shown"),
    )
    domains = {}
    for customer_id, name in connection.execute(sa.select(contracts.c.customer_id, contracts.c.name)):
        domains.setdefault(customer_id, []).append(name)
    rows = [
        {"customer_id": row.id, "kind": kind, "term": term, "shown": shown}
        for row in connection.execute(sa.select(customers))
        for (kind, term), shown in sorted(_terms(row, domains.get(row.id, [])).items())
    ]
    for start in range(0, len(rows), 1000):
        connection.execute(sa.insert(terms), rows[start : start + 1000])


def downgrade():
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_staff_members_role"), type_="check")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("role")

    with op.batch_alter_table("payments", schema=None) as batch_op:
        for name in (
            "ck_payments_applied_names_its_bill",
            "ck_payments_resolved_at_iff_resolved",
            "ck_payments_only_flagged_money_is_resolved",
            "ck_payments_resolution",
        ):
            batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_payments_resolved_bill_id_bills"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_payments_resolved_by_id_staff_members"), type_="foreignkey"
        )
        batch_op.drop_index(
            "ix_payments_flagged", sqlite_where=FLAGGED_SQLITE, postgresql_where=FLAGGED
        )
        batch_op.drop_column("resolved_bill_id")
        batch_op.drop_column("resolution_note")
        batch_op.drop_column("resolved_by_id")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("resolution")
        batch_op.drop_column("staff_note")

    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.drop_column("drop_reason")
        batch_op.drop_column("dropped_at")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("postal_address")
        batch_op.drop_column("postal_code")
        batch_op.drop_column("phone")
        batch_op.drop_column("name_kana")

    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_bills_awaiting_due_date", sqlite_where=AWAITING, postgresql_where=AWAITING
        )

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_staff_member_id"))
        batch_op.drop_index(batch_op.f("ix_staff_sessions_impersonated_user_id"))
    op.drop_table("staff_sessions")

    with op.batch_alter_table("customer_search_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_search_terms_term"))
        batch_op.drop_index(batch_op.f("ix_customer_search_terms_customer_id"))
    op.drop_table("customer_search_terms")
