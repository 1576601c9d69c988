"""The graph, split by domain in files that mirror the services."""
import graphene

from api_gateway.schema.identity import IdentityMutation, IdentityQuery
from api_gateway.schema.learning import LearningMutation, LearningQuery
from api_gateway.schema.types import User


class Query(IdentityQuery, LearningQuery, graphene.ObjectType):
    pass


class Mutation(IdentityMutation, LearningMutation, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation, types=[User])
