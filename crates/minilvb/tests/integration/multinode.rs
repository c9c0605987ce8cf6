//! Several nodes on one database: two `minilvb` processes on one PostgreSQL
//! database and two on one MariaDB/MySQL database, started together (so
//! they migrate together), then hammered by concurrent clients on the same
//! rooms: enters, quits, likes and unlikes, duplicate POSTs sent to both
//! nodes at once, status changes. Afterwards counts are checked exactly.
//! And two nodes' stores on one database of each backend, receiving the
//! same reports at the same instant.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};

use crate::common::{Backend, TestDatabase, anchor, group, like_body};
use crate::nodes::{Node, ok, post, room_with_members};

const ROOMS: usize = 3;
const VIEWERS: usize = 24;
const STEPS: usize = 8;
/// Likes per room before the mixed phase: more than the unlikes that
/// follow, so the floor at 0 never applies and likes = increments − decrements.
const WARM_UP_LIKES: usize = 80;
const MAX_UNLIKES_PER_VIEWER: usize = 3;

#[derive(Debug, Clone, Copy)]
enum Step {
    Enter,
    /// The same EnterGroup POSTed to both nodes at once.
    EnterTwice,
    Quit,
    QuitTwice,
    Like,
    /// The same like POSTed to both nodes at once: both count.
    LikeTwice,
    Unlike,
}

/// What the clients saw acknowledged, per room.
#[derive(Debug, Default)]
struct Tally {
    likes: i64,
    members: BTreeSet<String>,
    failures: Vec<String>,
    requests: usize,
}

fn script(rng: &mut impl rand::Rng) -> Vec<Step> {
    let mut unlikes = 0;
    let mut steps = vec![Step::Enter];
    while steps.len() < STEPS {
        let step = match rng.random_range(0..7) {
            0 => Step::Enter,
            1 => Step::EnterTwice,
            2 => Step::Quit,
            3 => Step::QuitTwice,
            4 => Step::Like,
            5 => Step::LikeTwice,
            _ if unlikes < MAX_UNLIKES_PER_VIEWER => {
                unlikes += 1;
                Step::Unlike
            }
            _ => Step::Like,
        };
        steps.push(step);
    }
    steps
}

/// Sends `body` to one node, or to both at once; counts what was acknowledged.
async fn send(
    client: &reqwest::Client,
    nodes: &[String],
    pick: usize,
    both: bool,
    body: &Value,
    tally: &Mutex<Tally>,
) -> usize {
    let replies = if both {
        let (x, y) = tokio::join!(post(client, &nodes[0], body), post(client, &nodes[1], body));
        vec![x, y]
    } else {
        vec![post(client, &nodes[pick % nodes.len()], body).await]
    };
    let mut acknowledged = 0;
    let mut tally = tally.lock().unwrap();
    for reply in replies {
        tally.requests += 1;
        match reply {
            Ok(reply) if reply["returnValue"] == 0 => acknowledged += 1,
            Ok(reply) => tally.failures.push(format!("{body} answered {reply}")),
            Err(e) => tally.failures.push(e),
        }
    }
    acknowledged
}

