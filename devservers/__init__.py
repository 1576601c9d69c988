"""Development and test components: local stand-ins for outside services.

Nothing here is a platform service; nothing in ``services/`` may import it.
"""
