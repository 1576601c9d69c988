"""docs/operations.md is where an operator starts, so every code block in it
runs here, as written, against this session's platform: the docs cannot
drift from the code.

Each block runs from the repository's root in a fresh environment: a login
shell's default PATH (no virtualenv activated, no PYTHONPATH) and, where an
operator's shell would have the development defaults, this session's
settings (databases, broker, key directory, ``PLATFORM_RUN_DIR``), and
``.run/`` in a block is this session's run directory. A ``bash`` block runs
under ``bash -e``; a ``python`` block is piped, after the ``preamble``
block, into the ``shell`` block (``nameko shell``), which stops at the first
error, and each ``# -> ...`` line must match a line the shell printed, in
order (``...`` matches anything). A block marked ``<!-- recipe: not run,
why -->`` is not run, and only a block holding a command that starts, stops,
restarts, migrates or follows processes may carry that mark.
"""
import os
import re
import subprocess
import uuid
from dataclasses import dataclass

import pytest

from services.common.config import SERVICES
from tests.integration.helpers import Db, make_envelope, publish, user_snapshot, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "operations.md")

FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
MARK = re.compile(r"^<!--\s*recipe:\s*(.*?)\s*-->$")
NOT_RUN = "not run"
# What a test cannot run on a platform other tests use: starting, stopping,
# restarting or migrating, and following a log for ever.
NOT_RUNNABLE = [re.compile(p, re.M) for p in (
    r"^\s*scripts/(up|down|migrate)\b",
    r"services\.common\.cli (downgrade|migrate|provision)\b",
    r"supervisorctl\b.*\b(restart|stop|start|shutdown|reload|update)\b",
    r"supervisorctl\b.*\btail -f\b",
    r"platformctl\.py (start|stop)\b",
    r"rabbitmqctl (delete_queue|stop_app|stop)\b",
)]
EXPECTED = re.compile(r"^# -> (.*)$", re.M)
PROMPTS = re.compile(r"^(?:>>> |\.\.\. )+", re.M)
# Settings an operator's shell takes from the development defaults and this
# session points elsewhere; everything else of the test process is left out.
SETTINGS = {"AMQP_URI", "AUTH_KEYS_DIR"}
SETTINGS_PREFIXES = tuple(p.upper() + "_" for p in SERVICES + ("gateway", "operator")) + ("AMQP_",)
POISON = "recipe-poison-"
FRESH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    mark: str  # "" when unmarked
    line: int
    heading: str

    @property
    def not_run(self):
        return self.mark == NOT_RUN or self.mark.startswith(NOT_RUN + ",")

    @property
    def reason(self):
        return self.mark[len(NOT_RUN):].lstrip(",").strip() if self.not_run else ""

    @property
    def id(self):
        return "{}:{}".format(self.line, re.sub(r"\W+", "-", self.heading.strip("# ").lower()).strip("-"))


def blocks(text):
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").splitlines()
        mark = MARK.match(before[-1].strip()) if before else None
        headings = re.findall(r"^#+ .*$", FENCE.sub("", text[:match.start()]), re.M)
        found.append(Block(match.group(1), match.group(2), mark.group(1) if mark else "",
                           text.count("\n", 0, match.start()) + 1, headings[-1] if headings else ""))
    return found


def not_runnable(block):
    return any(pattern.search(block.text) for pattern in NOT_RUNNABLE)


def marker_problems(text):
    """What is wrong with the blocks and their marks, as sentences."""
    problems, found = [], blocks(text)
    for block in found:
        where = "block at line {}".format(block.line)
        if block.lang not in ("bash", "python"):
            problems.append("{}: a recipe is bash or python, not {!r}".format(where, block.lang))
        if block.mark and block.mark not in ("shell", "preamble") and not block.not_run:
            problems.append("{}: unknown mark {!r}".format(where, block.mark))
        if block.not_run and not block.reason:
            problems.append("{}: 'not run' without a reason".format(where))
        if block.not_run and not not_runnable(block):
            problems.append("{}: marked not run, but nothing in it stops a test from running it".format(where))
        if not block.not_run and not_runnable(block):
            problems.append("{}: starts, stops or migrates processes, and is not marked not run".format(where))
    for mark, lang in (("shell", "bash"), ("preamble", "python")):
        if [b.lang for b in found if b.mark == mark] != [lang]:
            problems.append("there must be exactly one {} block marked {}".format(lang, mark))
    return problems


DOC_BLOCKS = blocks(open(DOC).read())
SHELL = next((b for b in DOC_BLOCKS if b.mark == "shell"), None)
PREAMBLE = next((b for b in DOC_BLOCKS if b.mark == "preamble"), None)
RECIPES = [b for b in DOC_BLOCKS if not b.mark]


def test_only_blocks_a_test_cannot_run_are_marked():
    assert not marker_problems(open(DOC).read())


