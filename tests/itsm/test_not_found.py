def test_unrouted_api_path_answers_json_error_shape(api, responder):
    response = api.as_user(responder).get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_unrouted_portal_path_answers_html_page(client, responder):
    client.force_login(responder)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content
