def test_owner_sees_own_practice(owner):
    response = owner.api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["practice"]["slug"] == "north"
