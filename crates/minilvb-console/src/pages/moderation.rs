//! The moderation actions, each behind a confirmation page where it is
//! destructive (the page holds the form that posts it, so the confirmation
//! step exists without script too).

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::auth::{Signed, redirect_with_notice};
use crate::backend::{ActionResult, Role};
use crate::client::Client;
use crate::login::local_next;
use crate::render::{Layout, PageError, PageResult, parse_utc_input, render, segment, utc};
use crate::web::Console;

/// The longest reason or note kept.
pub(crate) const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ActionForm {
    reason: String,
    back: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BackQuery {
    back: String,
}

/// A field shown on a confirmation page.
pub(crate) struct Fact {
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub question: String,
    pub facts: Vec<Fact>,
    pub action: String,
    pub button: &'static str,
    /// Whether the form asks for an (optional) reason.
    pub with_reason: bool,
    pub back: String,
    pub cancel: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "ban.html")]
struct BanPage {
    layout: Layout,
    userid: String,
    action: String,
    cancel: String,
    reason: String,
    until: String,
    now_hint: String,
    error: Option<String>,
}

/// The page to return to: the form's `back` when it is a console path.
fn back_or(console: &Console, back: &str, default: String) -> String {
    if local_next(&console.config.base_path, back) {
        back.to_owned()
    } else {
        default
    }
}

fn reason(text: &str) -> Result<String, PageError> {
    let text = text.trim();
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(PageError::BadRequest(format!(
            "The reason is longer than {MAX_REASON_CHARS} characters."
        )));
    }
    Ok(text.to_owned())
}

/// An action's answer: back to the page with its outcome shown there, or
/// the error page (not found: 404; failed: 503).
pub(crate) fn finish_action(
    console: &Console,
    client: &Client,
    what: &str,
    result: ActionResult,
    back: &str,
) -> PageResult {
    let outcome = result?;
    Ok(redirect_with_notice(
        console,
        client,
        back,
        &format!("{what}: {outcome}"),
    ))
}

fn room_href(console: &Console, userid: &str) -> String {
    console.url(&format!("/rooms/{}", segment(userid)))
}

pub(crate) async fn confirm_force_offline(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(userid): Path<String>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let room = console
        .backend
        .room(&userid)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no room of userid {userid}.")))?
        .room;
    let href = room_href(&console, &userid);
    render(&ConfirmPage {
        layout: console.layout(Some(&signed), "live", "Force offline"),
        heading: format!("Force the room of {userid} offline?"),
        question: "The room leaves the live list at once and its stream is cut. \
                   The VJ can start a new broadcast unless banned."
            .into(),
        facts: vec![
            Fact {
                label: "Title",
                value: room.title,
            },
            Fact {
                label: "VJ",
                value: format!("{} ({userid})", room.nickname),
            },
            Fact {
                label: "Status",
                value: if room.online { "online" } else { "offline" }.into(),
            },
            Fact {
                label: "Viewers",
                value: room.viewers.to_string(),
            },
        ],
        action: format!("{href}/force-offline"),
        button: "Force offline",
        with_reason: true,
        back: href.clone(),
        cancel: href,
        csrf: signed.csrf.clone(),
    })
}

pub(crate) async fn force_offline(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path(userid): Path<String>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let reason = reason(&form.reason)?;
    let result = console
        .backend
        .force_offline(&signed.actor(), &userid, &reason)
        .await;
    let back = back_or(&console, &form.back, room_href(&console, &userid));
    finish_action(&console, &client, "Force offline", result, &back)
}

pub(crate) async fn ban_form(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(userid): Path<String>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    ban_page(&console, &signed, &userid, "", "", None)
}

