"""The composed entities: ``User`` is identity's fields plus learning's."""
import graphene

from api_gateway.schema.identity import UserIdentityFields
from api_gateway.schema.learning import UserLearningFields


class User(UserLearningFields, UserIdentityFields, graphene.ObjectType):
    """Owned by identity; extended by learning (tutorProfile, enrolledCourses, lessons)."""
