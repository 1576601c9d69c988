"""Payment: payments, transactions, payouts, invoices, refunds and Stripe accounts. Owns ``edtech_payment_db``."""
