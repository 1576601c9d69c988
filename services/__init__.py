"""The platform's six services, one package and one database each.

``services.common`` is the only package every service may import.
"""
