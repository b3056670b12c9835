"""The staff console (スタッフコンソール, `/staff/...`): staff login, customer search and the
customer page, impersonation, payment confirmation and flagged money, the paper-invoice and
mail queues, and staff management. Who may use each route: docs/roles.md."""

from panel.views.staff import auth, customers, members, money, queues  # noqa: F401 (routes)
from panel.views.staff.blueprint import bp
from panel.views.staff.session import register_staff_session

__all__ = ["bp", "register_staff_session"]
