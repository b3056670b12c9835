"""The staff console (スタッフコンソール): staff logins and sessions (`accounts`), customer
search (`search`), impersonation (`impersonation`), payment confirmation and flagged money
(`money`), the paper-invoice queue (`paper`) and the mail queue (`outbox`)."""
