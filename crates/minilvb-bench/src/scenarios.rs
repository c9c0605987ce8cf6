//! The scenarios: what each seeds, what each connection sends, and what is
//! checked afterwards.
//!
//! Every request is one the apps send (`reference/tencent-cloud.md` section
//! 2, key order as Android sends them) and every one expects `returnValue` 0:
//! anything else counts as an error. Workers that write (likes, enters,
//! quits) keep a model of what the server acknowledged, and the scenario
//! checks the server's counts against it exactly.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::client::Conn;
use super::{Check, Sizes};
use minilvb_protocol::cloud;
use minilvb_protocol::{Group, UserInfo};
use minilvb_store::{ImportedRoom, NewMember, NewRecording, NewSession, Store, StoreError};

/// The BIZID of seeded stream ids (the demo settings' one).
const BIZID: &str = "8888";
/// Concurrent seeding tasks: enough to keep a networked database busy.
const SEED_TASKS: usize = 16;
/// The page size the apps ask for.
const PAGE: usize = 20;

/// The scenarios of the load generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScenarioKind {
    /// The same HTTP stack answering a fixed envelope with no work.
    Baseline,
    /// FetchList flags 1, 2, 3 (first and random pages) and GetUserInfo over
    /// many rooms and recordings.
    List,
    /// Every connection likes the same room.
    Likes,
    /// Viewers entering and quitting rooms, one of them huge.
    Churn,
    /// A weighted mix of every action, as the apps produce them.
    Mixed,
    /// Page-1 latency at a small and at a large size.
    Scale,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 6] = [
        ScenarioKind::Baseline,
        ScenarioKind::List,
        ScenarioKind::Likes,
        ScenarioKind::Churn,
        ScenarioKind::Mixed,
        ScenarioKind::Scale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Baseline => "baseline",
            ScenarioKind::List => "list",
            ScenarioKind::Likes => "likes",
            ScenarioKind::Churn => "churn",
            ScenarioKind::Mixed => "mixed",
            ScenarioKind::Scale => "scale",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one connection does.
pub trait Worker: Send + 'static {
    /// Writes the next request's JSON body; returns its operation's index.
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize;
    /// Learns how the last request ended: `Some(returnValue)`, or `None`
    /// when no reply came. Returns whether that was the expected answer.
    fn outcome(&mut self, op: usize, return_value: Option<i64>) -> bool {
        let _ = op;
        return_value == Some(0)
    }
}

/// A scenario: its seed, its workers, its checks.
pub trait Scenario {
    type Worker: Worker;
    /// Names of the operations, indexed as the workers return them.
    fn ops(&self) -> &'static [&'static str];
    fn seed(&mut self, store: &Arc<dyn Store>) -> impl Future<Output = anyhow::Result<()>>;
    /// The workers, kept from phase to phase with their state.
    fn pool(&mut self) -> &mut Pool<Self::Worker>;
    /// Checks the server's state against what the workers saw acknowledged.
    fn check(&self, http: &mut Checker) -> impl Future<Output = anyhow::Result<Vec<Check>>>;
}

/// Keeps workers by index, so that each phase continues with the same state.
pub struct Pool<W> {
    workers: Vec<Option<W>>,
    make: Box<dyn Fn(usize) -> W>,
}

impl<W> Pool<W> {
    fn new(make: impl Fn(usize) -> W + 'static) -> Self {
        Self {
            workers: Vec::new(),
            make: Box::new(make),
        }
    }

    /// The first `n` workers, made as needed.
    pub fn take(&mut self, n: usize) -> Vec<W> {
        while self.workers.len() < n {
            let index = self.workers.len();
            self.workers.push(Some((self.make)(index)));
        }
        self.workers[..n]
            .iter_mut()
            .map(|w| w.take().expect("workers are returned after each phase"))
            .collect()
    }

    pub fn put_back(&mut self, workers: Vec<W>) {
        for (slot, worker) in self.workers.iter_mut().zip(workers) {
            *slot = Some(worker);
        }
    }

    fn all(&self) -> impl Iterator<Item = &W> {
        self.workers.iter().flatten()
    }
}

/// Picks an index by weight.
fn pick(rng: &mut SmallRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut at = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if at < w {
            return i;
        }
        at -= w;
    }
    weights.len() - 1
}

fn random_page(rng: &mut SmallRng, items: usize) -> usize {
    rng.random_range(1..=items.div_ceil(PAGE).max(1))
}

// ---------------------------------------------------------------------------
// Request bodies, as the apps send them. Our ids need no JSON escaping.

fn fetch_list(body: &mut Vec<u8>, flag: u8, pageno: usize) {
    let _ = write!(
        body,
        r#"{{"flag":{flag},"pageno":{pageno},"pagesize":{PAGE},"Action":"FetchList"}}"#
    );
}

fn get_user_info(body: &mut Vec<u8>, group: &GroupRef) {
    let kind = group.flag;
    let fileid = if group.flag == 1 { &group.key[..] } else { "" };
    let _ = write!(
        body,
        r#"{{"Action":"GetUserInfo","userid":"{}","type":{kind},"fileid":"{fileid}"}}"#,
        group.anchor
    );
}

