"""The preload page: the home page plus a Link header that asks to preload its stylesheet."""

LINK = "</static/demo/style.css>; rel=preload; as=style"


def test_preload_page_names_its_stylesheet_in_a_link_header(client):
    response = client.get("/preload")
    assert response.status_code == 200
    assert response["Link"] == LINK
    assert 'href="/static/demo/style.css"' in response.text


async def test_preload_page_with_async_client(async_client):
    response = await async_client.get("/preload")
    assert response.status_code == 200
    assert response["Link"] == LINK
