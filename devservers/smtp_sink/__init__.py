"""A development SMTP sink (aiosmtpd): accepts every mail and keeps it as a
file, so that development and tests read what the services really sent
(docs/operations.md, "Mail"). Not a service: no database, no broker."""
