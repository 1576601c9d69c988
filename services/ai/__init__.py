"""AI: content, interactions, recommendations and learning paths. Owns ``edtech_ai_db``."""
