//! Live now: every online room, refreshing itself.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::auth::Signed;
use crate::backend::{Role, Room};
use crate::pages::initial;
use crate::pages::lists::image_url;
use crate::render::{Layout, PageError, PageResult, count, duration, query, render, segment, utc};
use crate::web::Console;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LiveQuery {
    /// `viewers` (most first, the default) or `start` (latest first).
    sort: String,
    /// Part of a userid, nickname or title.
    q: String,
}

impl LiveQuery {
    fn by_start(&self) -> bool {
        self.sort == "start"
    }

    fn sort_word(&self) -> &'static str {
        if self.by_start() { "start" } else { "viewers" }
    }

    fn filter(&self) -> &str {
        self.q.trim()
    }
}

pub(crate) struct LiveRow {
    pub userid: String,
    pub href: String,
    pub force_offline_href: String,
    pub title: String,
    pub nickname: String,
    pub cover: String,
    pub initial: String,
    pub viewers: String,
    pub likes: String,
    pub started: String,
    pub live_for: String,
}

#[derive(Template)]
#[template(path = "live_rows.html")]
pub(crate) struct LiveList {
    rows: Vec<LiveRow>,
    online: usize,
    filter: String,
    can_act: bool,
    updated: String,
}

#[derive(Template)]
#[template(path = "live.html")]
struct LivePage {
    layout: Layout,
    list: String,
    q: String,
    by_start: bool,
    refresh_url: String,
    refresh_ms: u32,
    this_url: String,
}

async fn list(
    console: &Console,
    signed: &Signed,
    params: &LiveQuery,
) -> Result<LiveList, PageError> {
    let mut rooms: Vec<Room> = console.backend.live_rooms().await?;
    let online = rooms.len();
    let needle = params.filter().to_lowercase();
    if !needle.is_empty() {
        rooms.retain(|r| {
            [&r.userid, &r.title, &r.nickname]
                .iter()
                .any(|field| field.to_lowercase().contains(&needle))
        });
    }
    if params.by_start() {
        rooms.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then(a.userid.cmp(&b.userid))
        });
    } else {
        rooms.sort_by(|a, b| {
            b.viewers
                .cmp(&a.viewers)
                .then(b.likes.cmp(&a.likes))
                .then(a.userid.cmp(&b.userid))
        });
    }
    let now = console.backend.now();
    let rows = rooms
        .into_iter()
        .map(|r| {
            let href = console.url(&format!("/rooms/{}", segment(&r.userid)));
            LiveRow {
                force_offline_href: format!("{href}/force-offline"),
                href,
                initial: initial(if r.nickname.is_empty() {
                    &r.userid
                } else {
                    &r.nickname
                }),
                viewers: count(r.viewers),
                likes: count(r.likes),
                started: utc(r.started_at),
                live_for: duration(now - r.started_at),
                userid: r.userid,
                title: r.title,
                nickname: r.nickname,
                cover: image_url(&r.cover),
            }
        })
        .collect();
    Ok(LiveList {
        rows,
        online,
        filter: params.filter().to_owned(),
        can_act: signed.role.allows(Role::Moderator),
        updated: utc(now),
    })
}

pub(crate) async fn page(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(params): Query<LiveQuery>,
) -> PageResult {
    let list = list(&console, &signed, &params).await?;
    let list = list
        .render()
        .map_err(|e| PageError::Internal(format!("the list could not be rendered: {e}")))?;
    let q = [("sort", params.sort_word()), ("q", params.filter())];
    render(&LivePage {
        layout: console.layout(Some(&signed), "live", "Live now"),
        list,
        q: params.filter().to_owned(),
        by_start: params.by_start(),
        refresh_url: format!("{}{}", console.url("/live/rows"), query(&q)),
        refresh_ms: console.config.live_refresh_secs * 1000,
        this_url: format!("{}{}", console.url("/"), query(&q)),
    })
}

/// The list alone, which the page's script fetches to refresh it.
pub(crate) async fn rows(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(params): Query<LiveQuery>,
) -> PageResult {
    render(&list(&console, &signed, &params).await?)
}
