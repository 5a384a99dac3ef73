"""/v1/sources over the real server: an admin follows a local feed (served on 127.0.0.1, with the
private-address allowance), syncs it now and its articles are answerable; readers see the state but may
change nothing; unknown ids are 404; private and metadata addresses and server folders are refused;
no response carries a traceback or a key."""
from __future__ import annotations

import httpx
import pytest

from tests.api.test_guards import assert_error
from tests.fakes.feed_server import FeedServer, reuters_stories

ADMIN = "admin-key-for-sources-0001"
READER = "reader-key-for-sources-0001"


@pytest.fixture(scope="module")
def stories():
    return reuters_stories(4)


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


def keyed(serve_api, **env):
    return serve_api(CITEBOT_API_KEYS=READER, CITEBOT_API_ADMIN_KEYS=ADMIN, CITEBOT_API_RATE_LIMIT="0",
                     CITEBOT_SYNC_HOST_DELAY="0", **env)


def clients(api):
    """(admin, reader) clients whose every response is checked for a traceback or a key."""
    def check(response: httpx.Response) -> None:
        response.read()
        for leak in ("Traceback", 'File "', ADMIN, READER):
            assert leak not in response.text, f"{leak!r} in {response.request.url}: {response.text[:300]}"

    hooks = {"response": [check]}
    return api.client(ADMIN, event_hooks=hooks), api.client(READER, event_hooks=hooks)


def test_admin_follows_syncs_and_unfollows_a_feed_readers_see_its_state(serve_api, feeds, stories):
    feeds.site.publish(*stories[:3])
    api = keyed(serve_api, CITEBOT_ALLOW_PRIVATE_URLS="true")
    admin, reader = clients(api)
    with admin, reader:
        assert reader.get("/v1/sources").json() == {"sources": []}
        added = admin.post("/v1/sources", json={"location": feeds.url + "/feed.xml", "every": "1m", "name": "Wire"})
        assert added.status_code == 201, added.text
        source = added.json()
        assert (source["kind"], source["name"], source["every"]) == ("feed", "Wire", 60)
        assert source["state"]["last_success"] is None and source["state"]["failures"] == 0
        assert_error(admin.post("/v1/sources", json={"location": feeds.url + "/feed.xml"}), 409, "source_exists")

        synced = admin.post(f"/v1/sources/{source['id']}/sync")
        assert synced.status_code == 200, synced.text
        report = synced.json()
        assert (report["status"], report["new"], report["replaced"], report["error"]) == ("ok", 3, 0, "")
        assert report["source"]["state"]["last_success"] and report["source"]["state"]["entries"] == 3
        titles = {d["title"] for d in reader.get("/v1/documents").json()["documents"]}
        assert {s.title for s in stories[:3]} <= titles
        hits = reader.get("/v1/search", params={"q": stories[1].title, "k": 3}).json()["hits"]
        assert hits and hits[0]["title"] == stories[1].title  # the synced article is searchable at once

        feeds.site.publish(stories[3])
        again = admin.post(f"/v1/sources/{source['id']}/sync").json()
        assert (again["new"], again["unchanged"]) == (1, 3)
        listed = reader.get("/v1/sources").json()["sources"]
        assert [s["id"] for s in listed] == [source["id"]] and listed[0]["state"]["entries"] == 4
        assert listed[0]["state"]["next_due"] and listed[0]["state"]["last_error"] == ""
        assert reader.get(f"/v1/sources/{source['id']}").json()["name"] == "Wire"

        removed = admin.delete(f"/v1/sources/{source['id']}")
        assert removed.status_code == 200 and removed.json()["removed"]["id"] == source["id"]
        assert reader.get("/v1/sources").json() == {"sources": []}
        assert len(reader.get("/v1/documents").json()["documents"]) == 5  # its documents stay
        assert_error(admin.post(f"/v1/sources/{source['id']}/sync"), 404, "no_source")


