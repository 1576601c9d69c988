"""Communication: conversations, messages, notifications and video sessions. Owns ``edtech_communication_db``."""
