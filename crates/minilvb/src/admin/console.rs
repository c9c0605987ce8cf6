//! The web console served by the server (`admin.listen`): the console
//! crate's pages over this server's store and moderation. Reads go to the
//! store's roles; every action goes through [`Moderator`] or [`Accounts`],
//! the functions the command line calls, so the two are audited alike and
//! neither has an SQL statement of its own.

use std::sync::Arc;

use async_trait::async_trait;
use minilvb_console::{
    self as console, ActionResult, BackendError, BackendResult, ConsoleBackend, LoginSession,
    NewLoginSession, Operator, OperatorRecord, Outcome, PageRequest, Paged, ReportOrder, Role,
    RoomDetails,
};
use minilvb_protocol::{Counted, Group, Page, PusherInfo};
use minilvb_store::{ConsoleSession, MemberOrder, RoomScope, Store, StoreError};

use crate::admin::accounts::{AccountError, Accounts, role_of};
use crate::admin::moderation::{Actor, ModerationError, Moderator};
use crate::config::{ConfigError, Settings};

/// The console's router for these settings, over the store and moderation.
pub fn router(
    moderator: Moderator,
    order: MemberOrder,
    settings: &Settings,
) -> Result<axum::Router, ConfigError> {
    let config = settings.admin.console_config()?;
    Ok(console::router(
        Arc::new(StoreBackend::new(moderator, order)),
        config,
    ))
}

/// [`ConsoleBackend`] over the store and [`Moderator`].
pub struct StoreBackend {
    moderator: Moderator,
    accounts: Accounts,
    store: Arc<dyn Store>,
    /// The deployment's member order (`members.order`).
    order: MemberOrder,
}

impl StoreBackend {
    pub fn new(moderator: Moderator, order: MemberOrder) -> Self {
        let store = moderator.store().clone();
        Self {
            accounts: Accounts::new(store.clone(), moderator.clock().clone()),
            moderator,
            store,
            order,
        }
    }
}

/// The server's name for who acts: the console names its operators
/// `console:NAME`.
fn server_actor(actor: &console::Actor) -> BackendResult<Actor> {
    actor
        .as_str()
        .strip_prefix("console:")
        .map(Actor::console)
        .ok_or_else(|| BackendError::Failed(format!("unknown actor {actor}")))
}

fn store_failed(error: StoreError) -> BackendError {
    BackendError::Failed(format!("the database failed: {error}"))
}

fn moderation(result: Result<crate::admin::moderation::Outcome, ModerationError>) -> ActionResult {
    match result {
        Ok(outcome) => Ok(Outcome(outcome.message)),
        Err(ModerationError::NotFound(what)) => Err(BackendError::NotFound(what)),
        Err(ModerationError::Cloud(error)) => Err(BackendError::Failed(format!(
            "{error}; nothing was changed here"
        ))),
        Err(ModerationError::Store(error)) => Err(store_failed(error)),
    }
}

fn account_error(error: AccountError) -> BackendError {
    match error {
        AccountError::NotFound(what) => BackendError::NotFound(what),
        AccountError::Refused(why) => BackendError::Failed(why),
        AccountError::Store(error) => store_failed(error),
    }
}

fn account(result: Result<String, AccountError>) -> ActionResult {
    result.map(Outcome).map_err(account_error)
}

fn room_of(info: PusherInfo) -> console::Room {
    console::Room {
        userid: info.userid,
        groupid: info.groupid,
        title: info.title,
        nickname: info.userinfo.nickname,
        headpic: info.userinfo.headpic,
        cover: info.userinfo.frontcover,
        location: info.userinfo.location,
        viewers: info.viewercount,
        likes: info.likecount,
        online: info.status,
        started_at: info.timestamp,
        play_url: info.playurl,
        hls_play_url: info.hls_play_url,
    }
}

fn recording_of(info: PusherInfo) -> console::Recording {
    console::Recording {
        userid: info.userid,
        fileid: info.fileid,
        title: info.title,
        nickname: info.userinfo.nickname,
        cover: info.userinfo.frontcover,
        viewers: info.viewercount,
        likes: info.likecount,
        ended_at: info.timestamp,
        play_url: info.playurl,
        hls_play_url: info.hls_play_url,
    }
}

fn ban_of(ban: minilvb_store::Ban) -> console::Ban {
    console::Ban {
        userid: ban.userid,
        reason: ban.reason,
        since: ban.created_at,
        until: ban.ends_at,
    }
}

fn offset_of(page: PageRequest) -> i64 {
    i64::try_from(page.offset()).unwrap_or(i64::MAX)
}

