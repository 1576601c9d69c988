"""Analytics: reviews, the event log, reports and user metrics. Owns ``edtech_analytics_db``."""