fn like(body: &mut Vec<u8>, group: &GroupRef) {
    let fileid = if group.flag == 1 { &group.key[..] } else { "" };
    let _ = write!(
        body,
        r#"{{"Action":"ChangeCount","userid":"{}","type":1,"optype":0,"flag":{},"fileid":"{fileid}"}}"#,
        group.anchor, group.flag
    );
}

fn enter_group(body: &mut Vec<u8>, viewer: &str, group: &GroupRef) {
    let _ = write!(
        body,
        r#"{{"Action":"EnterGroup","userid":"{viewer}","liveuserid":"{}","groupid":"{}","nickname":"nick {viewer}","headpic":"http://img.example.com/{viewer}.png","flag":{}}}"#,
        group.anchor, group.key, group.flag
    );
}

fn quit_group(body: &mut Vec<u8>, viewer: &str, group: &GroupRef) {
    let _ = write!(
        body,
        r#"{{"Action":"QuitGroup","userid":"{viewer}","flag":{},"liveuserid":"{}","groupid":"{}"}}"#,
        group.flag, group.anchor, group.key
    );
}

fn member_list(body: &mut Vec<u8>, group: &GroupRef, pageno: usize, pagesize: usize) {
    let _ = write!(
        body,
        r#"{{"Action":"FetchGroupMemberList","liveuserid":"{}","groupid":"{}","pageno":{pageno},"pagesize":{pagesize}}}"#,
        group.anchor, group.key
    );
}

fn request_lvb_addr(body: &mut Vec<u8>, userid: &str) {
    let _ = write!(
        body,
        r#"{{"Action":"RequestLVBAddr","userid":"{userid}","groupid":"{userid}-g","title":"live of {userid}","userinfo":{{"nickname":"nick {userid}","headpic":"http://img.example.com/h.png","frontcover":"http://img.example.com/f.png","location":"Shenzhen"}}}}"#
    );
}

fn change_status(body: &mut Vec<u8>, userid: &str, status: u8) {
    let _ = write!(
        body,
        r#"{{"Action":"ChangeStatus","userid":"{userid}","status":{status}}}"#
    );
}