async fn viewer(
    client: reqwest::Client,
    nodes: Arc<Vec<String>>,
    room: usize,
    id: String,
    steps: Vec<Step>,
    tally: Arc<Mutex<Tally>>,
) {
    let enter = json!({"Action":"EnterGroup","userid":id,"liveuserid":anchor(room),"groupid":group(room),
        "nickname":format!("观众 {id} 😀"),"headpic":format!("http://img/{id}.png"),"flag":0});
    let quit = json!({"Action":"QuitGroup","userid":id,"flag":0,"liveuserid":anchor(room),"groupid":group(room)});
    for (i, step) in steps.into_iter().enumerate() {
        let (body, both) = match step {
            Step::Enter => (&enter, false),
            Step::EnterTwice => (&enter, true),
            Step::Quit => (&quit, false),
            Step::QuitTwice => (&quit, true),
            Step::Like => (&like_body(room, 0), false),
            Step::LikeTwice => (&like_body(room, 0), true),
            Step::Unlike => (&like_body(room, 1), false),
        };
        let acknowledged = send(&client, &nodes, i + room, both, body, &tally).await;
        let mut tally = tally.lock().unwrap();
        match step {
            Step::Enter | Step::EnterTwice if acknowledged > 0 => {
                tally.members.insert(id.clone());
            }
            Step::Quit | Step::QuitTwice if acknowledged > 0 => {
                tally.members.remove(&id);
            }
            Step::Like | Step::LikeTwice => tally.likes += acknowledged as i64,
            Step::Unlike => tally.likes -= acknowledged as i64,
            _ => {}
        }
    }
}

