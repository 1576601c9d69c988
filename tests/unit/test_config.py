import pytest

from services.common.config import SERVICES, UnknownService, amqp_uri, db_settings


def test_defaults_give_each_service_its_own_database_and_role():
    names = {db_settings(s, environ={}).name for s in SERVICES}
    users = {db_settings(s, environ={}).user for s in SERVICES}
    assert len(names) == len(users) == 6
    assert db_settings("identity", environ={}).name == "edtech_identity_db"


def test_prefix_is_the_service_name_in_capitals():
    env = {"LEARNING_DB_HOST": "db.example", "LEARNING_DB_PORT": "5433", "LEARNING_DB_NAME": "n",
           "LEARNING_DB_USER": "u", "LEARNING_DB_PASSWORD": "p", "IDENTITY_DB_NAME": "other"}
    st = db_settings("learning", environ=env)
    assert (st.host, st.port, st.name, st.user, st.password) == ("db.example", 5433, "n", "u", "p")
    assert st.url == "postgresql+psycopg2://u:p@db.example:5433/n"


def test_url_quotes_credentials():
    st = db_settings("ai", environ={"AI_DB_PASSWORD": "p@ss/w:rd%"})
    assert "p%40ss%2Fw%3Ard%25@" in st.url


def test_unknown_service_is_named_in_the_error():
    with pytest.raises(UnknownService, match="'billing'"):
        db_settings("billing")


def test_amqp_uri_comes_from_the_environment():
    assert amqp_uri(environ={"AMQP_URI": "pyamqp://x@h/"}) == "pyamqp://x@h/"
    assert amqp_uri(environ={}).startswith("pyamqp://")
