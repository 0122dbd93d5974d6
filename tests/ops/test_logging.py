"""Structured logs (README "Deploying"): every line of a request is JSON carrying its request id,
the id is echoed to the caller, and the access line says who called what without saying secrets.
"""

from __future__ import annotations

import logging

import pytest
from celery.app.task import Context

from config.celery import app
from config.observability import (
    TASK_HEADER,
    _enter_task,
    _leave_task,
    _publish_request_id,
    request_id_var,
)
from practice.api.views import MeView

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def test_a_request_without_an_id_gets_one_in_the_response(owner):
    response = owner.api.get(ME)

    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    assert request_id.isalnum()
    assert owner.api.get(ME)["X-Request-ID"] != request_id


def test_a_sane_incoming_request_id_is_kept(owner):
    response = owner.api.get(ME, HTTP_X_REQUEST_ID="lb-7f3a.9c:01_x")

    assert response["X-Request-ID"] == "lb-7f3a.9c:01_x"


@pytest.mark.parametrize(
    "incoming",
    ["x" * 65, "has space", 'quote"d', "new\\nline", "é-accent", "a;b=c", ""],
)
def test_an_insane_incoming_request_id_is_replaced(anon, incoming):
    response = anon.get("/api/v1/public/north/services/", HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_a_request_that_matches_no_route_still_gets_an_id_and_an_access_line(anon, json_logs):
    response = anon.get("/nowhere/42", HTTP_X_REQUEST_ID="probe-1")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "probe-1"
    [line] = json_logs.access()
    assert line["route"] == "unmatched"
    assert line["status"] == 404


def test_every_log_line_of_a_request_is_json_with_its_request_id(owner, json_logs, monkeypatch):
    answer = MeView.get

    def get_and_log(self, request, *args, **kwargs):
        logging.getLogger("practice.test").warning("inside the view")
        logging.getLogger("django.security.test").info("a library line, same request")
        return answer(self, request, *args, **kwargs)

    monkeypatch.setattr(MeView, "get", get_and_log)

    response = owner.api.get(ME, HTTP_X_REQUEST_ID="req-under-test")

    records = json_logs.records()  # each raw line parses as one JSON object
    assert len(records) >= 3
    assert {line["request_id"] for line in records} == {"req-under-test"}
    assert response["X-Request-ID"] == "req-under-test"
    for line in records:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= line.keys()
    assert [line["message"] for line in records[:2]] == [
        "inside the view",
        "a library line, same request",
    ]


def test_lines_outside_a_request_carry_no_request_id(json_logs):
    logging.getLogger("practice.test").warning("at startup")

    [line] = json_logs.records()
    assert line["request_id"] is None
    assert line["level"] == "WARNING"


def test_the_access_line_names_route_status_and_caller_but_no_token_or_email(owner, json_logs):
    response = owner.api.get(ME)

    assert response.status_code == 200
    assert owner.user.email in response.content.decode()  # the body has it; the log must not
    [line] = json_logs.access()
    assert line["method"] == "GET"
    assert line["path"] == ME
    assert line["route"] == ME
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["user_id"] == owner.user.pk
    assert line["practice_id"] == owner.user.membership.practice_id
    assert line["level"] == "INFO"
    for raw in json_logs.raw:
        assert owner.token not in raw
        assert owner.user.email not in raw
        assert "Bearer" not in raw


def test_the_access_line_of_an_api_key_names_the_key_and_its_practice(owner, anon, json_logs):
    created = owner.api.post("/api/v1/api-keys/", {"name": "Website"}).json()
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    anon.get("/api/v1/clients/")

    line = json_logs.access()[-1]
    assert line["api_key_id"] == created["id"]
    assert line["practice_id"] == owner.user.membership.practice_id
    assert "user_id" not in line
    assert created["key"] not in "".join(json_logs.raw)


def test_a_secret_link_token_is_masked_in_the_access_line(anon, json_logs):
    token = "bk_secretlinktoken0123456789"
    response = anon.get(f"/api/v1/public/bookings/{token}/")

    assert response.status_code == 404
    [line] = json_logs.access()
    assert line["path"] == "/api/v1/public/bookings/***/"
    assert line["route"] == "/api/v1/public/bookings/<token>/"
    assert token not in "".join(json_logs.raw)


def test_a_server_error_on_a_secret_link_logs_its_path_masked(json_logs, monkeypatch):
    from rest_framework.test import APIClient

    from sessions.api.views import PublicManageView

    def fail(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(PublicManageView, "get", fail)
    token = "bk_secretlinktoken0123456789"

    response = APIClient(raise_request_exception=False).get(f"/api/v1/public/bookings/{token}/")

    assert response.status_code == 500
    error = next(line for line in json_logs.records() if line["logger"] == "django.request")
    assert error["message"] == "Internal Server Error: /api/v1/public/bookings/***/"
    assert error["level"] == "ERROR"
    assert "boom" in error["exc_info"]  # the traceback is kept
    assert json_logs.access()[0]["status"] == 500
    assert token not in "".join(json_logs.raw)


def test_celery_lines_leave_out_the_task_arguments(json_logs):
    context = {
        "id": "t-1",
        "name": "practice.tasks.x",
        "args": "()",
        "kwargs": "{'phone': '+4470'}",
    }
    logging.getLogger("celery.app.trace").info(
        "Task %(name)s[%(id)s] received", context, extra={"data": context}
    )

    [line] = json_logs.records()
    assert line["message"] == "Task practice.tasks.x[t-1] received"
    assert line["data"] == {"id": "t-1", "name": "practice.tasks.x"}
    assert "+4470" not in json_logs.raw[0]


def test_probe_access_lines_are_debug(anon, json_logs):
    anon.get("/metrics")

    [line] = json_logs.access()
    assert line["level"] == "DEBUG"


def test_no_query_string_in_the_access_line(owner, json_logs):
    owner.api.get("/api/v1/clients/?search=someone@example.test")

    [line] = json_logs.access()
    assert line["path"] == "/api/v1/clients/"
    assert "someone" not in "".join(json_logs.raw)


# --- Celery tasks -----------------------------------------------------------------------------


@app.task(name="tests.ops.log_something")
def log_something() -> None:
    logging.getLogger("sessions.test").info("inside the task")


def test_a_task_line_carries_its_task_id_and_the_request_id_of_the_caller(json_logs):
    token = request_id_var.set("req-enqueuing")
    try:
        result = log_something.delay()  # eager in tests: runs here, in the caller's context
    finally:
        request_id_var.reset(token)

    [line] = [r for r in json_logs.records() if r["message"] == "inside the task"]
    assert line["task_id"] == result.id
    assert line["request_id"] == "req-enqueuing"


def test_the_request_id_travels_to_the_worker_in_a_message_header(json_logs):
    headers: dict = {}
    token = request_id_var.set("req-web")
    try:
        _publish_request_id(headers=headers)  # before_task_publish, in the web process
    finally:
        request_id_var.reset(token)
    assert headers == {TASK_HEADER: "req-web"}

    # In the worker Celery builds task.request from the message headers.
    task = type("Task", (), {"request": Context({"id": "task-1", **headers})})()
    _enter_task(task_id="task-1", task=task)
    try:
        logging.getLogger("sessions.test").info("in the worker")
    finally:
        _leave_task(task_id="task-1")
    logging.getLogger("sessions.test").info("after the task")

    inside, after = json_logs.records()
    assert (inside["task_id"], inside["request_id"]) == ("task-1", "req-web")
    assert "task_id" not in after
    assert after["request_id"] is None


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_logs_the_request_id_that_enqueued_its_task(settings, practice, json_logs):
    """Through Redis and a worker thread (a fresh context): only the message header carries it.

    Only the tasks this request published are counted: a task from elsewhere (here one queued
    before the request, with no request id) finishing meanwhile must not throw the count off."""
    import time

    from celery.contrib.testing.worker import start_worker
    from celery.signals import after_task_publish
    from rest_framework.test import APIClient

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    published: list[str] = []

    def remember(sender=None, headers=None, **kwargs) -> None:
        published.append(headers["id"])

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False):
            json_logs.attach()
            unrelated = log_something.delay()
            after_task_publish.connect(remember, weak=False)
            try:
                response = APIClient().post(
                    "/api/v1/auth/register/",
                    {
                        "practice": "north",
                        "email": "dana@example.com",
                        "password": "lumbar-support-42",
                        "first_name": "Dana",
                        "last_name": "Reyes",
                    },
                    HTTP_X_REQUEST_ID="signup-1",
                )
            finally:
                after_task_publish.disconnect(remember)
            assert response.status_code == 201
            assert published
            assert unrelated.id not in published
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and (
                len(_succeeded(json_logs, published)) < len(published)
                or not _succeeded(json_logs, [unrelated.id])
            ):
                time.sleep(0.05)
    finally:
        app.conf.task_always_eager = True

    lines = _succeeded(json_logs, published)
    assert len(lines) == len(published)
    for line in lines:
        assert line["request_id"] == "signup-1"
        assert line["task_id"] == line["data"]["id"]


def _succeeded(json_logs, task_ids: list[str]) -> list[dict]:
    """The 'succeeded' lines of the given tasks only, whatever else the worker ran."""
    return [
        line
        for line in json_logs.records()
        if line["logger"] == "celery.app.trace"
        and "succeeded" in line["message"]
        and line["data"]["id"] in task_ids
    ]