def test_the_marker_check_can_fire():
    planted = "\n".join([
        "<!-- recipe: not run, it is harmless -->", "```bash", "echo hello", "```", "",
        "```bash", "scripts/up", "```", "",
        "<!-- recipe: not run, -->", "```bash", "scripts/down", "```", "",
        "```text", "output", "```", "",
        "<!-- recipe: shell -->", "```bash", ".venv/bin/nameko shell", "```",
    ])
    assert marker_problems(planted) == [
        "block at line 2: marked not run, but nothing in it stops a test from running it",
        "block at line 6: starts, stops or migrates processes, and is not marked not run",
        "block at line 11: 'not run' without a reason",
        "block at line 15: a recipe is bash or python, not 'text'",
        "there must be exactly one python block marked preamble",
    ]


def test_the_expected_output_check_can_fire():
    assert unmatched(["True"], ">>> ... True\n") == []
    assert unmatched(["{'ok': ...}", "2"], "{'ok': True, 'x': 1}\n>>> 3\n") == ["2"]
    assert unmatched(["b", "a"], "a\nb\n") == ["a"]  # in order


def fresh_env(run_dir):
    # A login shell's default PATH (Debian's /etc/profile, as root: rabbitmqctl is in /usr/sbin).
    env = {"HOME": os.environ.get("HOME", "/root"), "PATH": FRESH_PATH,
           "LANG": os.environ.get("LANG", "C.UTF-8"), "PLATFORM_RUN_DIR": run_dir}
    env.update({k: v for k, v in os.environ.items() if k in SETTINGS or k.startswith(SETTINGS_PREFIXES)})
    return env


def in_this_run(text, run_dir):
    return text.replace(".run/", run_dir.rstrip("/") + "/")


def run_bash(text, platform, stdin=None):
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", in_this_run(text, platform.run_dir)],
                          cwd=ROOT, env=fresh_env(platform.run_dir), input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)


def unmatched(expected, output):
    """The expected lines (``...`` for anything) that ``output`` does not
    print in order, each as a whole line, prompts aside."""
    lines = PROMPTS.sub("", output).splitlines()
    missing, at = [], 0
    for want in expected:
        pattern = re.compile(".*".join(re.escape(part) for part in want.strip().split("...")))
        hit = next((i for i in range(at, len(lines)) if pattern.fullmatch(lines[i].strip())), None)
        if hit is None:
            missing.append(want)
        else:
            at = hit + 1
    return missing


@pytest.fixture(scope="module")
def learning_db(databases):
    return Db(databases["learning"].url)


@pytest.fixture(scope="module")
def planted_dead_letter(platform, amqp_uri, learning_db):
    """A dead letter in learning whose cause is fixed by now, for the
    dead-letter recipes to list, inspect and replay: its copy's email is
    refused by a check that is dropped once the event is dead."""
    learning_db.execute("ALTER TABLE students ADD CONSTRAINT ck_recipe_poison CHECK (email NOT LIKE '{}%')"
                        .format(POISON))
    try:
        env = make_envelope("user_created", user_snapshot(email="{}{}@example.com".format(
            POISON, uuid.uuid4().hex[:6])))
        publish(amqp_uri, "identity", env)
        wait_for(lambda: learning_db.scalar("SELECT status FROM failed_events WHERE event_id = :e",
                                            e=env["event_id"]) == "dead", timeout=30, message="a dead letter")
    finally:
        learning_db.execute("ALTER TABLE students DROP CONSTRAINT IF EXISTS ck_recipe_poison")
    return env


def run_recipe(block, platform):
    if block.lang == "bash":
        done = run_bash(block.text, platform)
    else:
        done = run_bash(SHELL.text, platform, stdin=PREAMBLE.text + "\n" + block.text + "\n\n")
    report = "exit {}\n--- stdout\n{}\n--- stderr\n{}".format(done.returncode, done.stdout[-4000:],
                                                             done.stderr[-4000:])
    assert done.returncode == 0 and "Traceback" not in done.stderr, report
    return done, report


@pytest.mark.parametrize("block", RECIPES, ids=[b.id for b in RECIPES])
def test_recipe_runs_as_written(platform, planted_dead_letter, learning_db, block):
    done, report = run_recipe(block, platform)
    missing = unmatched(EXPECTED.findall(block.text), done.stdout)
    assert not missing, "not printed: {}\n{}".format(missing, report)
    if block.lang == "python":
        run_recipe(block, platform)  # each shell step is safe to run again (what it prints may differ)
    if "replay_dead_letter(token" in block.text:
        wanted = planted_dead_letter["data"]["user_id"]
        assert learning_db.scalar("SELECT count(*) FROM students WHERE user_id = :u", u=wanted) == 1, report
    if "platformctl.py status" in block.text:
        assert re.search(r"^\s*identity\s+RUNNING", done.stdout, re.M), report
