"""The HTTP API against its own OpenAPI schema, fuzzed by schemathesis in process (bounded): no
server error, every status code and content type it answers declared, every body as described."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from clipsearch.config import IndexLocation
from clipsearch.models.demo_shapes import generate_folder
from clipsearch.server import create_app
from tests.conftest import Cli


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    generate_folder(root / "shapes", per_class=1, seed=5)
    cli = Cli(root / "home")
    cli.json("index", str(root / "shapes"), "--model", "tiny-shapes", "--ocr", "none")
    cli.json("map", "--json")  # named once, kept
    home = cli.home
    app = create_app(IndexLocation(home, "default"), allow_hosts=("testserver",))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_answer_is_what_the_schema_declares(api_schema):
    from hypothesis import given

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10  # every route, the map and the duplicates included

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def answers(case):  # type: ignore[no-untyped-def]
            # A request the schema allows may still ask what cannot be done (a box with whole
            # documents, an empty line with no filter): a 400 that says why, declared, answers it.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        answers()
