"""All models, imported here so that Alembic and the app see the whole schema."""

from panel.models.audit import AuditEvent
from panel.models.balance import BalanceStatement, LedgerEntry
from panel.models.bills import Bill, BillLine, BillNumberCounter
from panel.models.contracts import Contract, ContractKind
from panel.models.customers import Customer, CustomerKind, Role, User
from panel.models.documents import DocumentKind, IssuedDocument, PaperInvoiceRequest
from panel.models.domains import DomainPrice, DomainTldPolicy
from panel.models.jobs import JobEffect
from panel.models.mail import OutboxMail, OutboxRecipient
from panel.models.on_account import OnAccountPurchase
from panel.models.payments import Payment, PaymentAttempt, StorePayment, TransferNotice
from panel.models.plans import Plan, PlanPrice
from panel.models.sandbox import SandboxCharge
from panel.models.search import CustomerSearchTerm
from panel.models.security import AllowedNetwork, RecoveryCode
from panel.models.sessions import LoginSession
from panel.models.staff import StaffMember, StaffRole, StaffSession

__all__ = [
    "AllowedNetwork",
    "AuditEvent",
    "BalanceStatement",
    "Bill",
    "BillLine",
    "BillNumberCounter",
    "Contract",
    "ContractKind",
    "Customer",
    "CustomerSearchTerm",
    "CustomerKind",
    "DocumentKind",
    "DomainPrice",
    "DomainTldPolicy",
    "IssuedDocument",
    "JobEffect",
    "LedgerEntry",
    "LoginSession",
    "OnAccountPurchase",
    "OutboxMail",
    "OutboxRecipient",
    "PaperInvoiceRequest",
    "Payment",
    "PaymentAttempt",
    "Plan",
    "PlanPrice",
    "RecoveryCode",
    "SandboxCharge",
    "Role",
    "StaffMember",
    "StaffRole",
    "StaffSession",
    "StorePayment",
    "TransferNotice",
    "User",
]
