"""Every generated admin page lists, and its API answers, for the administrator."""

from __future__ import annotations

import pytest
from flask import Flask

from orgcarbon.metamodel.entities import ENTITIES
from tests.conftest import ADMIN_PASSWORD, login
from tests.integration.metamodel.helpers import Api


@pytest.mark.parametrize("entity", [e.name for e in ENTITIES])
def test_list_page_and_api_answer(app: Flask, entity: str) -> None:
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    spec = next(e for e in ENTITIES if e.name == entity)
    page = client.get(f"/{spec.model.__name__.lower()}view/list/")
    assert page.status_code == 200, page.get_data(as_text=True)[-3000:]
    add = client.get(f"/{spec.model.__name__.lower()}view/add")
    assert add.status_code == 200
    api = Api(app)
    listing = api.get(f"{entity}/")
    assert listing.status_code == 200, listing.get_data(as_text=True)
    info = api.get(f"{entity}/_info")
    assert info.status_code == 200


def test_empty_cells_show_nothing_rather_than_none(client) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import ADMIN_PASSWORD, login

    login(client, "admin", ADMIN_PASSWORD)
    html = client.get("/organizationview/list/").get_data(as_text=True)
    assert "华钢集团" in html
    assert ">None<" not in html and "None\n" not in html
