"""A retry in flight when its service dies is neither lost nor applied twice.

The inbox claims a due retry with a lease. Here learning is killed while
it applies a retried event; supervisord restarts it, the unfinished claim
becomes due again and the event is applied exactly once."""
import uuid

import pytest
from sqlalchemy import create_engine, pool, text

from scripts.platformctl import wait_healthy
from tests.integration.helpers import Db, make_envelope, publish, user_snapshot, wait_for

# A trigger that makes learning's first try fail, and every later try wait
# for an advisory lock that the test holds: a retry held in flight.
SET_UP = """
CREATE SEQUENCE test_stuck_tries;
CREATE FUNCTION test_stuck_retry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('test_stuck_tries') = 1 THEN
    RAISE EXCEPTION 'test: the first try fails';
  END IF;
  PERFORM pg_advisory_xact_lock_shared(4242);
  RETURN NEW;
END $$;
CREATE TRIGGER test_stuck_retry BEFORE INSERT OR UPDATE ON students
  FOR EACH ROW WHEN (NEW.email LIKE 'stuck-%') EXECUTE FUNCTION test_stuck_retry();
"""
TEAR_DOWN = """
DROP TRIGGER IF EXISTS test_stuck_retry ON students;
DROP FUNCTION IF EXISTS test_stuck_retry();
DROP SEQUENCE IF EXISTS test_stuck_tries;
"""


@pytest.fixture
def learning_db(databases):
    db = Db(databases["learning"].url)
    db.execute(SET_UP)
    yield db
    db.execute(TEAR_DOWN)


def test_retry_in_flight_when_the_service_dies_is_applied_once(platform, amqp_uri, databases, learning_db):
    holder = create_engine(databases["learning"].url, poolclass=pool.NullPool).connect()
    holder.execute(text("SELECT pg_advisory_lock(4242)"))
    holder.commit()
    env = make_envelope("user_created", user_snapshot(email="stuck-{}@example.com".format(uuid.uuid4().hex[:8])))
    event_id, user_id = env["event_id"], env["data"]["user_id"]
    try:
        publish(amqp_uri, "identity", env)
        # The first try failed; the retry is claimed and waits on the lock.
        wait_for(lambda: learning_db.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"), message="retry in flight")
        claimed = learning_db.all("SELECT status, attempts, next_attempt_at FROM failed_events "
                                  "WHERE event_id = :e", e=event_id)[0]
        assert claimed.status == "retrying" and claimed.attempts == 2 and claimed.next_attempt_at is not None
        killed = platform.pid("learning")
        platform.kill("learning")
    finally:
        holder.close()  # releases the lock: the dead worker's transaction never commits
    assert learning_db.scalar("SELECT count(*) FROM students WHERE user_id = :u", u=user_id) == 0
    assert learning_db.scalar("SELECT count(*) FROM inbox WHERE event_id = :e", e=event_id) == 0

    # Nobody starts it again: supervisord restarts it, as after a real crash.
    wait_for(lambda: platform.pid("learning") not in (None, killed), message="learning restarted by supervisord")
    wait_healthy(["learning"], uri=amqp_uri, timeout=60)
    wait_for(lambda: learning_db.scalar("SELECT status FROM failed_events WHERE event_id = :e",
                                        e=event_id) == "resolved", timeout=30, message="retry resolved")
    # Applied once: one effect, and the trigger ran for exactly three tries
    # (failed, killed in flight, applied).
    assert learning_db.scalar("SELECT count(*) FROM students WHERE user_id = :u", u=user_id) == 1
    assert learning_db.scalar("SELECT last_value FROM test_stuck_tries") == 3
    assert learning_db.scalar("SELECT attempts FROM failed_events WHERE event_id = :e", e=event_id) == 3