// ---------------------------------------------------------------------------
// Seeding through the Store.

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `f(store, i)` for every `i` in `range`, [`SEED_TASKS`] at a time.
async fn seed_each<F, Fut>(
    store: &Arc<dyn Store>,
    range: std::ops::Range<usize>,
    f: F,
) -> anyhow::Result<()>
where
    F: Fn(Arc<dyn Store>, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), StoreError>> + Send + 'static,
{
    let f = Arc::new(f);
    let mut tasks = JoinSet::new();
    for k in 0..SEED_TASKS {
        let (f, store, range) = (f.clone(), store.clone(), range.clone());
        tasks.spawn(async move {
            let mut i = range.start + k;
            while i < range.end {
                f(store.clone(), i).await?;
                i += SEED_TASKS;
            }
            Ok::<_, StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

fn profile(userid: &str) -> UserInfo {
    UserInfo {
        nickname: format!("nick {userid}"),
        headpic: "http://img.example.com/h.png".into(),
        frontcover: "http://img.example.com/f.png".into(),
        location: "Shenzhen".into(),
    }
}

/// Rooms `{prefix}{i}` (groupid `{prefix}{i}-g`) for `i` in `range`, a newer
/// session for a higher `i`, online when `online(i)`; one write each.
async fn seed_rooms(
    store: &Arc<dyn Store>,
    prefix: &'static str,
    range: std::ops::Range<usize>,
    online: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let base = now() - 1_000_000;
    seed_each(store, range, move |store, i| {
        let online = online(i);
        async move {
            let userid = format!("{prefix}{i}");
            let stream_id = cloud::legacy_stream_id(BIZID, &userid);
            let (play_url, hls_play_url, _) =
                cloud::play_urls(&format!("{BIZID}.liveplay.myqcloud.com"), &stream_id);
            let started_at = base + i as i64;
            store
                .import_room(&ImportedRoom {
                    session: NewSession {
                        groupid: format!("{userid}-g"),
                        title: format!("live of {userid}"),
                        userinfo: profile(&userid),
                        stream_id,
                        play_url,
                        hls_play_url,
                        started_at,
                        userid,
                    },
                    online,
                    likes: 0,
                    status_at: started_at,
                })
                .await?;
            Ok(())
        }
    })
    .await
}

/// Recordings `{fileid_prefix}{j}` of the anchors `{prefix}{j % rooms}`,
/// ending within the last six days, a later end for a lower `j`.
async fn seed_recordings(
    store: &Arc<dyn Store>,
    prefix: &'static str,
    fileid_prefix: &'static str,
    rooms: usize,
    range: std::ops::Range<usize>,
    total: usize,
) -> anyhow::Result<()> {
    let now = now();
    let spacing = (6 * 86_400 / total.max(1) as i64).clamp(1, 10);
    seed_each(store, range, move |store, j| async move {
        let userid = format!("{prefix}{}", j % rooms.max(1));
        let fileid = format!("{fileid_prefix}{j}");
        let end_time = now - 60 - j as i64 * spacing;
        store
            .put_recording(&NewRecording {
                title: format!("recording {fileid}"),
                userinfo: profile(&userid),
                play_url: format!("http://vod.example.com/{fileid}.flv"),
                hls_play_url: format!("http://vod.example.com/{fileid}.m3u8"),
                start_time: end_time - 1800,
                end_time,
                userid,
                fileid,
            })
            .await
    })
    .await
}

/// Members `{prefix}{k}` of a room, for `k` in `range`.
async fn seed_members(
    store: &Arc<dyn Store>,
    group: &GroupRef,
    prefix: &'static str,
    range: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    // One transaction per chunk: entering one room one member at a time is
    // bound by that room's lock (and, on a server, by a commit each). The
    // chunks go one after the other: each holds the room's row, so more at
    // once would only wait for it, holding pooled connections meanwhile.
    const CHUNK: usize = 1000;
    let target = group.to_group();
    let joined = now() - 3600;
    for first in range.clone().step_by(CHUNK) {
        let members: Vec<NewMember> = (first..(first + CHUNK).min(range.end))
            .map(|k| {
                let userid = format!("{prefix}{k}");
                NewMember {
                    nickname: format!("nick {userid}"),
                    headpic: format!("http://img.example.com/{userid}.png"),
                    userid,
                    level: None,
                    joined_at: joined,
                }
            })
            .collect();
        store.import_members(&target, &members).await?;
        if first == range.start {
            // Statistics that show a group's members are many, so that
            // the next chunks look members up by key (see Store::analyze).
            store.analyze().await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Groups (rooms and recordings viewers join and like) and the model of what
// the server acknowledged on them.

/// A room (`flag` 0, `key` its groupid) or a recording (`flag` 1, `key` its
/// fileid) of `anchor`.
#[derive(Debug, Clone)]
pub struct GroupRef {
    pub flag: u8,
    pub anchor: String,
    pub key: String,
}

impl GroupRef {
    fn room(prefix: &str, i: usize) -> Self {
        Self {
            flag: 0,
            anchor: format!("{prefix}{i}"),
            key: format!("{prefix}{i}-g"),
        }
    }

    fn recording(prefix: &str, rooms: usize, fileid_prefix: &str, j: usize) -> Self {
        Self {
            flag: 1,
            anchor: format!("{prefix}{}", j % rooms.max(1)),
            key: format!("{fileid_prefix}{j}"),
        }
    }

    fn to_group(&self) -> Group {
        if self.flag == 0 {
            Group::Room {
                anchor: self.anchor.clone(),
                groupid: self.key.clone(),
            }
        } else {
            Group::Recording {
                anchor: self.anchor.clone(),
                fileid: self.key.clone(),
            }
        }
    }
}

/// One connection's view of what the server acknowledged: its viewers'
/// memberships and its likes, per group. A write that got no clear answer is
/// counted as ambiguous on its group (the check then allows for it).
struct Model {
    members: Vec<(u32, u32)>,
    position: HashMap<(u32, u32), usize>,
    likes: Vec<u64>,
    ambiguous: Vec<u64>,
    pending: Pending,
}

#[derive(Clone, Copy)]
enum Pending {
    None,
    Enter(u32, u32),
    Quit(u32, u32),
    Like(u32),
}

impl Model {
    fn new(groups: usize) -> Self {
        Self {
            members: Vec::new(),
            position: HashMap::new(),
            likes: vec![0; groups],
            ambiguous: vec![0; groups],
            pending: Pending::None,
        }
    }

    fn random_member(&self, rng: &mut SmallRng) -> Option<(u32, u32)> {
        if self.members.is_empty() {
            None
        } else {
            Some(self.members[rng.random_range(0..self.members.len())])
        }
    }

    /// Applies the pending write if it was acknowledged.
    fn settle(&mut self, return_value: Option<i64>) -> bool {
        let ok = return_value == Some(0);
        let pending = std::mem::replace(&mut self.pending, Pending::None);
        let group = match pending {
            Pending::None => return ok,
            Pending::Enter(_, g) | Pending::Quit(_, g) | Pending::Like(g) => g as usize,
        };
        if !ok {
            self.ambiguous[group] += 1;
            return ok;
        }
        match pending {
            Pending::Enter(v, g) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.position.entry((v, g))
                {
                    slot.insert(self.members.len());
                    self.members.push((v, g));
                }
            }
            Pending::Quit(v, g) => {
                if let Some(at) = self.position.remove(&(v, g)) {
                    self.members.swap_remove(at);
                    if let Some(&moved) = self.members.get(at) {
                        self.position.insert(moved, at);
                    }
                }
            }
            Pending::Like(g) => self.likes[g as usize] += 1,
            Pending::None => {}
        }
        ok
    }
}

/// The models of all connections summed up, plus what was seeded.
struct Expected {
    members: Vec<u64>,
    likes: Vec<u64>,
    ambiguous: Vec<u64>,
}

impl Expected {
    fn sum<'a>(groups: usize, seeded: &[u64], models: impl Iterator<Item = &'a Model>) -> Self {
        let mut expected = Expected {
            members: seeded.to_vec(),
            likes: vec![0; groups],
            ambiguous: vec![0; groups],
        };
        expected.members.resize(groups, 0);
        for model in models {
            for &(_, g) in &model.members {
                expected.members[g as usize] += 1;
            }
            for g in 0..groups {
                expected.likes[g] += model.likes[g];
                expected.ambiguous[g] += model.ambiguous[g];
            }
        }
        expected
    }
}

/// Talks to the server after a run, to compare its state with the models.
pub struct Checker {
    pub conn: Conn,
}

impl Checker {
    /// POSTs one request; returns the envelope, which must be a success.
    pub async fn ok(&mut self, request: Value) -> anyhow::Result<Value> {
        let reply = self
            .conn
            .post("/interface.php", request.to_string().as_bytes())
            .await?;
        let mut envelope: Value = serde_json::from_slice(reply.body)?;
        anyhow::ensure!(
            reply.status == 200 && envelope["returnValue"] == 0,
            "{request} answered HTTP {}: {envelope}",
            reply.status
        );
        Ok(envelope["returnData"].take())
    }

    async fn user_info(&mut self, group: &GroupRef) -> anyhow::Result<Value> {
        let fileid = if group.flag == 1 { &group.key[..] } else { "" };
        self.ok(
            json!({"Action":"GetUserInfo","userid":group.anchor,"type":group.flag,"fileid":fileid}),
        )
        .await
    }

    async fn member_total(&mut self, group: &GroupRef) -> anyhow::Result<i64> {
        let data = self
            .ok(
                json!({"Action":"FetchGroupMemberList","liveuserid":group.anchor,
                "groupid":group.key,"pageno":1,"pagesize":1}),
            )
            .await?;
        data["totalcount"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("totalcount is not a number: {data}"))
    }

    /// Compares every group's viewer count, member total and (if asked)
    /// like count with the expectation.
    async fn compare(
        &mut self,
        groups: &[GroupRef],
        expected: &Expected,
        check_likes: bool,
    ) -> anyhow::Result<Vec<Check>> {
        let mut viewer_mismatch = Vec::new();
        let mut like_mismatch = Vec::new();
        let mut loose = 0;
        for (g, group) in groups.iter().enumerate() {
            let info = self.user_info(group).await?;
            let viewers = info["viewercount"].as_i64().unwrap_or(-1);
            let likes = info["likecount"].as_i64().unwrap_or(-1);
            let total = self.member_total(group).await?;
            let slack = expected.ambiguous[g] as i64;
            loose += slack;
            let want = expected.members[g] as i64;
            if viewers != total || (viewers - want).abs() > slack {
                viewer_mismatch.push(format!(
                    "{}/{}: viewercount {viewers}, totalcount {total}, acknowledged {want}",
                    group.anchor, group.key
                ));
            }
            let want = expected.likes[g] as i64;
            if check_likes && (likes < want || likes > want + slack) {
                like_mismatch.push(format!(
                    "{}/{}: likecount {likes}, acknowledged {want}",
                    group.anchor, group.key
                ));
            }
        }
        let members: u64 = expected.members.iter().sum();
        let mut checks = vec![Check::new(
            format!(
                "viewercount = member totalcount = acknowledged membership ({} groups, {members} members)",
                groups.len()
            ),
            viewer_mismatch,
            loose,
        )];
        if check_likes {
            let likes: u64 = expected.likes.iter().sum();
            checks.push(Check::new(
                format!(
                    "likecount = acknowledged likes ({} groups, {likes} likes)",
                    groups.len()
                ),
                like_mismatch,
                loose,
            ));
        }
        Ok(checks)
    }
}

// ---------------------------------------------------------------------------
// baseline

pub struct Baseline {
    pool: Pool<BaselineWorker>,
}

pub struct BaselineWorker;

impl Worker for BaselineWorker {
    fn next(&mut self, _rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        // The size of a typical request; the baseline does not read it.
        body.extend_from_slice(br#"{"Action":"GetUserInfo","userid":"vj-1","type":0,"fileid":""}"#);
        0
    }
}

impl Baseline {
    pub fn new() -> Self {
        Self {
            pool: Pool::new(|_| BaselineWorker),
        }
    }
}

impl Scenario for Baseline {
    type Worker = BaselineWorker;

    fn ops(&self) -> &'static [&'static str] {
        &["fixed envelope"]
    }

    async fn seed(&mut self, _store: &Arc<dyn Store>) -> anyhow::Result<()> {
        Ok(())
    }

    fn pool(&mut self) -> &mut Pool<BaselineWorker> {
        &mut self.pool
    }

    async fn check(&self, _http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        Ok(Vec::new())
    }
}

// ---------------------------------------------------------------------------
// list

const LIST_ROOM: &str = "list-vj-";
const LIST_FILE: &str = "list-f-";

pub struct List {
    rooms: usize,
    online: usize,
    recordings: usize,
    pool: Pool<ListWorker>,
}

pub struct ListWorker {
    rooms: usize,
    online: usize,
    recordings: usize,
}

const LIST_OPS: [&str; 8] = [
    "FetchList 1 p1",
    "FetchList 2 p1",
    "FetchList 3 p1",
    "FetchList 1 pN",
    "FetchList 2 pN",
    "FetchList 3 pN",
    "GetUserInfo room",
    "GetUserInfo recording",
];
const LIST_WEIGHTS: [u32; 8] = [15, 15, 15, 10, 10, 10, 13, 12];

impl Worker for ListWorker {
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let op = pick(rng, &LIST_WEIGHTS);
        match op {
            0..=2 => fetch_list(body, op as u8 + 1, 1),
            3 => fetch_list(body, 1, random_page(rng, self.online)),
            4 => fetch_list(body, 2, random_page(rng, self.recordings)),
            5 => fetch_list(body, 3, random_page(rng, self.online + self.recordings)),
            6 => get_user_info(
                body,
                &GroupRef::room(LIST_ROOM, rng.random_range(0..self.rooms)),
            ),
            _ => {
                let j = rng.random_range(0..self.recordings.max(1));
                get_user_info(
                    body,
                    &GroupRef::recording(LIST_ROOM, self.rooms, LIST_FILE, j),
                )
            }
        }
        op
    }
}

impl List {
    pub fn new(sizes: &Sizes) -> Self {
        let (rooms, online, recordings) = (
            sizes.rooms.max(1),
            sizes.online.min(sizes.rooms).max(1),
            sizes.recordings.max(1),
        );
        Self {
            rooms,
            online,
            recordings,
            pool: Pool::new(move |_| ListWorker {
                rooms,
                online,
                recordings,
            }),
        }
    }
}

/// Which of `rooms` rooms are online so that `online` of them are, spread out.
fn spread(i: usize, rooms: usize, online: usize) -> bool {
    // Room i is online when the running count of online rooms steps up at i.
    (i + 1) * online / rooms != i * online / rooms
}

impl Scenario for List {
    type Worker = ListWorker;

    fn ops(&self) -> &'static [&'static str] {
        &LIST_OPS
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        let (rooms, online) = (self.rooms, self.online);
        seed_rooms(store, LIST_ROOM, 0..rooms, move |i| {
            spread(i, rooms, online)
        })
        .await?;
        seed_recordings(
            store,
            LIST_ROOM,
            LIST_FILE,
            rooms,
            0..self.recordings,
            self.recordings,
        )
        .await
    }

    fn pool(&mut self) -> &mut Pool<ListWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let mut problems = Vec::new();
        for (flag, want) in [
            (1, self.online),
            (2, self.recordings),
            (3, self.online + self.recordings),
        ] {
            let data = http
                .ok(json!({"flag":flag,"pageno":1,"pagesize":20,"Action":"FetchList"}))
                .await?;
            let total = data["totalcount"].as_i64().unwrap_or(-1);
            let listed = data["pusherlist"].as_array().map_or(0, Vec::len);
            if total != want as i64 || listed != want.min(PAGE) {
                problems.push(format!(
                    "flag {flag}: totalcount {total}, {listed} on page 1; seeded {want}"
                ));
            }
        }
        Ok(vec![Check::new(
            "FetchList totalcount = what was seeded (flags 1, 2, 3)".into(),
            problems,
            0,
        )])
    }
}

// ---------------------------------------------------------------------------
// likes

const LIKES_ROOM: &str = "likes-vj-";

pub struct Likes {
    group: GroupRef,
    pool: Pool<LikesWorker>,
}

pub struct LikesWorker {
    group: GroupRef,
    model: Model,
}

impl Worker for LikesWorker {
    fn next(&mut self, _rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        like(body, &self.group);
        self.model.pending = Pending::Like(0);
        0
    }

    fn outcome(&mut self, _op: usize, return_value: Option<i64>) -> bool {
        self.model.settle(return_value)
    }
}

impl Likes {
    pub fn new() -> Self {
        let group = GroupRef::room(LIKES_ROOM, 0);
        let for_workers = group.clone();
        Self {
            group,
            pool: Pool::new(move |_| LikesWorker {
                group: for_workers.clone(),
                model: Model::new(1),
            }),
        }
    }
}

impl Scenario for Likes {
    type Worker = LikesWorker;

    fn ops(&self) -> &'static [&'static str] {
        &["ChangeCount like"]
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        seed_rooms(store, LIKES_ROOM, 0..1, |_| true).await
    }

    fn pool(&mut self) -> &mut Pool<LikesWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let expected = Expected::sum(1, &[], self.pool.all().map(|w| &w.model));
        http.compare(std::slice::from_ref(&self.group), &expected, true)
            .await
    }
}