async fn several_nodes_keep_counts_exact(backend: Backend) {
    if !backend.available().await {
        return;
    }
    let database = TestDatabase::create(backend).await;
    // Started together: both run the migrations at once.
    let (a, b) = tokio::join!(
        Node::start(&database.url, &[]),
        Node::start(&database.url, &[])
    );
    let nodes = Arc::new(vec![a.base.clone(), b.base.clone()]);
    let client = reqwest::Client::new();
    let setup = Mutex::new(Tally::default());
    for room in 0..ROOMS {
        // A new room created by the same POST on both nodes at once: the
        // two inserts race on the key, the loser re-runs as a replacement.
        let request = json!({"Action":"RequestLVBAddr","userid":anchor(room),"groupid":group(room),
            "title":"multi-node","userinfo":{"nickname":"主播 🎤","headpic":"","frontcover":"","location":""}});
        assert_eq!(send(&client, &nodes, 0, true, &request, &setup).await, 2);
        let online = json!({"Action":"ChangeStatus","userid":anchor(room),"status":0});
        ok(&client, &nodes[room % 2], &online).await;
    }
    assert!(
        setup.lock().unwrap().failures.is_empty(),
        "{:?}",
        setup.lock().unwrap().failures
    );
    let tallies: Vec<Arc<Mutex<Tally>>> = (0..ROOMS).map(|_| Arc::default()).collect();
    let started = Instant::now();

    // Warm-up: likes only, from both nodes.
    let mut tasks = Vec::new();
    for (room, tally) in tallies.iter().enumerate() {
        for worker in 0..8 {
            let (client, nodes, tally) = (client.clone(), nodes.clone(), tally.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..WARM_UP_LIKES / 8 {
                    let acknowledged = send(
                        &client,
                        &nodes,
                        worker + i,
                        false,
                        &like_body(room, 0),
                        &tally,
                    )
                    .await;
                    tally.lock().unwrap().likes += acknowledged as i64;
                }
            }));
        }
    }
    for task in tasks.drain(..) {
        task.await.expect("warm-up task");
    }

    // Mixed: viewers on every room, and status flapping on the same rooms.
    let mut rng = rand::rng();
    for (room, tally) in tallies.iter().enumerate() {
        for v in 0..VIEWERS {
            let steps = script(&mut rng);
            let id = format!("viewer-{room}-{v}");
            tasks.push(tokio::spawn(viewer(
                client.clone(),
                nodes.clone(),
                room,
                id,
                steps,
                tally.clone(),
            )));
        }
        for flapper in 0..2 {
            let (client, nodes, tally) = (client.clone(), nodes.clone(), tally.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..10 {
                    let body = json!({"Action":"ChangeStatus","userid":anchor(room),"status":(i + flapper) % 2});
                    send(&client, &nodes, i + flapper, false, &body, &tally).await;
                }
            }));
        }
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let elapsed = started.elapsed();

    // Settle the status, then check everything from both nodes.
    for room in 0..ROOMS {
        ok(
            &client,
            &nodes[1],
            &json!({"Action":"ChangeStatus","userid":anchor(room),"status":0}),
        )
        .await;
    }
    let mut requests = 0;
    let mut summary = Vec::new();
    for (room, tally) in tallies.iter().enumerate() {
        let tally = std::mem::take(&mut *tally.lock().unwrap());
        requests += tally.requests;
        summary.push((room, tally.likes, tally.members.len()));
        assert!(
            tally.failures.is_empty(),
            "room {room}: {} failed requests, e.g. {:?}",
            tally.failures.len(),
            &tally.failures[..tally.failures.len().min(5)]
        );
        for base in nodes.iter() {
            let (info, members, listed) =
                room_with_members(&client, base, &anchor(room), &group(room)).await;
            let listed: BTreeSet<String> = listed.into_iter().collect();
            assert_eq!(listed, tally.members, "room {room} members via {base}");
            assert_eq!(members["totalcount"], tally.members.len(), "room {room}");
            assert_eq!(info["viewercount"], tally.members.len(), "room {room}");
            assert_eq!(info["likecount"], tally.likes, "room {room} likes");
            assert!(tally.likes >= 0);
            assert_eq!(info["status"], "1", "room {room}");
            assert_eq!(info["userinfo"]["nickname"], "主播 🎤");
            if let Some(first) = members["memberlist"].as_array().unwrap().first() {
                assert!(
                    first["nickname"].as_str().unwrap().ends_with("😀"),
                    "{first}"
                );
            }
        }
    }
    // The lists' order is a per-node snapshot, rebuilt at least every
    // database.list_snapshot_ms (1 s) for other nodes' writes.
    let deadline = Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let list = ok(
            &client,
            &nodes[0],
            &json!({"flag":1,"pageno":1,"pagesize":20,"Action":"FetchList"}),
        )
        .await;
        if list["totalcount"] == ROOMS || Instant::now() > deadline {
            assert_eq!(list["totalcount"], ROOMS, "{list}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    eprintln!(
        "multi-node {}: {requests} requests in {elapsed:.2?} ({:.0}/s); (room, likes, members): {summary:?}",
        backend.name(),
        requests as f64 / elapsed.as_secs_f64()
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    several_nodes_keep_counts_exact(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    several_nodes_keep_counts_exact(Backend::Mysql).await;
}

/// A node's store on `url`, as a server opens it (no list snapshots, so
/// that every read goes to the database).
async fn node_store(url: &str) -> std::sync::Arc<dyn minilvb_store::Store> {
    let settings = minilvb::config::DatabaseSettings {
        url: url.to_owned(),
        list_snapshot_ms: 0,
        ..Default::default()
    };
    minilvb_store::connect(&settings, None)
        .await
        .expect("a node's store")
}

crate::backend_test! {
    async fn the_same_first_report_at_two_nodes_at_once_opens_one_report(backend) {
        let database = TestDatabase::create(backend).await;
        let (a, b) = (node_store(&database.url).await, node_store(&database.url).await);
        const PAIRS: usize = 40;
        let mut tasks = Vec::new();
        for pair in 0..PAIRS {
            for node in [a.clone(), b.clone()] {
                tasks.push(tokio::spawn(async move {
                    node.add_report(&format!("viewer-{pair}"), "vj", 1_767_225_600).await
                }));
            }
        }
        for task in tasks {
            task.await.expect("a task").expect("the report is recorded");
        }
        let reports = a.reports(false).await.unwrap();
        let mut per_reporter = std::collections::BTreeMap::<String, (usize, i64)>::new();
        for report in &reports {
            let entry = per_reporter.entry(report.reporter.clone()).or_default();
            entry.0 += 1;
            entry.1 += report.times;
        }
        assert_eq!(per_reporter.len(), PAIRS);
        for (reporter, (open, times)) in per_reporter {
            assert_eq!((open, times), (1, 2), "{reporter}: {open} open reports");
        }
        a.close().await;
        b.close().await;
    }
}