def test_a_failing_source_reports_its_error_and_keeps_it_in_its_state(serve_api, feeds):
    feeds.site.override("/feed.xml", status=500, body=b"upstream down")
    api = keyed(serve_api, CITEBOT_ALLOW_PRIVATE_URLS="true")
    admin, reader = clients(api)
    with admin, reader:
        source = admin.post("/v1/sources", json={"location": feeds.url + "/feed.xml"}).json()
        report = admin.post(f"/v1/sources/{source['id']}/sync").json()
        assert report["status"] == "error" and "500" in report["error"] and report["new"] == 0
        state = reader.get("/v1/sources").json()["sources"][0]["state"]
        assert state["failures"] == 1 and "500" in state["last_error"] and "\n" not in state["last_error"]


def test_readers_change_nothing_and_unknown_ids_are_404(serve_api, feeds):
    api = keyed(serve_api, CITEBOT_ALLOW_PRIVATE_URLS="true")
    admin, reader = clients(api)
    with admin, reader:
        refused = reader.post("/v1/sources", json={"location": feeds.url + "/feed.xml"})
        assert_error(refused, 403, "admin_key_required")
        assert reader.get("/v1/sources").json() == {"sources": []}
        source = admin.post("/v1/sources", json={"location": feeds.url + "/atom.xml"}).json()
        assert_error(reader.delete(f"/v1/sources/{source['id']}"), 403, "admin_key_required")
        assert_error(reader.post(f"/v1/sources/{source['id']}/sync"), 403, "admin_key_required")
        assert feeds.site.hits("/atom.xml") == []  # the refused sync fetched nothing
        assert [s["id"] for s in reader.get("/v1/sources").json()["sources"]] == [source["id"]]
        for unknown in ("999", "abc", "99999999999999999999999", "1.5", "-1"):
            assert_error(reader.get(f"/v1/sources/{unknown}"), 404, "no_source")
            assert_error(admin.delete(f"/v1/sources/{unknown}"), 404, "no_source")
            assert_error(admin.post(f"/v1/sources/{unknown}/sync"), 404, "no_source")
        with api.client() as anonymous:
            assert_error(anonymous.get("/v1/sources"), 401, "api_key_required")


def test_private_and_metadata_addresses_and_server_folders_are_refused(serve_api, feeds, tmp_path):
    api = keyed(serve_api)  # no private-address allowance: the default
    admin, reader = clients(api)
    with admin, reader:
        for url in (feeds.url + "/feed.xml", "http://10.1.2.3/rss", "http://169.254.169.254/latest/meta-data/",
                    "http://[::1]/feed", "http://0xa9fea9fe/feed.xml", "http://user:pw@example.org/feed"):
            error = assert_error(admin.post("/v1/sources", json={"location": url}), 422, "url_refused")
            assert "\n" not in error["message"] and "pw@" not in error["message"]
        for path in ("/etc", str(tmp_path), "../", "/nonexistent/place"):
            assert_error(admin.post("/v1/sources", json={"location": path}), 403, "folder_not_allowed")
        assert_error(admin.post("/v1/sources", json={"location": "gopher://example.org/feed"}), 400, "bad_source")
        assert_error(admin.post("/v1/sources", json={"location": feeds.url + "/rss", "every": "fortnight"}),
                     400, "bad_interval")
        assert_error(admin.post("/v1/sources", json={"location": ["x"]}), 422, "invalid_request")
        assert_error(admin.post("/v1/sources", content=b"{not json", headers={"content-type": "application/json"}),
                     400, "invalid_json")
        assert reader.get("/v1/sources").json() == {"sources": []}  # nothing was stored
        assert feeds.site.requests == []  # and nothing was fetched


def test_the_metadata_address_stays_refused_with_the_private_allowance(serve_api):
    api = keyed(serve_api, CITEBOT_ALLOW_PRIVATE_URLS="true")
    admin, reader = clients(api)
    with admin, reader:
        for url in ("http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/feed.xml"):
            assert "metadata" in assert_error(admin.post("/v1/sources", json={"location": url}), 422,
                                              "url_refused")["message"]
        assert reader.get("/v1/sources").json() == {"sources": []}


