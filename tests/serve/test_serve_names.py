"""The service's /enroll and DELETE /identities/{name} follow the one name policy (issue 22 probe follow-up):
names stored in NFC form, a second spelling of an enrolled identity refused, delete finding the stored one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

NFC, NFD = "Jos\u00e9", "Jose\u0301"


def test_enroll_stores_nfc_refuses_another_spelling_and_delete_finds_the_stored_one(
    text_model, serve, write, tmp_path: Path
) -> None:
    gallery = tmp_path / "people.safetensors"
    with serve(text_model, gallery=gallery) as client:
        r = client.post("/enroll", json={"identity": NFD, "items": ["how old are you"]}, headers=write)
        assert r.status_code == 200 and r.json()["identity"] == NFC
        r = client.post("/enroll", json={"identity": "JOSÉ", "items": ["what is your age"]}, headers=write)
        assert r.status_code == 422 and "is another spelling of 'José'" in r.json()["error"]
        for name in ("ann\ufe0f", "unkn\u043ewn", "\u0301"):
            assert client.post("/enroll", json={"identity": name, "items": ["x"]}, headers=write).status_code == 422
        assert client.delete(f"/identities/{quote('Jose')}", headers=write).status_code == 404  # another person
        r = client.delete(f"/identities/{quote('josé')}", headers=write)
        assert r.status_code == 200 and r.json() == {"identity": NFC, "removed_rows": 1}
        assert client.delete(f"/identities/{quote(NFD)}", headers=write).status_code == 404
