"""The graph, split by domain in modules that mirror the services.

Each module registers its own loaders, Query and Mutation fields and ``User``
fields (api_gateway/schema/registry.py); importing them all here composes the
graph, so a new service's part is one new module and no list to edit.
"""
import graphene

from api_gateway.schema import registry

registry.discover(__name__, __path__)
registry.apply_extensions()  # fields modules add to each other's types (Lesson.payment, ...)

# graphene lists the last base's fields first: reversed, the schema lists
# each type's fields in module order (identity's, then learning's, ...).


class User(*reversed(registry.USER_FIELDS), graphene.ObjectType):
    """Owned by identity; other domains add their fields, as GraphQL federation extends an entity."""


class Query(*reversed(registry.QUERIES), graphene.ObjectType):
    """What can be read. Send the access token from login as Authorization: Bearer <token>; tutor search,
    tutors and courses are public, the rest needs a signed-in caller. Money is integer cents with a currency;
    times are ISO-8601."""


class Mutation(*reversed(registry.MUTATIONS), graphene.ObjectType):
    """What can be changed. Each mutation checks the role it needs before doing anything; refused input is a
    BAD_USER_INPUT error naming each field."""


schema = graphene.Schema(query=Query, mutation=Mutation, types=[User])