// ---------------------------------------------------------------------------
// churn

const CHURN_ROOM: &str = "churn-vj-";

pub struct Churn {
    groups: Arc<Vec<GroupRef>>,
    hot_members: usize,
    pool: Pool<ChurnWorker>,
}

pub struct ChurnWorker {
    viewers: Vec<String>,
    groups: Arc<Vec<GroupRef>>,
    hot_total: usize,
    model: Model,
}

const CHURN_OPS: [&str; 5] = [
    "EnterGroup",
    "QuitGroup",
    "FetchGroupMemberList hot p1",
    "FetchGroupMemberList hot pN",
    "FetchGroupMemberList p1",
];
const CHURN_WEIGHTS: [u32; 5] = [40, 35, 17, 3, 5];

impl Worker for ChurnWorker {
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let mut op = pick(rng, &CHURN_WEIGHTS);
        let quit = if op == 1 {
            self.model.random_member(rng)
        } else {
            None
        };
        if op == 1 && quit.is_none() {
            op = 0;
        }
        match op {
            0 => {
                let v = rng.random_range(0..self.viewers.len()) as u32;
                // A third of the entries go to the hot room, the rest spread.
                let g = if rng.random_bool(0.3) {
                    0
                } else {
                    rng.random_range(0..self.groups.len()) as u32
                };
                enter_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Enter(v, g);
            }
            1 => {
                let (v, g) = quit.expect("a member to quit");
                quit_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Quit(v, g);
            }
            2 => member_list(body, &self.groups[0], 1, PAGE),
            3 => member_list(
                body,
                &self.groups[0],
                random_page(rng, self.hot_total),
                PAGE,
            ),
            _ => {
                let g = rng.random_range(0..self.groups.len());
                member_list(body, &self.groups[g], 1, PAGE)
            }
        }
        op
    }

    fn outcome(&mut self, _op: usize, return_value: Option<i64>) -> bool {
        self.model.settle(return_value)
    }
}

