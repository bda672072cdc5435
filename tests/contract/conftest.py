"""Fixtures of the contract walks over every operation of the OpenAPI document."""
import pytest

from api.extensions import limiter
from tests.factories import make_user_who_reaches_everything, token_for


@pytest.fixture
def reach_headers(app):
    """The Authorization of a user who is staff, admin and owner, so that requests get past the role checks
    to the services behind them; no rate limit while the walk runs."""
    user = make_user_who_reaches_everything()
    limiter.enabled = False
    yield {"Authorization": f"Bearer {token_for(user)}"}
    limiter.enabled = True