fn ban_page(
    console: &Console,
    signed: &Signed,
    userid: &str,
    reason: &str,
    until: &str,
    error: Option<String>,
) -> PageResult {
    let href = room_href(console, userid);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = render(&BanPage {
        layout: console.layout(Some(signed), "live", &format!("Ban {userid}")),
        userid: userid.to_owned(),
        action: format!("{href}/ban"),
        cancel: href,
        reason: reason.to_owned(),
        until: until.to_owned(),
        now_hint: utc(console.backend.now()),
        error,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BanForm {
    reason: String,
    until: String,
}

pub(crate) async fn ban(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path(userid): Path<String>,
    Form(form): Form<BanForm>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let again = |error: String| {
        ban_page(
            &console,
            &signed,
            &userid,
            &form.reason,
            &form.until,
            Some(error),
        )
    };
    let reason = match reason(&form.reason) {
        Ok(reason) if reason.is_empty() => return again("Give a reason for the ban.".into()),
        Ok(reason) => reason,
        Err(PageError::BadRequest(message)) => return again(message),
        Err(other) => return Err(other),
    };
    let until = match parse_utc_input(&form.until) {
        Ok(Some(until)) if until <= console.backend.now() => {
            return again("The end of the ban must be in the future.".into());
        }
        Ok(until) => until,
        Err(message) => return again(message),
    };
    let result = console
        .backend
        .ban(&signed.actor(), &userid, &reason, until)
        .await;
    finish_action(
        &console,
        &client,
        "Ban",
        result,
        &room_href(&console, &userid),
    )
}

pub(crate) async fn unban(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path(userid): Path<String>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let reason = reason(&form.reason)?;
    let result = console
        .backend
        .unban(&signed.actor(), &userid, &reason)
        .await;
    let back = back_or(&console, &form.back, room_href(&console, &userid));
    finish_action(&console, &client, "Unban", result, &back)
}

pub(crate) async fn resolve(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let id: i64 = id
        .parse()
        .map_err(|_| PageError::NotFound(format!("There is no report {id}.")))?;
    let note = reason(&form.reason)?;
    let result = console
        .backend
        .resolve_report(&signed.actor(), id, &note)
        .await;
    let back = back_or(&console, &form.back, console.url("/reports"));
    finish_action(&console, &client, "Resolve", result, &back)
}

pub(crate) async fn confirm_delete_recording(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path((userid, fileid)): Path<(String, String)>,
    Query(query): Query<BackQuery>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let recordings = console.backend.recordings(
        Some(&userid),
        crate::backend::PageRequest {
            number: 1,
            size: u32::MAX,
        },
    );
    let recording = recordings
        .await?
        .rows
        .into_iter()
        .find(|r| r.fileid == fileid)
        .ok_or_else(|| {
            PageError::NotFound(format!(
                "There is no recording {fileid} of userid {userid}."
            ))
        })?;
    let back = back_or(&console, &query.back, console.url("/recordings"));
    render(&ConfirmPage {
        layout: console.layout(Some(&signed), "recordings", "Delete recording"),
        heading: format!("Delete recording {fileid} of {userid}?"),
        question: "The recording and its files are deleted for good; viewers can no \
                   longer replay it."
            .into(),
        facts: vec![
            Fact {
                label: "Title",
                value: recording.title,
            },
            Fact {
                label: "VJ",
                value: format!("{} ({userid})", recording.nickname),
            },
            Fact {
                label: "Ended",
                value: utc(recording.ended_at),
            },
        ],
        action: console.url(&format!(
            "/recordings/{}/{}/delete",
            segment(&userid),
            segment(&fileid)
        )),
        button: "Delete",
        with_reason: true,
        cancel: back.clone(),
        back,
        csrf: signed.csrf.clone(),
    })
}

pub(crate) async fn delete_recording(
    State(console): State<Arc<Console>>,
    signed: Signed,
    client: Client,
    Path((userid, fileid)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    signed.require(Role::Moderator)?;
    let reason = reason(&form.reason)?;
    let result = console
        .backend
        .delete_recording(&signed.actor(), &userid, &fileid, &reason)
        .await;
    let back = back_or(&console, &form.back, console.url("/recordings"));
    finish_action(&console, &client, "Delete", result, &back)
}
