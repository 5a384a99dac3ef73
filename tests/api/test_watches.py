"""/v1/watches over the real server: admins add, list and remove a chat's standing questions; readers
may not even list them; a sync asked over HTTP queues the answer for the bot to push, once."""
from __future__ import annotations

from retrieval import open_watches
from tests.api.test_guards import assert_error
from tests.api.test_sources import clients, keyed
from tests.fakes.feed_server import FeedServer, Story

HARBOUR = Story(slug="kholmsk", title="Harbour closed", date="2024-05-02",
                body="The port of Kholmsk was closed on May 2 after a storm broke its pier.\n\n"
                     "Ferries to Vanino were sent to Korsakov instead, the port authority said.")


def test_admins_add_list_and_remove_watches_readers_cannot(serve_api):
    api = keyed(serve_api, CITEBOT_WATCH_MAX_PER_USER="2")
    admin, reader = clients(api)
    with admin, reader:
        added = admin.post("/v1/watches", json={"chat_id": -100123, "question": "  why was the port closed? "})
        assert added.status_code == 201, added.text
        watch = added.json()
        assert (watch["chat_id"], watch["question"], watch["user_id"]) == (-100123, "why was the port closed?", None)
        other = admin.post("/v1/watches", json={"chat_id": 42, "question": "who won the vote?", "user_id": 7}).json()
        assert [w["id"] for w in admin.get("/v1/watches").json()["watches"]] == [watch["id"], other["id"]]
        assert [w["id"] for w in admin.get("/v1/watches", params={"chat_id": 42}).json()["watches"]] == [other["id"]]

        assert_error(reader.get("/v1/watches"), 403, "admin_key_required")
        assert_error(reader.post("/v1/watches", json={"chat_id": 1, "question": "anything?"}), 403, "admin_key_required")
        assert_error(reader.delete(f"/v1/watches/{watch['id']}"), 403, "admin_key_required")

        assert_error(admin.post("/v1/watches", json={"chat_id": "42", "question": "x?"}), 422, "invalid_request")
        assert_error(admin.post("/v1/watches", json={"question": "no chat?"}), 422, "invalid_request")
        assert_error(admin.post("/v1/watches", json={"chat_id": 42, "question": "   "}), 400, "question_empty")
        admin.post("/v1/watches", json={"chat_id": 42, "question": "when is the next vote?", "user_id": 7})
        limit = admin.post("/v1/watches", json={"chat_id": 43, "question": "a third one?", "user_id": 7})
        assert_error(limit, 409, "watch_limit")

        assert_error(admin.delete(f"/v1/watches/{watch['id']}", params={"chat_id": 42}), 404, "no_watch")
        for unknown in ("999", "abc", "99999999999999999999999"):
            assert_error(admin.delete(f"/v1/watches/{unknown}"), 404, "no_watch")
        removed = admin.delete(f"/v1/watches/{watch['id']}")
        assert removed.status_code == 200 and removed.json()["removed"]["id"] == watch["id"]
        assert watch["id"] not in [w["id"] for w in admin.get("/v1/watches").json()["watches"]]


def test_a_sync_over_http_queues_one_push_for_a_newly_answering_article(serve_api):
    with FeedServer() as feeds:
        api = keyed(serve_api, CITEBOT_ALLOW_PRIVATE_URLS="true")
        admin, reader = clients(api)
        with admin, reader:
            watch = admin.post("/v1/watches", json={"chat_id": 555, "question": "why was the port of Kholmsk closed?"})
            source = admin.post("/v1/sources", json={"location": feeds.url + "/feed.xml"}).json()
            assert admin.post(f"/v1/sources/{source['id']}/sync").json()["watch_pushes"] == 0  # nothing new yet
            feeds.site.publish(HARBOUR)
            report = admin.post(f"/v1/sources/{source['id']}/sync").json()
            assert (report["new"], report["watch_pushes"]) == (1, 1)
            assert admin.post(f"/v1/sources/{source['id']}/sync").json()["watch_pushes"] == 0
        with open_watches(api.settings) as watches:
            pending = watches.pending()
            assert [(p.push.chat_id, p.push.watch_id) for p in pending] == [(555, watch.json()["id"])]
            assert "storm" in pending[0].answer.answer