impl Churn {
    pub fn new(sizes: &Sizes) -> Self {
        let groups: Arc<Vec<GroupRef>> = Arc::new(
            (0..sizes.churn_rooms.max(1))
                .map(|i| GroupRef::room(CHURN_ROOM, i))
                .collect(),
        );
        let (per_conn, hot_members) = (sizes.viewers_per_connection.max(1), sizes.hot_members);
        let for_workers = groups.clone();
        Self {
            groups,
            hot_members,
            pool: Pool::new(move |c| ChurnWorker {
                viewers: (0..per_conn).map(|k| format!("cv-{c}-{k}")).collect(),
                groups: for_workers.clone(),
                hot_total: hot_members,
                model: Model::new(for_workers.len()),
            }),
        }
    }
}

impl Scenario for Churn {
    type Worker = ChurnWorker;

    fn ops(&self) -> &'static [&'static str] {
        &CHURN_OPS
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        seed_rooms(store, CHURN_ROOM, 0..self.groups.len(), |_| true).await?;
        seed_members(store, &self.groups[0], "seed-", 0..self.hot_members).await
    }

    fn pool(&mut self) -> &mut Pool<ChurnWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let expected = Expected::sum(
            self.groups.len(),
            &[self.hot_members as u64],
            self.pool.all().map(|w| &w.model),
        );
        let mut checks = http.compare(&self.groups, &expected, false).await?;
        if let Some(first) = checks.first_mut() {
            first.what += &format!("; the hot room ends with {}", expected.members[0]);
        }
        Ok(checks)
    }
}

