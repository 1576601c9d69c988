"""Identity: users, profiles, sessions and tokens. Owns ``edtech_identity_db``."""
