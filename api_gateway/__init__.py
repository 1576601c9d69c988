"""The GraphQL gateway: one graph over the six services, composed only by RPC.

It reads no database. Identity owns ``User``; learning extends it with
``tutorProfile``, ``enrolledCourses`` and ``lessons``, the way GraphQL
federation composes entities.
"""