impl StoreBackend {
    /// Bans in force now, latest first.
    async fn bans_in_force(&self) -> BackendResult<Vec<console::Ban>> {
        let now = self.now();
        let mut bans: Vec<console::Ban> = self
            .store
            .bans()
            .await
            .map_err(store_failed)?
            .into_iter()
            .filter(|ban| ban.ends_at.is_none_or(|end| end > now))
            .map(ban_of)
            .collect();
        bans.sort_by(|a, b| b.since.cmp(&a.since).then(a.userid.cmp(&b.userid)));
        Ok(bans)
    }
}

#[async_trait]
impl ConsoleBackend for StoreBackend {
    fn now(&self) -> i64 {
        self.moderator.now()
    }

    async fn find_operator(&self, name: &str) -> BackendResult<Option<OperatorRecord>> {
        match self.accounts.find(name).await.map_err(account_error)? {
            Some((account, role)) => Ok(Some(OperatorRecord {
                name: account.name,
                role,
                password_hash: account.password_hash,
            })),
            None => Ok(None),
        }
    }

    async fn operators(&self) -> BackendResult<Vec<Operator>> {
        let accounts = self.store.operators().await.map_err(store_failed)?;
        accounts
            .into_iter()
            .map(|account| {
                let role = role_of(&account).map_err(account_error)?;
                Ok(Operator {
                    name: account.name,
                    role,
                })
            })
            .collect()
    }

    async fn add_operator(
        &self,
        actor: &console::Actor,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> ActionResult {
        let actor = server_actor(actor)?;
        account(self.accounts.add(&actor, name, role, password_hash).await)
    }

    async fn remove_operator(&self, actor: &console::Actor, name: &str) -> ActionResult {
        let actor = server_actor(actor)?;
        account(self.accounts.remove(&actor, name).await)
    }

    async fn set_operator_password(
        &self,
        actor: &console::Actor,
        name: &str,
        password_hash: &str,
    ) -> ActionResult {
        let actor = server_actor(actor)?;
        account(
            self.accounts
                .set_password(&actor, name, password_hash)
                .await,
        )
    }

    async fn create_session(&self, session: &NewLoginSession) -> BackendResult<()> {
        let stored = ConsoleSession {
            id: session.id.clone(),
            operator: session.operator.clone(),
            csrf_token: session.csrf_token.clone(),
            created_at: session.created_at,
            expires_at: session.expires_at,
        };
        self.store
            .create_console_session(&stored)
            .await
            .map_err(store_failed)
    }

    async fn session(&self, id: &str) -> BackendResult<Option<LoginSession>> {
        let Some((session, role)) = self.store.console_session(id).await.map_err(store_failed)?
        else {
            return Ok(None);
        };
        // An account whose role is unknown has no session worth keeping.
        let Ok(role) = role.parse::<Role>() else {
            return Ok(None);
        };
        Ok(Some(LoginSession {
            id: session.id,
            operator: session.operator,
            role,
            csrf_token: session.csrf_token,
            created_at: session.created_at,
            expires_at: session.expires_at,
        }))
    }

    async fn touch_session(&self, id: &str, expires_at: i64) -> BackendResult<()> {
        self.store
            .touch_console_session(id, expires_at)
            .await
            .map_err(store_failed)
    }

    async fn delete_session(&self, id: &str) -> BackendResult<()> {
        self.store
            .delete_console_session(id)
            .await
            .map_err(store_failed)
    }

    async fn live_rooms(&self) -> BackendResult<Vec<console::Room>> {
        let rooms = self
            .store
            .rooms(RoomScope::Online, 0, i64::MAX)
            .await
            .map_err(store_failed)?;
        Ok(rooms.into_iter().map(room_of).collect())
    }

    async fn room(&self, userid: &str) -> BackendResult<Option<RoomDetails>> {
        let target = Counted::Room {
            userid: userid.to_owned(),
        };
        let Some(info) = self.store.pusher(&target).await.map_err(store_failed)? else {
            return Ok(None);
        };
        let stream_id = self
            .store
            .stream_id_of(userid)
            .await
            .map_err(store_failed)?
            .unwrap_or_default();
        let ban = self
            .bans_in_force()
            .await?
            .into_iter()
            .find(|ban| ban.userid == userid);
        Ok(Some(RoomDetails {
            room: room_of(info),
            stream_id,
            ban,
        }))
    }

    async fn members(
        &self,
        userid: &str,
        page: PageRequest,
    ) -> BackendResult<Paged<console::Member>> {
        let target = Counted::Room {
            userid: userid.to_owned(),
        };
        let Some(room) = self.store.pusher(&target).await.map_err(store_failed)? else {
            return Ok(Paged {
                total: 0,
                rows: Vec::new(),
            });
        };
        let group = Group::Room {
            anchor: userid.to_owned(),
            groupid: room.groupid,
        };
        let page = Page {
            number: i64::from(page.number.max(1)),
            size: i64::from(page.size.clamp(1, Page::MAX_SIZE as u32)),
        };
        let (total, members) = self
            .store
            .members(&group, self.order, page)
            .await
            .map_err(store_failed)?;
        Ok(Paged {
            total: u64::try_from(total).unwrap_or_default(),
            rows: members
                .into_iter()
                .map(|m| console::Member {
                    userid: m.userid,
                    nickname: m.nickname,
                    headpic: m.headpic,
                })
                .collect(),
        })
    }

    async fn recordings(
        &self,
        vj: Option<&str>,
        page: PageRequest,
    ) -> BackendResult<Paged<console::Recording>> {
        let limit = i64::from(page.size);
        let Some(vj) = vj else {
            let total = self.store.count_recordings(0).await.map_err(store_failed)?;
            let rows = self
                .store
                .recordings(0, offset_of(page), limit)
                .await
                .map_err(store_failed)?;
            return Ok(Paged {
                total: u64::try_from(total).unwrap_or_default(),
                rows: rows.into_iter().map(recording_of).collect(),
            });
        };
        // One VJ's: its keys from the list's order (newest end first),
        // then that page's rows.
        let keys: Vec<_> = self
            .store
            .recording_keys()
            .await
            .map_err(store_failed)?
            .into_iter()
            .filter(|key| key.userid == vj)
            .collect();
        let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let wanted: Vec<(&str, &str)> = keys
            .iter()
            .skip(offset)
            .take(page.size as usize)
            .map(|key| (key.userid.as_str(), key.fileid.as_str()))
            .collect();
        let mut rows = self
            .store
            .recordings_by_key(&wanted)
            .await
            .map_err(store_failed)?;
        rows.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(a.fileid.cmp(&b.fileid)));
        Ok(Paged {
            total: keys.len() as u64,
            rows: rows.into_iter().map(recording_of).collect(),
        })
    }

