//! The stream-status sweep against a fake cloud that verifies signatures:
//! its three rules, a failing cloud, and two nodes on one database.
//!
//! Nothing here waits a fixed time: each test polls for a condition with a
//! generous deadline, and "not before" is checked against the fake's own
//! log of the online-list requests, which the fake writes before it answers.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use minilvb::admin::stream_sweep::LEASE;
use minilvb::config::Settings;
use minilvb_cloud::fake::{FakeCloud, Fault, StreamKey};
use minilvb_protocol::Counted;

use crate::backend_test;
use crate::cloud_moderation::{PUSH_DOMAIN, SECRET_ID, SECRET_KEY, fake_cloud};
use crate::common::*;

const LIST: &str = "DescribeLiveStreamOnlineList";
const DEADLINE: Duration = Duration::from_secs(60);

/// Settings that sweep `fake` every second.
fn sweep_settings(fake: &FakeCloud, misses: u32) -> impl FnOnce(&mut Settings) {
    let base = fake.base_url();
    move |s| {
        s.database.list_snapshot_ms = 0;
        s.cloud_api.secret_id = SECRET_ID.into();
        s.cloud_api.secret_key = minilvb::config::Secret::new(SECRET_KEY);
        s.cloud_api.live_endpoint = base.clone();
        s.cloud_api.vod_endpoint = base;
        s.cloud_api.sweep_secs = 1;
        s.cloud_api.sweep_misses = misses;
    }
}

/// A server that sweeps `fake` every second. The server's clock stands at
/// T0, so the fake's does too: the signature window is checked against it.
async fn sweeping(backend: Backend, fake: &FakeCloud, misses: u32) -> TestApp {
    fake.set_now(Some(T0));
    let configure = sweep_settings(fake, misses);
    TestApp::spawn_with(backend, |s| {
        configure(s);
        s.metrics.listen = "127.0.0.1:0".into();
    })
    .await
}

/// The stream id of a userid's room (BIZID 8888; `-` becomes `_`).
fn stream(userid: &str) -> String {
    format!("8888_{}", userid.replace('-', "_"))
}

/// Online-list requests the fake has received, and those it answered with
/// the list; every one of them signed right.
fn lists(fake: &FakeCloud) -> (usize, usize) {
    let calls = fake.calls_of(LIST);
    assert!(calls.iter().all(|c| c.verified), "{calls:?}");
    let answered = calls.iter().filter(|c| c.outcome == "ok").count();
    (calls.len(), answered)
}

async fn online(app: &TestApp, userid: &str) -> bool {
    let room = Counted::Room {
        userid: userid.into(),
    };
    app.store
        .pusher(&room)
        .await
        .expect("the room is readable")
        .unwrap_or_else(|| panic!("no room of {userid}"))
        .status
}

