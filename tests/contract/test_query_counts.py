"""Every list of the router costs the same number of queries however many rows it shows.

One parametrised test walks the router (STYLE.md "Tests": query counts pinned, NetBox-style): an N+1
in a serializer, or an access log written row by row, makes the count grow with the page and fails.
"""

from __future__ import annotations

import pytest

from practice.models import AuditEvent
from tests.contract.routes import ROUTES, route_params

pytestmark = pytest.mark.django_db

ROWS = (1, 10, 100)
PAGE_SIZES = (1, 10, 100)
# Authentication, the page, its prefetches and the access log: a list needing more has a problem.
MOST_QUERIES_A_LIST_MAY_NEED = 6


def _audit_writes(captured) -> int:
    table = AuditEvent._meta.db_table
    return sum(
        1
        for query in captured
        if query["sql"].lstrip().upper().startswith("INSERT") and table in query["sql"]
    )


@pytest.mark.parametrize("route", route_params([r for r in ROUTES if r.offers("list")]))
def test_list_costs_the_same_queries_for_any_number_of_rows_and_page_size(
    route, practice, members, django_assert_num_queries, django_assert_max_num_queries
):
    owner = members["owner"]
    url = route.list_url()
    owner.api.get(url)  # first request of the test: warm per-process caches (content types, ...)
    made = 0
    expected = None
    for rows in ROWS:
        route.make(practice, members, size=rows - made)
        made = rows
        for page_size in PAGE_SIZES:
            if expected is None:
                with django_assert_max_num_queries(MOST_QUERIES_A_LIST_MAY_NEED) as first:
                    response = owner.api.get(url, {"page_size": page_size})
                expected = len(first.captured_queries)
                captured = first.captured_queries
            else:
                with django_assert_num_queries(expected) as later:
                    response = owner.api.get(url, {"page_size": page_size})
                captured = later.captured_queries
            assert response.status_code == 200, response.content
            shown = response.json()["results"]
            assert len(shown) == page_size if rows >= page_size else len(shown) >= rows
            # The access log of a clinical list is one INSERT for the whole page.
            audit_writes = _audit_writes(captured)
            assert audit_writes == (1 if route.viewset.audit_as else 0), (
                f"{audit_writes} access-log writes for one page of {route.prefix}"
            )


# The lists `make bench` times against a bare `.values()` read (bench/: *_list), pinned exactly
# (issue 22.2): the token (one query, its user, membership and practice joined), the page, its
# history (complaints: red-flag answers and clearances; notes: amendments and delivered plan
# items; appointments: their events and their courses' open measures, the owner being a
# clinician) and the access log's one INSERT (appointments are not clinical: none). The same at
# page_size=10 and 100. One more is a regression of the figure to explain.
PINNED_LISTS = {
    "clients": 3,
    "complaints": 5,
    "notes": 5,
    "invoices": 3,
    "appointments": 4,
    "outcomes": 3,
}


@pytest.mark.parametrize(("prefix", "queries"), PINNED_LISTS.items())
@pytest.mark.parametrize("page_size", [10, 100])
def test_the_benchmarked_lists_run_their_pinned_queries(
    prefix, queries, page_size, practice, members, django_assert_max_num_queries
):
    (route,) = [r for r in ROUTES if r.prefix == prefix]
    owner = members["owner"]
    route.make(practice, members, size=12)
    owner.api.get(route.list_url())  # warm per-process caches (content types, ...)

    with django_assert_max_num_queries(queries) as captured:
        response = owner.api.get(route.list_url(), {"page_size": page_size})

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) >= min(12, page_size)
    assert len(captured.captured_queries) == queries
    assert _audit_writes(captured.captured_queries) == (1 if route.viewset.audit_as else 0)
