"""A nameko timer whose interval is a setting of the service's config
(docs/architecture.md, "Adding a timer")::

    @timer("LESSON_EXPIRY_INTERVAL_SECONDS", default=5)
    def expire_unpaid_lessons(self):
        try:
            with self.uow() as uow:
                lessons.expire_overdue(uow, datetime.now(timezone.utc))
                uow.commit()
        except Exception as exc:   # the database is down: log, and the next tick tries again
            log.warning(...)

nameko's own ``Timer`` takes its interval when the class is defined; this
one reads it from the container's config when the service starts. Like
nameko's, it runs one worker per tick and waits for it before the next, so
ticks of one instance never overlap; several instances do, and the work a
tick claims must be claimed with ``FOR UPDATE SKIP LOCKED`` (as the outbox
relay and the inbox's retries do). An exception that escapes the method is
logged by nameko and the timer goes on; catching it in the method keeps the
log to one line.
"""
from nameko.timer import Timer as NamekoTimer


class Timer(NamekoTimer):
    def __init__(self, config_key, default, eager=False, **kwargs):
        self.config_key, self.default = config_key, default
        super().__init__(interval=default, eager=eager, **kwargs)

    def setup(self):
        interval = float(self.container.config.get(self.config_key, self.default))
        if interval <= 0:
            raise ValueError("{} must be a positive number of seconds, not {}".format(self.config_key, interval))
        self.interval = interval
        super().setup()


timer = Timer.decorator