/// Polls `condition` every 20 ms until it holds; fails after [`DEADLINE`].
async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the fake has received `count` online-list requests.
async fn lists_reach(fake: &FakeCloud, count: usize) {
    until(&format!("{count} online-list requests"), || async {
        lists(fake).0 >= count
    })
    .await;
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

backend_test! {
    async fn a_room_the_cloud_no_longer_lists_goes_offline_after_sweep_misses_sweeps_and_not_before(backend) {
        let fake = fake_cloud().await;
        fake.add_online_stream(PUSH_DOMAIN, "live", &stream("live"), T0);
        let app = sweeping(backend, &fake, 3).await;
        app.go_live("gone", "g1").await;
        app.go_live("live", "g2").await;
        // From here on every listing sees "gone" online here and missing
        // there; at most one listing begun before counts as well.
        let (before, _) = lists(&fake);
        until("the room goes offline", || async {
            let offline = !online(&app, "gone").await;
            if offline {
                let (after, answered) = lists(&fake);
                assert!(
                    answered >= 3 && after >= before + 2,
                    "offline after {after} listings, {before} of them before it went live"
                );
            }
            offline
        })
        .await;
        assert!(online(&app, "live").await, "a room the cloud lists stays online");
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 1);
        assert!(fake.calls().iter().all(|c| c.action == LIST), "the sweep only lists");
        let list = &fake.calls_of(LIST)[0];
        assert_eq!(list.params["DomainName"], PUSH_DOMAIN);
        assert_eq!(list.params["AppName"], "live");
        assert_eq!(list.version, "2018-08-01");

        let metrics = app
            .client
            .get(format!("{}/metrics", app.metrics_base.as_ref().unwrap()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for expected in [
            "minilvb_sweeps_total{outcome=\"ok\"}",
            "minilvb_sweep_rooms_changed_total{change=\"offline\"}",
            "# TYPE minilvb_sweep_duration_seconds histogram",
            "minilvb_sweep_duration_seconds_bucket{le=\"0.1\"}",
            "# TYPE minilvb_cloud_api_duration_seconds histogram",
            "minilvb_cloud_api_duration_seconds_bucket{action=\"DescribeLiveStreamOnlineList\",le=\"0.25\"}",
            "minilvb_cloud_api_calls_total{action=\"DescribeLiveStreamOnlineList\",outcome=\"ok\"}",
            "minilvb_sweep_lease_held",
        ] {
            assert!(metrics.contains(expected), "{expected} missing in\n{metrics}");
        }
        app.stop().await;
    }
}

backend_test! {
    async fn a_room_that_comes_back_at_the_cloud_starts_counting_its_misses_again(backend) {
        let fake = fake_cloud().await;
        let key = stream("flaky");
        let app = sweeping(backend, &fake, 6).await;
        app.go_live("flaky", "g1").await;
        // Missing for at least two finished sweeps: three listings begun
        // after it went live.
        let (start, _) = lists(&fake);
        lists_reach(&fake, start + 3).await;
        fake.add_online_stream(PUSH_DOMAIN, "live", &key, T0);
        // Listed again for at least one finished sweep.
        let (back, _) = lists(&fake);
        lists_reach(&fake, back + 2).await;
        assert!(online(&app, "flaky").await, "missing fewer than 6 sweeps in a row");
        // Gone again: six misses from zero. Had the count gone on from two,
        // four would do; one listing begun before may count.
        assert!(fake.end_push(PUSH_DOMAIN, "live", &key));
        let (removed, _) = lists(&fake);
        until("the room goes offline", || async {
            let offline = !online(&app, "flaky").await;
            if offline {
                let (after, _) = lists(&fake);
                assert!(after >= removed + 5, "offline {} listings after it left again", after - removed);
            }
            offline
        })
        .await;
        app.stop().await;
    }
}

backend_test! {
    async fn a_live_stream_whose_room_is_offline_comes_online_unless_the_room_stopped_after_the_push_began(backend) {
        let fake = fake_cloud().await;
        let app = sweeping(backend, &fake, 3).await;
        app.request_addr("lost", "g1", "its push-began callback was lost").await;
        app.request_addr("stopped", "g2", "stopped after its push began").await;
        app.clock.advance(20);
        assert_eq!(app.change_status("stopped", 0).await["returnValue"], 0);
        assert_eq!(app.change_status("stopped", 1).await["returnValue"], 0);
        // Both pushes began at T0 + 10: after "lost" was created, before
        // "stopped" said it stopped.
        fake.add_online_stream(PUSH_DOMAIN, "live", &stream("lost"), T0 + 10);
        fake.add_online_stream(PUSH_DOMAIN, "live", &stream("stopped"), T0 + 10);
        until("the lost room comes online", || online(&app, "lost")).await;
        let listed = app.fetch_list(1, 1, 20).await;
        assert_eq!(listed["pusherlist"][0]["userid"], "lost", "{listed}");
        // A whole sweep more: the room that stopped stays offline.
        let (now, _) = lists(&fake);
        lists_reach(&fake, now + 2).await;
        assert!(!online(&app, "stopped").await, "a room that stopped later stays offline");
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 1);
        app.stop().await;
    }
}

backend_test! {
    async fn a_banned_users_live_stream_is_cut_again_and_ended_bans_are_lifted(backend) {
        let fake = fake_cloud().await;
        let app = sweeping(backend, &fake, 3).await;
        app.request_addr("bad", "g1", "banned").await;
        app.request_addr("was-bad", "g2", "banned until T0 - 10").await;
        app.store.ban("bad", "spam", T0, None).await.unwrap();
        app.store
            .ban("was-bad", "spam", T0 - 100, Some(T0 - 10))
            .await
            .unwrap();
        app.clock.advance(10);
        fake.add_online_stream(PUSH_DOMAIN, "live", &stream("bad"), T0 + 5);
        fake.add_online_stream(PUSH_DOMAIN, "live", &stream("was-bad"), T0 + 5);

        let cut = StreamKey::new(PUSH_DOMAIN, "live", &stream("bad"));
        until("the banned stream is cut", || async {
            fake.dropped_streams().contains(&cut)
        })
        .await;
        let drop = &fake.calls_of("DropLiveStream")[0];
        assert!(drop.verified && drop.outcome == "ok", "{drop:?}");
        assert!(!online(&app, "bad").await, "a banned user's room stays offline");
        until("the audit log has the cut", || async {
            let (_, entries) = app.store.audit_log(0, 50).await.unwrap();
            entries.iter().any(|e| e.action == "recut")
        })
        .await;
        let (_, entries) = app.store.audit_log(0, 50).await.unwrap();
        let recut = entries.iter().find(|e| e.action == "recut").unwrap();
        assert_eq!((recut.actor.as_str(), recut.target.as_str()), ("server", "bad"));
        assert!(recut.outcome.contains("cut again at the cloud (RequestId fa4ec10d-"), "{recut:?}");

        // The ban that ended is lifted, and its live stream is a room again.
        until("the ended ban's room comes online", || online(&app, "was-bad")).await;
        // The audit entry is written after the ban is gone: wait for it.
        until("the lifted ban is audited", || async {
            let (_, entries) = app.store.audit_log(0, 50).await.unwrap();
            entries.iter().any(|e| e.action == "unban" && e.target == "was-bad" && e.actor == "server")
        })
        .await;
        let bans: Vec<String> = app.store.bans().await.unwrap().into_iter().map(|b| b.userid).collect();
        assert_eq!(bans, ["bad"]);
        app.stop().await;
    }
}

backend_test! {
    async fn a_sweep_that_fails_at_the_cloud_changes_nothing(backend) {
        let fake = fake_cloud().await;
        // The first two sweeps fail: one on the cloud's internal error,
        // retried to the last attempt, one refused outright.
        fake.fail_next_of(LIST, 3, Fault::internal_error());
        fake.fail_next_of(LIST, 1, Fault::signature_failure());
        let app = sweeping(backend, &fake, 3).await;
        app.go_live("vj", "g1").await;
        app.request_addr("back", "g2", "live at the cloud").await;
        app.clock.advance(10);
        fake.add_online_stream(PUSH_DOMAIN, "live", &stream("back"), T0 + 5);
        until("both rooms follow the cloud", || async {
            let gone = !online(&app, "vj").await;
            let back = online(&app, "back").await;
            let (_, answered) = lists(&fake);
            assert!(!gone || answered >= 3, "offline after {answered} answered listings");
            assert!(!back || answered >= 1, "online after {answered} answered listings");
            gone && back
        })
        .await;
        let outcomes: Vec<String> = fake.calls_of(LIST).into_iter().map(|c| c.outcome).take(4).collect();
        assert_eq!(
            outcomes,
            ["InternalError", "InternalError", "InternalError", "AuthFailure.SignatureFailure"]
        );
        let metrics = app
            .client
            .get(format!("{}/metrics", app.metrics_base.as_ref().unwrap()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for expected in [
            "minilvb_sweeps_total{outcome=\"cloud_error\"}",
            "minilvb_cloud_api_calls_total{action=\"DescribeLiveStreamOnlineList\",outcome=\"refused\"}",
            "minilvb_sweep_rooms_changed_total{change=\"online\"}",
        ] {
            assert!(metrics.contains(expected), "{expected} missing in\n{metrics}");
        }
        app.stop().await;
    }
}

backend_test! {
    async fn two_nodes_on_one_database_sweep_one_at_a_time_and_the_other_takes_over(backend) {
        let fake = fake_cloud().await;
        fake.set_now(Some(T0));
        // A server that does not sweep owns the database; a node that died
        // holds the lease for four more seconds.
        let owner = TestApp::spawn_with(backend, |s| s.database.list_snapshot_ms = 0).await;
        let expires = wall_ms() + 4_000;
        assert!(owner.store.take_lease(LEASE, "a-node-that-died", expires - 4_000, 4_000).await.unwrap());
        let a = owner.spawn_sibling(sweep_settings(&fake, 3)).await;
        let b = owner.spawn_sibling(sweep_settings(&fake, 3)).await;
        let (sweep_a, sweep_b) = (a.sweep.clone().unwrap(), b.sweep.clone().unwrap());
        assert_ne!(sweep_a.node(), sweep_b.node());

        until("one node sweeps three times", || async {
            let (listed, _) = lists(&fake);
            if listed > 0 {
                assert!(wall_ms() >= expires, "a node swept while the dead node's lease held");
            }
            sweep_a.sweeps() + sweep_b.sweeps() >= 3
        })
        .await;
        let (holder, other, holding, waiting) = match sweep_a.holds_lease() {
            true => (a, b, sweep_a, sweep_b),
            false => (b, a, sweep_b, sweep_a),
        };
        assert!(holding.holds_lease() && !waiting.holds_lease());
        // Over a few more intervals: one listing an interval, all by the holder.
        let (first, _) = lists(&fake);
        let started = Instant::now();
        let done = holding.sweeps();
        until("three more sweeps", || async { holding.sweeps() >= done + 3 }).await;
        let (last, _) = lists(&fake);
        let intervals = started.elapsed().as_secs() as usize;
        assert!(last - first <= intervals + 1, "{} listings in {intervals} intervals", last - first);
        assert_eq!(waiting.sweeps(), 0, "the other node never swept");
        assert!(last <= holding.sweeps() as usize + 1, "{last} listings, {} sweeps", holding.sweeps());

        // The holder stops and gives the lease up; the other takes over.
        holder.stop().await;
        assert!(!holding.holds_lease());
        let stopped_at = lists(&fake).0;
        until("the other node takes over", || async { waiting.holds_lease() && waiting.sweeps() >= 1 }).await;
        assert!(lists(&fake).0 > stopped_at);
        other.stop().await;
        drop(owner);
    }
}