def test_a_folder_under_the_allowed_root_is_followed_and_synced(serve_api, tmp_path):
    root = tmp_path / "shared-drive"
    (root / "memos").mkdir(parents=True)
    (root / "memos" / "ferry.txt").write_text("---\ntitle: Ferry resumes\ndate: 2024-06-01\n---\nThe Kholmsk ferry "
                                              "resumed sailing on June 1 after the pier was repaired by the port.")
    api = keyed(serve_api, CITEBOT_API_SOURCE_FOLDERS=str(root))
    admin, reader = clients(api)
    with admin, reader:
        assert_error(admin.post("/v1/sources", json={"location": str(tmp_path)}), 403, "folder_not_allowed")
        added = admin.post("/v1/sources", json={"location": str(root / "memos"), "prune": True, "every": 3600})
        assert added.status_code == 201, added.text
        assert (added.json()["kind"], added.json()["prune"], added.json()["every"]) == ("folder", True, 3600)
        report = admin.post(f"/v1/sources/{added.json()['id']}/sync").json()
        assert (report["status"], report["new"]) == ("ok", 1)
        answer = reader.post("/v1/ask", json={"question": "when did the Kholmsk ferry resume sailing?"}).json()
        assert any(c["title"] == "Ferry resumes" for c in answer["citations"])


def test_the_openapi_document_describes_the_sources_endpoints(serve_api):
    api = serve_api()
    with api.client() as http:
        spec = http.get("/openapi.json").json()
    assert {"get", "post"} <= set(spec["paths"]["/v1/sources"])
    assert "delete" in spec["paths"]["/v1/sources/{source_id}"] and "post" in spec["paths"]["/v1/sources/{source_id}/sync"]
    body = spec["components"]["schemas"]["SourceRequest"]
    assert body["required"] == ["location"] and {"every", "name", "prune"} <= set(body["properties"])
    assert {"last_success", "last_error", "failures", "next_due"} <= set(spec["components"]["schemas"]["SourceStateOut"]["properties"])


def test_two_servers_on_postgresql_share_the_sources_and_their_state(tmp_path, pg_url, feeds, stories):
    from retrieval import Corpus
    from tests.api.conftest import api_settings, start
    from tests.fakes.hash_embedder import HashEmbedder

    feeds.site.publish(*stories[:2])
    env = dict(CITEBOT_DATABASE_URL=pg_url, CITEBOT_API_KEYS=READER, CITEBOT_API_ADMIN_KEYS=ADMIN,
               CITEBOT_ALLOW_PRIVATE_URLS="true", CITEBOT_SYNC_HOST_DELAY="0")
    settings_a, settings_b = api_settings(tmp_path / "a", **env), api_settings(tmp_path / "b", **env)
    corpus_a, corpus_b = Corpus.open(settings_a, embedder=HashEmbedder()), Corpus.open(settings_b, embedder=HashEmbedder())
    a, b = start(settings_a, corpus_a), start(settings_b, corpus_b)
    try:
        with a.client(ADMIN) as on_a, b.client(READER) as on_b, b.client(ADMIN) as admin_b:
            source = on_a.post("/v1/sources", json={"location": feeds.url + "/feed.json"}).json()
            assert on_a.post(f"/v1/sources/{source['id']}/sync").json()["new"] == 2
            listed = on_b.get("/v1/sources").json()["sources"]
            assert [s["id"] for s in listed] == [source["id"]] and listed[0]["state"]["entries"] == 2
            assert {d["title"] for d in on_b.get("/v1/documents").json()["documents"]} >= {s.title for s in stories[:2]}
            again = admin_b.post(f"/v1/sources/{source['id']}/sync").json()  # B knows what A indexed
            assert again["new"] == 0 and again["status"] in ("ok", "not-modified")
            assert admin_b.delete(f"/v1/sources/{source['id']}").status_code == 200
            assert on_a.get("/v1/sources").json() == {"sources": []}
    finally:
        a.stop()
        b.stop()
        corpus_a.close()
        corpus_b.close()


def test_a_channel_is_followed_but_not_synced_over_http(serve_api):
    api = keyed(serve_api)
    admin, reader = clients(api)
    with admin, reader:
        added = admin.post("/v1/sources", json={"location": "https://t.me/Kholmsk_News"})
        assert added.status_code == 201 and (added.json()["kind"], added.json()["location"]) == ("telegram",
                                                                                                  "@kholmsk_news")
        assert_error(admin.post(f"/v1/sources/{added.json()['id']}/sync"), 409, "not_synced_here")
        assert_error(admin.post("/v1/sources", json={"location": "@kholmsk_news"}), 409, "source_exists")
