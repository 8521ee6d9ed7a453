"""Checks on the app's answers that many view tests make."""


def fragment(response) -> str:
    """The body of an answer that must be an htmx fragment: a 200 without the page around it."""
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    return body