    async fn open_reports(
        &self,
        order: ReportOrder,
        reported: Option<&str>,
    ) -> BackendResult<Vec<console::Report>> {
        let mut reports: Vec<console::Report> = self
            .store
            .reports(false)
            .await
            .map_err(store_failed)?
            .into_iter()
            .filter(|r| reported.is_none_or(|userid| r.reported == userid))
            .map(|r| console::Report {
                id: r.id,
                reporter: r.reporter,
                reported: r.reported,
                times: r.times,
                first_at: r.created_at,
                last_at: r.last_at,
                resolved_at: r.resolved_at,
            })
            .collect();
        let newest = |a: &console::Report, b: &console::Report| {
            b.last_at.cmp(&a.last_at).then(b.id.cmp(&a.id))
        };
        match order {
            ReportOrder::Newest => reports.sort_by(newest),
            ReportOrder::MostReported => {
                reports.sort_by(|a, b| b.times.cmp(&a.times).then(newest(a, b)))
            }
        }
        Ok(reports)
    }

    async fn bans(&self) -> BackendResult<Vec<console::Ban>> {
        self.bans_in_force().await
    }

    async fn audit_log(&self, page: PageRequest) -> BackendResult<Paged<console::AuditEntry>> {
        let (total, entries) = self
            .store
            .audit_log(offset_of(page), i64::from(page.size))
            .await
            .map_err(store_failed)?;
        Ok(Paged {
            total: u64::try_from(total).unwrap_or_default(),
            rows: entries
                .into_iter()
                .map(|e| console::AuditEntry {
                    id: e.id,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    reason: e.reason,
                    outcome: e.outcome,
                })
                .collect(),
        })
    }

    async fn force_offline(
        &self,
        actor: &console::Actor,
        userid: &str,
        reason: &str,
    ) -> ActionResult {
        let actor = server_actor(actor)?;
        moderation(
            self.moderator
                .force_offline(&actor, userid, reason, false)
                .await,
        )
    }

    async fn ban(
        &self,
        actor: &console::Actor,
        userid: &str,
        reason: &str,
        until: Option<i64>,
    ) -> ActionResult {
        let actor = server_actor(actor)?;
        moderation(
            self.moderator
                .ban(&actor, userid, reason, until, false)
                .await,
        )
    }

    async fn unban(&self, actor: &console::Actor, userid: &str, reason: &str) -> ActionResult {
        let actor = server_actor(actor)?;
        moderation(self.moderator.unban(&actor, userid, reason, false).await)
    }

    async fn resolve_report(
        &self,
        actor: &console::Actor,
        id: i64,
        resolution: &str,
    ) -> ActionResult {
        let actor = server_actor(actor)?;
        moderation(self.moderator.resolve_report(&actor, id, resolution).await)
    }

    async fn delete_recording(
        &self,
        actor: &console::Actor,
        userid: &str,
        fileid: &str,
        reason: &str,
    ) -> ActionResult {
        let actor = server_actor(actor)?;
        moderation(
            self.moderator
                .delete_recording(&actor, userid, fileid, reason, false)
                .await,
        )
    }
}
