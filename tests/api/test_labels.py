"""Labels in answers follow Accept-Language: Chinese by default, English when the reader prefers it, both in
answers dumped through a schema and in those the service builds and sends as they are (/me)."""
from tests.factories import make_user, make_world, token_for


def test_me_labels_roles_scopes_and_checks_in_the_readers_language(client):
    world = make_world()
    user = make_user(name="刘敏", roles=[("staff", "neighbourhood", world.nb.id)])
    headers = {"Authorization": f"Bearer {token_for(user)}"}

    zh = client.get("/api/v1/me", headers=headers).get_json()
    staff = next(r for r in zh["roles"] if r["role"] == "staff")
    assert staff["role_name"] == "工作人员"
    assert staff["scopes"][0]["type_name"] == "居委会"
    assert zh["profile"]["verification"]["identity"]["status_name"] == "未提供"

    en = client.get("/api/v1/me", headers={**headers, "Accept-Language": "en-GB,en;q=0.9"}).get_json()
    staff = next(r for r in en["roles"] if r["role"] == "staff")
    assert staff["role_name"] == "Staff"
    assert staff["scopes"][0]["type_name"] == "Neighbourhood committee"
    assert en["profile"]["verification"]["identity"]["status_name"] == "Not given"


def test_a_schema_dumped_answer_labels_its_codes_in_the_readers_language(client):
    world = make_world()
    user = make_user(name="王秀英")
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    zh = client.get(f"/api/v1/streets/{world.street.id}", headers=headers).get_json()
    assert (zh["coord_source"], zh["coord_source_name"]) == ("approximate", "大致位置")
    en = client.get(f"/api/v1/streets/{world.street.id}", headers={**headers, "Accept-Language": "en"}).get_json()
    assert en["coord_source_name"] == "Approximate"
    assert en["datum_name"] == "GCJ-02 (Chinese maps)"