// ---------------------------------------------------------------------------
// mixed

const MIX_ROOM: &str = "mix-vj-";
const MIX_HOST: &str = "mix-host-";
const MIX_FILE: &str = "mix-f-";
/// Recordings among the groups viewers join and like.
const MIX_RECORDING_GROUPS: usize = 100;

pub struct Mixed {
    rooms: usize,
    online: usize,
    recordings: usize,
    hosts: usize,
    groups: Arc<Vec<GroupRef>>,
    pool: Pool<MixedWorker>,
}

pub struct MixedWorker {
    viewers: Vec<String>,
    hosts: Arc<Vec<String>>,
    groups: Arc<Vec<GroupRef>>,
    /// Groups `..rooms` are rooms, the rest recordings.
    room_groups: usize,
    online: usize,
    recordings: usize,
    model: Model,
}

const MIXED_OPS: [&str; 10] = [
    "FetchList 3 p1",
    "FetchList pN",
    "EnterGroup",
    "QuitGroup",
    "FetchGroupMemberList p1",
    "GetUserInfo",
    "ChangeCount like",
    "GetCOSSign",
    "RequestLVBAddr",
    "ChangeStatus",
];
/// Per 1000 requests, as the apps produce them: a viewer's visit is a list
/// or two, an enter, a member list or two, a room's details, a quit, and
/// likes (up to two a second) all along; an anchor sends a handful of
/// requests per broadcast (cover upload, session, on air, off air) while
/// its room draws hundreds of viewers.
const MIXED_WEIGHTS: [u32; 10] = [100, 30, 80, 70, 80, 50, 580, 5, 2, 3];

