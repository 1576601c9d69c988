"""Every part of the GraphQL schema carries a description, so that
GraphiQL's docs pane is a real reference (docs/graphql.md)."""
import graphene
from graphql import (GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType,
                     GraphQLObjectType, GraphQLScalarType, GraphQLUnionType)
from graphql.type import specified_scalar_types

from api_gateway.schema import schema


def schema_parts(graphql_schema):
    """Every type, field, argument, input field and enum value of the schema,
    as (where, description) with where "Type", "Type.field",
    "Type.field(arg)", "Input.field" or "Enum.VALUE". Introspection types
    (``__*``) and GraphQL's built-in scalars are not the schema's own."""
    for name, gql_type in sorted(graphql_schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        yield name, gql_type.description
        if isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType)):
            for field_name, field in gql_type.fields.items():
                yield "{}.{}".format(name, field_name), field.description
                for arg_name, arg in field.args.items():
                    yield "{}.{}({})".format(name, field_name, arg_name), arg.description
        elif isinstance(gql_type, GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                yield "{}.{}".format(name, field_name), field.description
        elif isinstance(gql_type, GraphQLEnumType):
            for value_name, value in gql_type.values.items():
                yield "{}.{}".format(name, value_name), value.description
        else:
            assert isinstance(gql_type, (GraphQLScalarType, GraphQLUnionType)), name


def undescribed(graphql_schema):
    """The parts of the schema with no non-empty description."""
    return [where for where, description in schema_parts(graphql_schema) if not (description or "").strip()]


def test_every_part_of_the_schema_is_described():
    missing = undescribed(schema.graphql_schema)
    total = len(list(schema_parts(schema.graphql_schema)))
    assert not missing, "{} of {} schema parts have no description:\n{}".format(
        len(missing), total, "\n".join(missing))


def test_the_check_finds_an_undescribed_field():
    class Thing(graphene.ObjectType):
        """A thing."""
        named = graphene.String(description="Its name.")
        bare = graphene.String(size=graphene.Int(description="How big."))

    class Colour(graphene.Enum):
        """A colour."""
        RED = 1

    class Query(graphene.ObjectType):
        """The root."""
        thing = graphene.Field(Thing, description="A thing.", colour=Colour(description="Which."))

    missing = undescribed(graphene.Schema(query=Query).graphql_schema)

    assert missing == ["Colour.RED", "Thing.bare"]
