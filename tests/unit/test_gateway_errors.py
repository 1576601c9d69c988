"""api_gateway/errors.py, format_error: a GraphQLError raised while a field
runs reaches it wrapped by graphql-core's located_error in another
GraphQLError, and was shown as "internal error" whatever it said."""
import logging

from graphql import GraphQLError, NullValueNode, located_error

from api_gateway.errors import format_error
from services.common.errors import NotFound


def wrapped(error):
    """As execute() hands it over: located at a field, the cause kept."""
    return located_error(error, None, ["field"])


def test_a_graphql_error_with_a_code_keeps_its_message_and_code():
    cause = GraphQLError("no lesson 42", extensions={"code": "NOT_FOUND", "hint": "list your lessons"})
    assert wrapped(cause).original_error is cause
    formatted = format_error(wrapped(cause))
    assert formatted["message"] == "no lesson 42"
    assert formatted["extensions"] == {"code": "NOT_FOUND", "hint": "list your lessons"}
    assert formatted["path"] == ["field"]


def test_graphql_cores_own_check_of_an_input_value_is_bad_user_input():
    # as graphql.execution.values raises it: located at the value the caller gave
    cause = GraphQLError("Argument 'id' of non-null type 'ID!' must not be null.", NullValueNode())
    formatted = format_error(wrapped(cause))
    assert formatted["message"] == "Argument 'id' of non-null type 'ID!' must not be null."
    assert formatted["extensions"] == {"code": "BAD_USER_INPUT"}


def test_a_codeless_error_about_the_answer_is_still_an_internal_error(caplog):
    # a resolver's bug (graphql-core's completion checks raise these without nodes)
    for cause in (GraphQLError("Cannot return null for non-nullable field Course.title."), KeyError("id")):
        with caplog.at_level(logging.ERROR, logger="api_gateway.errors"):
            formatted = format_error(wrapped(cause))
        assert formatted["message"] == "internal error"
        assert formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert len([r for r in caplog.records if r.exc_info]) == 2  # logged in full


def test_service_errors_are_unchanged():
    formatted = format_error(wrapped(NotFound("no such course", {"course_id": ["Unknown."]})))
    assert formatted["message"] == "no such course"
    assert formatted["extensions"] == {"code": "NOT_FOUND", "fields": {"courseId": ["Unknown."]}}
