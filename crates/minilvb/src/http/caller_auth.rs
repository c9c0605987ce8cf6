//! Optional caller authentication: the app proves it acts for its `userid`
//! with the Tencent IM UserSig it already holds, sent in a request header
//! (`auth.header`, default `X-UserSig`) and verified with the IM
//! application's secret key. Off by default, so the stock apps keep working.

use std::collections::HashSet;

use axum::http::{HeaderMap, HeaderName};

use crate::config::{AuthSettings, Secret};
use minilvb_protocol::cloud::usersig;
use minilvb_protocol::{ErrorCode, ProtocolError, Request};

pub struct CallerAuth {
    sdkappid: u64,
    key: Secret,
    header: HeaderName,
    actions: HashSet<String>,
}

fn refused(why: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Unauthorized,
        format!("authentication failed! | {why}"),
    )
}

impl CallerAuth {
    /// The checker, when authentication is on.
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Option<Self>> {
        if !settings.enabled {
            return Ok(None);
        }
        Ok(Some(Self {
            sdkappid: settings.sdkappid,
            key: settings.secret_key.clone(),
            header: HeaderName::from_bytes(settings.header.as_bytes())?,
            actions: settings.actions.iter().cloned().collect(),
        }))
    }

    /// Whether the request may proceed: its Action needs no proof, or the
    /// header carries a valid, unexpired UserSig of this IM application
    /// issued to the userid the request acts for (for an Action that acts
    /// for no userid, such as GetCOSSign: issued to anyone).
    pub fn check(
        &self,
        request: &Request,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<(), ProtocolError> {
        if !self.actions.contains(request.action()) {
            return Ok(());
        }
        let Some(sig) = headers.get(&self.header).and_then(|v| v.to_str().ok()) else {
            return Err(refused(format_args!(
                "{} needs a usersig in the {} header",
                request.action(),
                self.header
            )));
        };
        let verified =
            usersig::verify(sig, self.sdkappid, self.key.expose(), now).map_err(refused)?;
        match request.caller() {
            Some(userid) if userid != verified.identifier => {
                Err(refused("usersig is of another user"))
            }
            _ => Ok(()),
        }
    }
}