impl MixedWorker {
    fn random_group(&self, rng: &mut SmallRng) -> u32 {
        if rng.random_bool(0.8) || self.room_groups == self.groups.len() {
            rng.random_range(0..self.room_groups) as u32
        } else {
            rng.random_range(self.room_groups..self.groups.len()) as u32
        }
    }
}

impl Worker for MixedWorker {
    fn next(&mut self, rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let mut op = pick(rng, &MIXED_WEIGHTS);
        let quit = if op == 3 {
            self.model.random_member(rng)
        } else {
            None
        };
        if op == 3 && quit.is_none() {
            op = 2;
        }
        match op {
            0 => fetch_list(body, 3, 1),
            1 => {
                let flag = rng.random_range(1..=3u8);
                let items = match flag {
                    1 => self.online,
                    2 => self.recordings,
                    _ => self.online + self.recordings,
                };
                fetch_list(body, flag, random_page(rng, items))
            }
            2 => {
                let v = rng.random_range(0..self.viewers.len()) as u32;
                let g = self.random_group(rng);
                enter_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Enter(v, g);
            }
            3 => {
                let (v, g) = quit.expect("a member to quit");
                quit_group(body, &self.viewers[v as usize], &self.groups[g as usize]);
                self.model.pending = Pending::Quit(v, g);
            }
            4 => {
                let g = self.random_group(rng);
                member_list(body, &self.groups[g as usize], 1, PAGE)
            }
            5 => {
                let g = self.random_group(rng);
                get_user_info(body, &self.groups[g as usize])
            }
            6 => {
                // Half the likes go to the most popular room.
                let g = if rng.random_bool(0.5) {
                    0
                } else {
                    self.random_group(rng)
                };
                like(body, &self.groups[g as usize]);
                self.model.pending = Pending::Like(g);
            }
            7 => body.extend_from_slice(br#"{"Action":"GetCOSSign"}"#),
            8 => {
                let host = &self.hosts[rng.random_range(0..self.hosts.len())];
                request_lvb_addr(body, host)
            }
            _ => {
                let host = &self.hosts[rng.random_range(0..self.hosts.len())];
                change_status(body, host, rng.random_range(0..=1))
            }
        }
        op
    }

    fn outcome(&mut self, _op: usize, return_value: Option<i64>) -> bool {
        self.model.settle(return_value)
    }
}

impl Mixed {
    pub fn new(sizes: &Sizes) -> Self {
        let rooms = sizes.mixed_rooms.max(1);
        let online = sizes.mixed_online.clamp(1, rooms);
        let recordings = sizes.mixed_recordings;
        let hosts = sizes.mixed_hosts.max(1);
        // Viewers join and like the online rooms and the newest recordings.
        let mut groups: Vec<GroupRef> = (0..online).map(|i| GroupRef::room(MIX_ROOM, i)).collect();
        groups.extend(
            (0..recordings.min(MIX_RECORDING_GROUPS))
                .map(|j| GroupRef::recording(MIX_ROOM, rooms, MIX_FILE, j)),
        );
        let groups = Arc::new(groups);
        let host_ids: Arc<Vec<String>> =
            Arc::new((0..hosts).map(|j| format!("{MIX_HOST}{j}")).collect());
        let (for_workers, per_conn) = (groups.clone(), sizes.viewers_per_connection.max(1));
        Self {
            rooms,
            online,
            recordings,
            hosts,
            groups,
            pool: Pool::new(move |c| MixedWorker {
                viewers: (0..per_conn).map(|k| format!("mv-{c}-{k}")).collect(),
                hosts: host_ids.clone(),
                groups: for_workers.clone(),
                room_groups: online,
                online: online + hosts,
                recordings,
                model: Model::new(for_workers.len()),
            }),
        }
    }
}

impl Scenario for Mixed {
    type Worker = MixedWorker;

    fn ops(&self) -> &'static [&'static str] {
        &MIXED_OPS
    }

    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        // The online rooms are the first `online` ones (the viewers' groups).
        let online = self.online;
        seed_rooms(store, MIX_ROOM, 0..self.rooms, move |i| i < online).await?;
        seed_rooms(store, MIX_HOST, 0..self.hosts, |_| true).await?;
        seed_recordings(
            store,
            MIX_ROOM,
            MIX_FILE,
            self.rooms,
            0..self.recordings,
            self.recordings,
        )
        .await
    }

    fn pool(&mut self) -> &mut Pool<MixedWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let expected = Expected::sum(self.groups.len(), &[], self.pool.all().map(|w| &w.model));
        http.compare(&self.groups, &expected, true).await
    }
}

// ---------------------------------------------------------------------------
// scale: page-1 latency at a small and at a large size

const SCALE_ROOM: &str = "scale-vj-";

