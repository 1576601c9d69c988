"""What every service needs and no service owns: configuration, database
connections, migrations, the event outbox and inbox, auth checking and the
typed errors. It holds no service's tables.
"""
