//! Seeding through the store: the rooms, recordings and members a
//! scenario starts from.

use super::*;

pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `f(store, i)` for every `i` in `range`, [`SEED_TASKS`] at a time.
pub(super) async fn seed_each<F, Fut>(
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

pub(super) fn profile(userid: &str) -> UserInfo {
    UserInfo {
        nickname: format!("nick {userid}"),
        headpic: "http://img.example.com/h.png".into(),
        frontcover: "http://img.example.com/f.png".into(),
        location: "Shenzhen".into(),
    }
}

/// Rooms `{prefix}{i}` (groupid `{prefix}{i}-g`) for `i` in `range`, a newer
/// session for a higher `i`, online when `online(i)`; one write each.
pub(super) async fn seed_rooms(
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
pub(super) async fn seed_recordings(
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
pub(super) async fn seed_members(
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
