"""domains: 自動更新/自動失効 for the account, per TLD and per domain; domain locks, AuthCode,
the day an auto-expiring domain lapsed

Revision ID: b0334bbb4d1d
Revises: 63955dfdb8db
Create Date: 2026-11-22 07:13:39.223120

"""

import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b0334bbb4d1d"
down_revision = "63955dfdb8db"
branch_labels = None
depends_on = None

POLICIES = "'auto_renew', 'auto_expire'"
# The AuthCode alphabet of panel/models/domains.py, copied: a migration must not change when
# the app's code does.
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
DIGITS = "23456789"
SYMBOLS = "#%+-=@"


def _auth_code() -> str:
    alphabet = LETTERS + DIGITS + SYMBOLS
    while True:
        code = "".join(secrets.choice(alphabet) for _ in range(16))
        if all(set(code) & set(group) for group in (LETTERS, DIGITS, SYMBOLS)):
            return code


def upgrade():
    op.create_table(
        "domain_tld_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tld", sa.String(length=63), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.CheckConstraint(f"policy IN ({POLICIES})", name=op.f("ck_domain_tld_policies_policy")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_domain_tld_policies_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_tld_policies")),
        sa.UniqueConstraint("customer_id", "tld", name=op.f("uq_domain_tld_policies_customer_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "domain_policy", sa.String(length=16), nullable=False, server_default="auto_renew"
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_customers_domain_policy"), f"domain_policy IN ({POLICIES})"
        )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("domain_policy", sa.String(length=16), nullable=True))
        # Every domain registered so far is locked, as new ones are.
        for lock in ("transfer_locked", "update_locked", "delete_locked"):
            batch_op.add_column(
                sa.Column(lock, sa.Boolean(), nullable=False, server_default=sa.true())
            )
        batch_op.add_column(sa.Column("auth_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lapsed_on", sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_contracts_domain_policy"), f"domain_policy IN ({POLICIES})"
        )
        batch_op.create_check_constraint(
            op.f("ck_contracts_domain_settings_on_domains_only"),
            "kind = 'domain' OR (domain_policy IS NULL AND auth_code IS NULL"
            " AND lapsed_on IS NULL)",
        )
    # Each domain registered so far gets an AuthCode of its own.
    connection = op.get_bind()
    domains = connection.execute(sa.text("SELECT id FROM contracts WHERE kind = 'domain'"))
    for (contract_id,) in domains.all():
        connection.execute(
            sa.text("UPDATE contracts SET auth_code = :code WHERE id = :id"),
            {"code": _auth_code(), "id": contract_id},
        )


def downgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_contracts_domain_settings_on_domains_only"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_contracts_domain_policy"), type_="check")
        batch_op.drop_column("lapsed_on")
        batch_op.drop_column("auth_code")
        batch_op.drop_column("delete_locked")
        batch_op.drop_column("update_locked")
        batch_op.drop_column("transfer_locked")
        batch_op.drop_column("domain_policy")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_customers_domain_policy"), type_="check")
        batch_op.drop_column("domain_policy")
    op.drop_table("domain_tld_policies")