pub const SCALE_OPS: [&str; 4] = [
    "FetchList 1 p1",
    "FetchList 4 p1",
    "FetchGroupMemberList p1",
    "GetUserInfo",
];

/// Online rooms and the members of one of them, grown in steps.
pub struct Scale {
    /// How many of each are seeded so far.
    seeded: usize,
    /// The next size `seed` grows to.
    pub size: usize,
    pool: Pool<ScaleWorker>,
}

pub struct ScaleWorker {
    next: usize,
    hot: GroupRef,
}

impl Worker for ScaleWorker {
    fn next(&mut self, _rng: &mut SmallRng, body: &mut Vec<u8>) -> usize {
        let op = self.next % SCALE_OPS.len();
        self.next += 1;
        match op {
            0 => fetch_list(body, 1, 1),
            1 => fetch_list(body, 4, 1),
            2 => member_list(body, &self.hot, 1, PAGE),
            _ => get_user_info(body, &self.hot),
        }
        op
    }
}

impl Scale {
    pub fn new() -> Self {
        Self {
            seeded: 0,
            size: 0,
            pool: Pool::new(|_| ScaleWorker {
                next: 0,
                hot: GroupRef::room(SCALE_ROOM, 0),
            }),
        }
    }
}

impl Scenario for Scale {
    type Worker = ScaleWorker;

    fn ops(&self) -> &'static [&'static str] {
        &SCALE_OPS
    }

    /// Grows the rooms (all online) and the members of room 0 from what was
    /// seeded so far to `size` each.
    async fn seed(&mut self, store: &Arc<dyn Store>) -> anyhow::Result<()> {
        let range = self.seeded..self.size.max(self.seeded);
        seed_rooms(store, SCALE_ROOM, range.clone(), |_| true).await?;
        seed_members(store, &GroupRef::room(SCALE_ROOM, 0), "sm-", range).await?;
        self.seeded = self.seeded.max(self.size);
        Ok(())
    }

    fn pool(&mut self) -> &mut Pool<ScaleWorker> {
        &mut self.pool
    }

    async fn check(&self, http: &mut Checker) -> anyhow::Result<Vec<Check>> {
        let members = http.member_total(&GroupRef::room(SCALE_ROOM, 0)).await?;
        let data = http
            .ok(json!({"flag":1,"pageno":1,"pagesize":20,"Action":"FetchList"}))
            .await?;
        let rooms = data["totalcount"].as_i64().unwrap_or(-1);
        let mut problems = Vec::new();
        if members != self.seeded as i64 {
            problems.push(format!("members: {members}, seeded {}", self.seeded));
        }
        if rooms != self.seeded as i64 {
            problems.push(format!(
                "FetchList 1: {rooms} online rooms, seeded {}",
                self.seeded
            ));
        }
        Ok(vec![Check::new(
            format!("{} online rooms and members listed as seeded", self.seeded),
            problems,
            0,
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_puts_exactly_online_rooms_online() {
        for (rooms, online) in [(10_000, 2_000), (7, 3), (5, 5), (5, 1)] {
            let n = (0..rooms).filter(|&i| spread(i, rooms, online)).count();
            assert_eq!(n, online, "{rooms} {online}");
        }
    }

    #[test]
    fn bodies_are_json() {
        let group = GroupRef::recording("a-", 3, "f-", 4);
        let mut body = Vec::new();
        for write in [
            |b: &mut Vec<u8>, g: &GroupRef| like(b, g),
            |b: &mut Vec<u8>, g: &GroupRef| get_user_info(b, g),
            |b: &mut Vec<u8>, g: &GroupRef| enter_group(b, "v1", g),
            |b: &mut Vec<u8>, g: &GroupRef| quit_group(b, "v1", g),
            |b: &mut Vec<u8>, g: &GroupRef| member_list(b, g, 2, 20),
            |b: &mut Vec<u8>, _: &GroupRef| request_lvb_addr(b, "h1"),
            |b: &mut Vec<u8>, _: &GroupRef| change_status(b, "h1", 1),
            |b: &mut Vec<u8>, _: &GroupRef| fetch_list(b, 3, 7),
        ] {
            body.clear();
            write(&mut body, &group);
            let value: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
            assert!(value["Action"].is_string(), "{value}");
        }
    }

    #[test]
    fn the_model_follows_acknowledged_writes_only() {
        let mut model = Model::new(2);
        model.pending = Pending::Enter(1, 0);
        assert!(model.settle(Some(0)));
        model.pending = Pending::Enter(1, 0);
        model.settle(Some(0));
        model.pending = Pending::Enter(2, 1);
        assert!(!model.settle(Some(2003)));
        model.pending = Pending::Like(1);
        model.settle(Some(0));
        model.pending = Pending::Quit(1, 0);
        model.settle(Some(0));
        let expected = Expected::sum(2, &[5], std::iter::once(&model));
        assert_eq!(expected.members, vec![5, 0]);
        assert_eq!(expected.likes, vec![0, 1]);
        assert_eq!(expected.ambiguous, vec![0, 1]);
    }
}
